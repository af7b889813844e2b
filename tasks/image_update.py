"""Tasks of the image update stage.

Detection runs one task per batch (the applications of one repository revision, see
:mod:`ferry.update.batch`), because a task per application cost more in Prefect's
engine than the planning itself. The per-application task is kept for the members of
a batch whose error was transient: it alone retries, so retries stay transient-only
and never repeat an application that was planned.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from ferry.argocd.application import Application
from ferry.release.hold_store import HeldTags
from ferry.update.batch import Batch
from ferry.update.cycle import Updater
from ferry.update.outcomes import AppOutcome, AppPlan, PlanResult, WriteGroup, attempt_each
from tasks.retry import RETRYING


@task(name="detect-image-updates-batch", cache_policy=NO_CACHE, task_run_name="detect {batch.label}")
def detect_batch(updater: Updater, batch: Batch, holds: HeldTags) -> list[PlanResult]:
    """Plan every application of ``batch``; each result is a plan, None (no image-list) or that app's error.

    Not retried as a whole: a member's transient error is retried by :func:`detect_updates`.
    """
    return attempt_each(lambda app: updater.plan(app, holds.for_app(app)), batch.apps)


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
