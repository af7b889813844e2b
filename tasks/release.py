"""Tasks of the release and rollback flows: one engine or provider call each, transient errors retried.

Tasks that change a cluster are cached per flow run (``persist_result``): a run
suspended at a gate is re-executed from the top when it is resumed, and must
pass over the syncs it already made instead of making them again.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext

from blocks.results import private_results
from ferry.credentials import CredentialResolver
from ferry.release import pipeline, validation
from ferry.release.canary import CanaryProvider
from ferry.release.gates import CanaryStep, CheckResult, WriteBack
from ferry.release.holds import get_hold, release_hold
from ferry.release.rollback import RollbackResult, git_revert_rollback, quick_rollback
from ferry.schema.releases import ValidationCheck
from ferry.sync.engine import SyncEngine
from ferry.sync.model import AppDiff, Initiator, SyncResult
from ferry.sync.target import AppRef, AppStatus
from tasks.locks import one_sync_of
from tasks.retry import RETRYING


def once_per_run(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """Cache key: the flow run, the task and the app/revision/step/gate it acts on (never the engine).

    ``since`` is the step a Rollout's analysis is read from: one key per gate.

    An app passed as its :class:`~ferry.sync.target.AppTarget` formats as its name, so the key
    is the same whichever the flow passed.
    """
    parts = [str(context.task_run.flow_run_id), context.task.name]
    parts += [str(parameters.get(k)) for k in ("app", "revision", "step", "since", "key") if k in parameters]
    return "-".join(parts)


#: Run once per flow run; a run re-executed after a suspension gets the first result back.
ONCE = {"cache_key_fn": once_per_run, "persist_result": True}


@task(name="wait-dev-ready", task_run_name="wait for {app}", **ONCE, **RETRYING)
def wait_dev_ready(engine: SyncEngine, app: AppRef, timeout: float) -> AppStatus:
    """Wait until Dev is Synced and Healthy (once: later gates are about that state, not a newer one)."""
    return pipeline.wait_dev_ready(engine, app, timeout)


@task(name="validate", task_run_name="validate {app}", **ONCE)
def validate(engine: SyncEngine, app: AppRef, checks: tuple[ValidationCheck, ...]) -> list[CheckResult]:
    """Run the release's validation checks against Dev, once (failures are reported, not raised)."""
    if not checks:
        return []
    target = engine.target(app)
    return validation.run_checks(checks, cluster=engine.connect(target), namespace=target.namespace)


@task(name="pin-commit", task_run_name="pin the commit of {app}", **ONCE, **RETRYING)
def pin_commit(engine: SyncEngine, app: AppRef, revision: str | None) -> WriteBack:
    """The commit a gate asks about: ``revision``, or the branch head when the gate first opens.

    Cached, so a run re-executed after its gate was answered keeps the commit that was shown
    instead of whatever the branch points at by then.
    """
    commit = engine.commit(app, revision)
    return WriteBack(commit.sha, commit.message)


@task(name="head-of", cache_policy=NO_CACHE, task_run_name="head of {app}", **RETRYING)
def head_of(engine: SyncEngine, app: AppRef) -> str:
    """The branch head of ``app`` now."""
    return engine.commit(app).sha


@task(name="diff-env", cache_policy=NO_CACHE, task_run_name="diff {app} at {revision}", **RETRYING)
def diff_env(engine: SyncEngine, app: AppRef, revision: str) -> AppDiff:
    """What syncing ``app`` to ``revision`` would change."""
    return engine.diff(app, revision)


@private_results
@task(name="sync-env", task_run_name="sync {app} to {revision}", **ONCE, **RETRYING)
def sync_env(
    engine: SyncEngine, app: AppRef, revision: str, initiator: Initiator, wait_timeout: float | None
) -> SyncResult:
    """Sync ``app`` to exactly the ``revision`` the gate showed; once per run.

    The persisted result is slim: no desired or live object (a Secret's data) is stored.
    """
    with one_sync_of(engine, app):
        return engine.sync(app, revision=revision, initiator=initiator, wait_timeout=wait_timeout).slim()


@task(
    name="canary-wait", cache_policy=NO_CACHE, task_run_name="canary of {app}: wait for a pause", **RETRYING
)
def canary_wait(provider: CanaryProvider, app: str, timeout: float) -> CanaryStep | None:
    """Wait for the next paused step (None: the rollout is complete)."""
    return provider.next_pause(timeout)


@private_results
@task(name="canary-approve", **ONCE, **RETRYING)
def canary_approve(provider: CanaryProvider, app: str, step: CanaryStep) -> None:
    """Approve one step; once per run and step."""
    provider.approve(step)


@task(name="canary-reject", cache_policy=NO_CACHE, **RETRYING)
def canary_reject(provider: CanaryProvider, app: str) -> None:
    """Abort the rollout (Argo), delete the canary (native)."""
    provider.reject()


@task(name="canary-finish", cache_policy=NO_CACHE, **RETRYING)
def canary_finish(provider: CanaryProvider, app: str) -> None:
    """Clean up after the last step."""
    provider.finish()


@task(name="release-hold", cache_policy=NO_CACHE, task_run_name="release hold of {app}", **RETRYING)
def release_app_hold(engine: SyncEngine, app: AppRef) -> bool:
    """Lift the hold of an app a new approved release was synced to (True when there was one)."""
    return get_hold(engine, app) is not None and release_hold(engine, app)


@private_results
@task(name="quick-rollback", **ONCE, **RETRYING)
def quick_rollback_task(
    engine: SyncEngine, app: AppRef, history_id: int | None, initiator: Initiator, wait_timeout: float | None
) -> RollbackResult:
    """Sync a history entry's revision and hold the app."""
    with one_sync_of(engine, app):
        return quick_rollback(engine, app, history_id, initiator=initiator, wait_timeout=wait_timeout)


@private_results
@task(name="git-revert-rollback", **ONCE, **RETRYING)
def git_revert_task(
    engine: SyncEngine,
    app: AppRef,
    history_id: int | None,
    initiator: Initiator,
    credentials: CredentialResolver,
) -> RollbackResult:
    """Revert the write-back commits since a history entry (cloned with ``credentials``) and hold the tags."""
    with one_sync_of(engine, app):
        return git_revert_rollback(engine, app, history_id, initiator=initiator, credentials=credentials)
