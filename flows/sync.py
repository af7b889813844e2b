"""Stage 2 of the pipeline: sync Applications to their clusters, by hand (``sync``) or automatically."""

from __future__ import annotations

import getpass
import re
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.context import get_run_context
from prefect.states import Completed, Failed, State

from blocks.ports import PORTS
from ferry.config import load_config
from ferry.errors import FerryError
from ferry.sync.engine import SyncEngine
from ferry.sync.model import AppDiff, Initiator, SyncResult
from flows.logging import forward_ferry_logs
from flows.runs import auto_sync_run_name, config_path, rename_run, short, sync_run_name
from tasks.sync import auto_sync_app, sync_app

#: Diffs longer than this are cut in the artifact (the Prefect UI renders every line).
_ARTIFACT_DIFF_LIMIT = 60_000


def open_engine(config: str) -> SyncEngine:
    """A sync engine wired through :data:`blocks.ports.PORTS` (credentials and clusters may be blocks)."""
    return PORTS.engine(load_config(config_path(config)))


def initiator() -> Initiator:
    """Who runs this flow: the Prefect user when the server knows one, else the OS user; and the run id."""
    context = get_run_context()
    flow_run = getattr(context, "flow_run", None)
    created_by = getattr(flow_run, "created_by", None)
    user = getattr(created_by, "display_value", None) or getpass.getuser()
    return Initiator(user=str(user), run_id=str(flow_run.id) if flow_run is not None else None)


def artifact_key(app: str) -> str:
    """Artifact keys allow lowercase letters, digits and dashes only.

    >>> artifact_key("app-helm.dev")
    'sync-diff-app-helm-dev'
    """
    return "sync-diff-" + re.sub(r"[^a-z0-9-]+", "-", app.lower())


def diff_markdown(diff: AppDiff) -> str:
    """The diff as the markdown artifact operators read before approving a sync."""
    lines = [
        f"# Diff of `{diff.app}` at `{diff.revision[:12]}`",
        "",
        f"**Sync status:** {diff.status.value} ({len(diff.out_of_sync)} of {len(diff.resources)} "
        f"resource(s) out of sync)",
        "",
    ]
    for resource in diff.out_of_sync:
        rejected = f" — **rejected:** {resource.error}" if resource.error else ""
        lines.append(f"- `{resource.key}`: {resource.action}{rejected}")
    text = diff.unified()
    if text:
        if len(text) > _ARTIFACT_DIFF_LIMIT:
            text = text[:_ARTIFACT_DIFF_LIMIT] + "\n… (cut; run `ferry diff` for the rest)\n"
        lines += ["", "```diff", text.rstrip("\n"), "```"]
    return "\n".join(lines) + "\n"


def publish_diff(diff: AppDiff) -> None:
    """Publish ``diff`` as the run's markdown artifact."""
    create_markdown_artifact(
        markdown=diff_markdown(diff),
        key=artifact_key(diff.app),
        description=f"Diff of {diff.app}: {diff.status.value}",
    )


@flow(
    name="sync",
    flow_run_name=sync_run_name,
    description="Sync one Application to its cluster (argocd app sync).",
)
def sync(
    app: str,
    revision: str | None = None,
    prune: bool = False,
    dry_run: bool = False,
    config: str = "ferry.yaml",
    wait_timeout: float = 120.0,
) -> dict[str, Any]:
    """Render ``app`` at ``revision``, publish the diff, dry-run, apply, and record history.

    Args:
        app: Application name.
        revision: Branch, tag or SHA (default: the Application's ``targetRevision``).
        prune: Delete resources Git no longer renders.
        dry_run: Publish the diff and run the server-side dry run, change nothing.
        config: Path to ``ferry.yaml``.
        wait_timeout: Seconds to wait for the app to become Healthy (0: do not wait).

    Returns:
        The sync result as a dict (resources, health, history id).
    """
    forward_ferry_logs()
    with open_engine(config) as engine:
        result: SyncResult = sync_app(
            engine,
            app,
            revision=revision,
            prune=prune,
            dry_run=dry_run,
            initiator=initiator(),
            wait_timeout=wait_timeout or None,
            on_diff=publish_diff,
        )
    return result.as_dict()


@flow(
    name="auto-sync",
    flow_run_name=auto_sync_run_name,
    description="Sync every Application with syncPolicy.automated that is OutOfSync.",
)
def auto_sync(
    config: str = "ferry.yaml",
    apps: list[str] | None = None,
    cluster: str | None = None,
    wait_timeout: float = 120.0,
) -> State[Any]:
    """Automated sync, as Argo CD's controller does it: each OutOfSync revision once (unless selfHeal).

    Args:
        config: Path to ``ferry.yaml``.
        apps: Only these Applications (all when empty).
        cluster: Only Applications whose destination is this ``clusters:`` entry.
        wait_timeout: Seconds to wait for each synced app to become Healthy.

    Returns:
        Completed with one row per app, or Failed (same rows) when any sync failed.
    """
    forward_ferry_logs()
    logger = get_run_logger()
    rows: list[dict[str, Any]] = []
    who = initiator()
    with open_engine(config) as engine:
        for application in engine.applications(apps or None):
            if not application.is_automated:
                continue
            try:
                target = engine.target(application)
                if cluster is not None and target.entry.name != cluster:
                    continue
                result, reason = auto_sync_app(
                    engine, target, initiator=who, wait_timeout=wait_timeout or None
                )
            except FerryError as exc:
                logger.error("auto-sync of %s failed: %s", application.name, exc)
                rows.append({"app": application.name, "synced": False, "reason": "", "error": str(exc)})
                continue
            if result is not None:
                publish_diff(result.diff)
            rows.append(
                {
                    "app": application.name,
                    "synced": result is not None,
                    "reason": reason,
                    "revision": result.revision if result else None,
                    "health": result.health.status.value if result and result.health else None,
                    "error": "",
                }
            )
    synced_rows = [row for row in rows if row["synced"]]
    prefix = f"sync-{cluster}" if cluster else "auto-sync"
    if synced_rows:
        rename_run(f"{prefix} " + ", ".join(f"{r['app']}@{short(r['revision'])}" for r in synced_rows))
    else:
        rename_run(f"{prefix}: nothing OutOfSync")
    failed = [row["app"] for row in rows if row["error"]]
    if failed:
        return Failed(message=f"auto-sync failed for {', '.join(failed)}", data=rows)
    synced = sum(1 for row in rows if row["synced"])
    return Completed(message=f"{synced} application(s) synced", data=rows)
