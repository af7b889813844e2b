"""Tasks of the image update stage."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from ferry.argocd.application import Application
from ferry.release.hold_store import HeldTags
from ferry.update.cycle import AppOutcome, AppPlan, Updater, WriteGroup
from tasks.retry import RETRYING


@task(
    name="detect-image-updates",
    **RETRYING,
    cache_policy=NO_CACHE,
    task_run_name="detect {app.metadata.name}",
)
def detect_updates(updater: Updater, app: Application, holds: HeldTags) -> AppPlan | None:
    """Ask the registry and the deploy repo what ``app`` needs, held tags left out; None without image-list.

    The hold is read inside the task, so a cluster that does not answer is retried like a registry.
    """
    return updater.plan(app, holds.for_app(app))


@task(
    name="write-back",
    **RETRYING,
    cache_policy=NO_CACHE,
    task_run_name="write back to {group.repo_url}",
)
def write_back(updater: Updater, group: WriteGroup, dry_run: bool = False) -> list[AppOutcome]:
    """Commit every plan of one repository and branch, and push once."""
    return updater.write_group(group, dry_run=dry_run)
