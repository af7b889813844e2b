"""Stage 1 of the pipeline: detect new images and write them back to the deploy repo."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.context import FlowRunContext
from prefect.events import emit_event
from prefect.events.worker import EventsWorker
from prefect.states import Completed, Failed, State
from prefect.utilities.annotations import quote

from blocks.ports import PORTS
from ferry.argocd.application import load_config_applications
from ferry.config import FerryConfig, load_config
from ferry.errors import FerryError
from ferry.release.pipeline import environment_of
from ferry.update.batch import plan_in_batches
from ferry.update.outcomes import AppOutcome, CycleReport, UpdateStatus
from flows.logging import forward_ferry_logs
from flows.runs import config_path, rename_run
from tasks.image_update import detect_batch, detect_updates, write_back

IMAGE_UPDATED_EVENT = "ferry.image.updated"


def application_resource(app: str, labels: dict[str, str] | None = None) -> dict[str, str]:
    """The Prefect event resource that stands for one Argo CD Application.

    Its labels say where the app runs (``ferry.cluster``) and which release environment it is
    (``ferry.release``, ``ferry.release.environment``), so that a trigger can pick the events it
    is for: ``sync-dev`` those of apps on ``dev``, ``release`` those of a release's Dev app.
    """
    return {"prefect.resource.id": f"ferry.application.{app}", "prefect.resource.name": app, **(labels or {})}


def resource_labels(cfg: FerryConfig) -> dict[str, dict[str, str]]:
    """The event labels of every Application of ``cfg`` (an app whose cluster is unknown gets none for it)."""
    apps, _ = load_config_applications(cfg)
    clusters = PORTS.clusters(cfg)
    labels: dict[str, dict[str, str]] = {}
    for app in apps:
        found: dict[str, str] = {"ferry.automated": str(app.is_automated).lower()}
        try:
            found["ferry.cluster"] = clusters.cluster_for(app).name
        except FerryError:
            pass
        membership = environment_of(cfg, app)
        if membership is not None:
            found["ferry.release"], found["ferry.release.environment"] = membership
        labels[app.name] = found
    return labels


def emit_image_updated(
    outcome: AppOutcome, labels: dict[str, str] | None = None, update_run: str | None = None
) -> None:
    """Announce one committed update; ``sync-dev`` and ``release`` trigger on it."""
    emit_event(
        event=IMAGE_UPDATED_EVENT,
        resource=application_resource(outcome.app, labels),
        payload={
            "application": outcome.app,
            "repo": outcome.repo,
            "branch": outcome.branch,
            "commit": outcome.commit,
            "target": outcome.target,
            "update_run": update_run,
            "images": [c.as_dict() for c in outcome.changes],
        },
    )


def announce_pushed(
    outcomes: list[AppOutcome], labels: dict[str, dict[str, str]], update_run: str | None
) -> list[AppOutcome]:
    """Emit ``ferry.image.updated`` for each commit a write-back just pushed, and flush it.

    Called right after each repository's push, not at the end of the run: a run that
    dies later (another repository's push hanging, the worker killed) must not leave a
    pushed commit unannounced, because a re-run finds that repository up to date and
    would never announce it.
    """
    pushed = [o for o in outcomes if o.status is UpdateStatus.UPDATED]
    for outcome in pushed:
        emit_image_updated(outcome, labels.get(outcome.app), update_run)
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


@flow(
    name="image-update",
    flow_run_name="image-update",
    description="Detect new image tags in the registries and write them back to Git.",
)
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
    cfg = load_config(config_path(config))
    run = FlowRunContext.get()
    run_id = str(run.flow_run.id) if run is not None and run.flow_run is not None else None
    labels: dict[str, dict[str, str]] = {}

    def announce(outcomes: list[AppOutcome]) -> list[AppOutcome]:
        # The labels are read once, and only when something was pushed.
        if not labels and any(o.status is UpdateStatus.UPDATED for o in outcomes):
            labels.update(resource_labels(cfg))
        return announce_pushed(outcomes, labels, run_id)

    with PORTS.updater(cfg) as updater, PORTS.held_tags(cfg) as holds:
        # A batch is quoted so Prefect does not walk its hundreds of Applications looking for
        # futures to resolve (there are none); that walk cost about half the batch task.
        report = updater.run_cycle(
            apps or None,
            dry_run=dry_run,
            plan_all=lambda apps: plan_in_batches(
                apps,
                run_batch=lambda batch: detect_batch(updater, quote(batch), holds),
                retry_one=lambda app: detect_updates(updater, app, holds),
            ),
            write_step=lambda group: announce(write_back(updater, group, dry_run)),
        )
    create_table_artifact(
        key="image-updates",
        table=changes_table(report),
        description=f"Image updates: {report.images_updated} image(s), {report.errors} error(s)",
    )
    for outcome in report.outcomes:
        for warning in outcome.warnings:
            get_run_logger().warning("%s: %s", outcome.app, warning)
    updated = [o for o in report.outcomes if o.status is UpdateStatus.UPDATED]
    rename_run(
        f"image-update {len(updated)} app{'s' if len(updated) != 1 else ''}"
        if updated
        else "image-update: nothing new"
    )
    result = [o.as_dict() for o in report.outcomes]
    if report.errors:
        failed = ", ".join(o.app for o in report.outcomes if o.status is UpdateStatus.ERROR)
        return Failed(message=f"{report.errors} application(s) failed: {failed}", data=result)
    return Completed(message=f"{report.images_updated} image(s) updated", data=result)
