"""One image-update cycle spread over the pool's workers: a child run per deploy repository.

One flow run runs on one worker. A cycle over 1,000 Applications in three deploy
repositories would leave every other worker idle, so with ``spread`` the run that a
schedule or trigger starts plans nothing itself: it starts one run of its own
deployment per source repository (``ferry.update.batch.repo_shards``), each with that
repository's apps, and any worker of the pool picks each up. One repository per child
means no two children push to one repository, and each reads its tree once.

What the children share is on the Prefect server: each registry's ``limit:`` is one
rate limit all of them take from (``blocks.pacing``). The parent waits for them, then
publishes one table of every app's result, gathered from the children's own
``image-updates`` artifacts, with a link to the run that did each.

A child's idempotency key is the parent's run id and the repository, so a parent run
that is executed again (a crashed worker, a retry) finds its children instead of
starting a second set.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment

from ferry.vcs.credentials import scrub

#: The children's own table, which the parent gathers.
CHILD_TABLE = "image-updates"
#: How often the parent looks at its children; a cycle takes seconds to minutes.
POLL_SECONDS = 1.0
#: A child not final by then is reported as not completed (no worker took it, or it hangs); the
#: parent ends, so the next scheduled cycle is not queued behind it for ever.
CHILD_TIMEOUT = 3600.0


@dataclass(frozen=True, slots=True)
class Child:
    """One repository's run: which repository, its apps, and the run's id."""

    repo: str
    apps: tuple[str, ...]
    run_id: UUID


def start_children(
    deployment_id: UUID, parent_id: UUID, shards: list[tuple[str, list[str]]], config: str, dry_run: bool
) -> list[Child]:
    """Start one run of the deployment per repository, returned at once (they run on any worker)."""
    children = []
    for repo, apps in shards:
        run = run_deployment(
            deployment_id,
            parameters={"config": config, "apps": apps, "dry_run": dry_run, "spread": False},
            flow_run_name=f"image-update {len(apps)} apps of {scrub(repo)}",
            timeout=0,  # return once created: the parent waits for all of them together
            idempotency_key=f"{parent_id}:{repo}",
            as_subflow=True,
        )
        children.append(Child(repo, tuple(apps), run.id))
    return children


def wait_for(children: list[Child], timeout: float = CHILD_TIMEOUT) -> dict[UUID, FlowRun]:
    """Every child's run once all are final, or as they are after ``timeout`` seconds."""
    pending = {c.run_id for c in children}
    runs: dict[UUID, FlowRun] = {}
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while pending:
            for run_id in sorted(pending):
                runs[run_id] = client.read_flow_run(run_id)
                state = runs[run_id].state
                if state is not None and state.is_final():
                    pending.discard(run_id)
            if not pending or time.monotonic() >= deadline:
                break
            time.sleep(POLL_SECONDS)
    return runs


def gathered_rows(
    children: list[Child], runs: dict[UUID, FlowRun], ui_url: str | None
) -> list[dict[str, Any]]:
    """Every child's table rows with the child's run beside each; a child with no table says why."""
    rows: list[dict[str, Any]] = []
    seen_errors: set[tuple[str, str]] = set()
    with get_client(sync_client=True) as client:
        for child in children:
            run = runs[child.run_id]
            link = f"{ui_url}/runs/flow-run/{run.id}" if ui_url else str(run.id)
            only = ArtifactFilter(
                key=ArtifactFilterKey(any_=[CHILD_TABLE]), flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])
            )
            found = client.read_artifacts(artifact_filter=only, limit=1)
            if not found:
                # The child died before its table (a killed worker): its apps were not looked at.
                state = run.state.name if run.state else "?"
                message = (run.state.message if run.state else "") or ""
                why = f"run {state}: {message}" if message else f"run {state}"
                rows.extend({"app": app, "status": "error", "error": why, "run": link} for app in child.apps)
                continue
            data = found[0].data
            for row in json.loads(data) if isinstance(data, str) else data or []:
                if row.get("status") == "error":
                    # A file no Application could be read from is reported by every child that loads it.
                    key = (str(row.get("app")), str(row.get("error")))
                    if key in seen_errors:
                        continue
                    seen_errors.add(key)
                rows.append({**row, "run": link})
    return rows


def spread_cycle(
    deployment_id: UUID,
    parent_id: UUID,
    shards: list[tuple[str, list[str]]],
    config: str,
    dry_run: bool,
    ui_url: str | None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Run the cycle as one child per repository; (every app's row, the children that did not complete)."""
    logger = get_run_logger()
    children = start_children(deployment_id, parent_id, shards, config, dry_run)
    logger.info(
        "spread over %d run(s): %s",
        len(children),
        ", ".join(f"{scrub(c.repo)} ({len(c.apps)} apps)" for c in children),
    )
    runs = wait_for(children)
    failed = [
        f"{runs[c.run_id].name} {runs[c.run_id].state.name if runs[c.run_id].state else '?'}"
        for c in children
        if not (runs[c.run_id].state and runs[c.run_id].state.is_completed())
    ]
    return gathered_rows(children, runs, ui_url), failed
