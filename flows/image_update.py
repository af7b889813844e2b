"""Stage 1 of the pipeline: detect new images and write them back to the deploy repo."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.context import FlowRunContext
from prefect.events import emit_event
from prefect.events.worker import EventsWorker
from prefect.settings import get_current_settings
from prefect.states import Completed, Failed, State
from prefect.utilities.annotations import quote

from blocks.ports import PORTS
from ferry.argocd.application import load_config_applications
from ferry.config import FerryConfig, load_config
from ferry.errors import FerryError
from ferry.release.pipeline import environment_of
from ferry.update.batch import plan_in_batches, repo_shards
from ferry.update.outcomes import AppOutcome, CycleReport, UpdateStatus
from flows.logging import forward_ferry_logs
from flows.runs import config_path, rename_run
from flows.spread import spread_cycle
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


def _spread(config: str, cfg: FerryConfig, apps: list[str] | None, dry_run: bool) -> State[Any] | None:
    """The cycle as child runs, one per repository; None when it is not worth spreading (or cannot be)."""
    logger = get_run_logger()
    run = FlowRunContext.get()
    flow_run = run.flow_run if run is not None else None
    if flow_run is None or flow_run.deployment_id is None:
        logger.warning("spread needs a deployment (its children are runs of it): planning in this run")
        return None
    loaded, _ = load_config_applications(cfg)
    shards = repo_shards(loaded, apps)
    if len(shards) < 2:
        return None  # one repository: a child would only add a run's start-up
    ui_url = get_current_settings().ui_url
    rows, failed = spread_cycle(flow_run.deployment_id, flow_run.id, shards, config, dry_run, ui_url)
    updated = sum(1 for r in rows if r.get("status") == UpdateStatus.UPDATED.value)
    errors = sorted({str(r["app"]) for r in rows if r.get("status") == UpdateStatus.ERROR.value})
    create_table_artifact(
        key="image-updates",
        table=rows,
        description=f"Image updates over {len(shards)} runs: {updated} image(s), {len(errors)} app error(s)",
    )
    rename_run(f"image-update over {len(shards)} runs: {updated} image{'s' if updated != 1 else ''}")
    if failed or errors:
        message = "; ".join(
            ([f"runs not completed: {', '.join(failed)}"] if failed else [])
            + ([f"{len(errors)} application(s) failed: {', '.join(errors)}"] if errors else [])
        )
        return Failed(message=message, data=rows)
    return Completed(message=f"{updated} image(s) updated over {len(shards)} runs", data=rows)


@flow(
    name="image-update",
    flow_run_name="image-update",
    description="Detect new image tags in the registries and write them back to Git.",
)
def image_update(
    config: str = "ferry.yaml", apps: list[str] | None = None, dry_run: bool = False, spread: bool = False
) -> State[Any]:
    """Run one Image Updater cycle over the Applications of ``config``.

    Args:
        config: Path to ``ferry.yaml``.
        apps: Only these applications (all when empty).
        dry_run: Detect and report, but commit nothing.
        spread: Run the cycle as one child run per deploy repository, which the pool's
            workers share (``flows.spread``); a run outside a deployment, or over one
            repository, does the cycle itself.

    Returns:
        A Completed state whose result is one dict per application, or a Failed
        state with the same result when any application failed.
    """
    forward_ferry_logs()
    cfg = load_config(config_path(config))
    run = FlowRunContext.get()
    run_id = str(run.flow_run.id) if run is not None and run.flow_run is not None else None
    if spread:
        spread_state = _spread(config, cfg, apps, dry_run)
        if spread_state is not None:
            return spread_state
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
