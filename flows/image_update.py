"""Stage 1 of the pipeline: detect new images and write them back to the deploy repo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.events import emit_event
from prefect.events.worker import EventsWorker
from prefect.states import Completed, Failed, State

from blocks.loader import load_block_secret
from ferry.config import load_config
from ferry.credentials import CredentialResolver
from ferry.release.holds import HoldAwareUpdater
from ferry.update.cycle import AppOutcome, CycleReport, UpdateStatus
from flows.logging import forward_ferry_logs
from tasks.image_update import detect_updates, write_back

IMAGE_UPDATED_EVENT = "ferry.image.updated"


def application_resource(app: str) -> dict[str, str]:
    """The Prefect event resource that stands for one Argo CD Application."""
    return {"prefect.resource.id": f"ferry.application.{app}", "prefect.resource.name": app}


def emit_image_updated(outcome: AppOutcome) -> None:
    """Announce one committed update; ``sync-dev`` and ``release`` trigger on it."""
    emit_event(
        event=IMAGE_UPDATED_EVENT,
        resource=application_resource(outcome.app),
        payload={
            "application": outcome.app,
            "repo": outcome.repo,
            "branch": outcome.branch,
            "commit": outcome.commit,
            "target": outcome.target,
            "images": [
                {
                    "alias": c.alias,
                    "image": c.image,
                    "old_tag": c.old_tag,
                    "new_tag": c.new_tag,
                    "renders_unchanged": c.renders_unchanged,
                }
                for c in outcome.changes
            ],
        },
    )


def announce_pushed(outcomes: list[AppOutcome]) -> list[AppOutcome]:
    """Emit ``ferry.image.updated`` for each commit a write-back just pushed, and flush it.

    Called right after each repository's push, not at the end of the run: a run that
    dies later (another repository's push hanging, the worker killed) must not leave a
    pushed commit unannounced, because a re-run finds that repository up to date and
    would never announce it.
    """
    pushed = [o for o in outcomes if o.status is UpdateStatus.UPDATED]
    for outcome in pushed:
        emit_image_updated(outcome)
    if pushed:
        EventsWorker.instance().wait_until_empty()
    return outcomes


def changes_table(report: CycleReport) -> list[dict[str, Any]]:
    rows = []
    for o in report.outcomes:
        for c in o.changes or [None]:
            rows.append(
                {
                    "app": o.app,
                    "status": o.status.value,
                    "image": c.image if c else "",
                    "old": (c.old_tag or "") if c else "",
                    "new": c.new_tag if c else "",
                    "commit": o.commit or "",
                    "error": o.error or "",
                    "warning": "changes nothing that renders" if c and c.renders_unchanged else "",
                }
            )
    return rows


@flow(name="image-update", description="Detect new image tags in the registries and write them back to Git.")
def image_update(
    config: str = "ferry.yaml", apps: list[str] | None = None, dry_run: bool = False
) -> State[Any]:
    """Run one Image Updater cycle over the Applications of ``config``.

    Args:
        config: Path to ``ferry.yaml``.
        apps: Only these applications (all when empty).
        dry_run: Detect and report, but commit nothing.

    Returns:
        A Completed state whose result is one dict per application, or a Failed
        state with the same result when any application failed.
    """
    forward_ferry_logs()
    cfg = load_config(Path(config))
    resolver = CredentialResolver(base_dir=Path(cfg.base_dir), block_loader=load_block_secret)
    with HoldAwareUpdater(cfg, resolver=resolver) as updater:
        report = updater.run_cycle(
            apps or None,
            dry_run=dry_run,
            plan_step=lambda app: detect_updates(updater, app),
            write_step=lambda group: announce_pushed(write_back(updater, group, dry_run)),
        )
    create_table_artifact(
        key="image-updates",
        table=changes_table(report),
        description=f"Image updates: {report.images_updated} image(s), {report.errors} error(s)",
    )
    for outcome in report.outcomes:
        for warning in outcome.warnings:
            get_run_logger().warning("%s: %s", outcome.app, warning)
    result = [o.as_dict() for o in report.outcomes]
    if report.errors:
        failed = ", ".join(o.app for o in report.outcomes if o.status is UpdateStatus.ERROR)
        return Failed(message=f"{report.errors} application(s) failed: {failed}", data=result)
    return Completed(message=f"{report.images_updated} image(s) updated", data=result)
