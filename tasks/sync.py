"""Tasks of the sync stage: each opens nothing itself, makes one engine call, and retries transient errors."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext

from prefect import task
from prefect.cache_policies import NO_CACHE

from ferry.release.holds import auto_sync_unless_held
from ferry.sync.engine import SyncEngine
from ferry.sync.model import AppDiff, Initiator, SyncResult
from ferry.sync.target import AppRef
from tasks.locks import one_sync_of
from tasks.retry import RETRYING


@task(
    name="diff-app",
    **RETRYING,
    cache_policy=NO_CACHE,
    task_run_name="diff {app}",
)
def diff_app(engine: SyncEngine, app: AppRef, revision: str | None = None) -> AppDiff:
    """Render ``app`` and compare it with its cluster.

    Example:
        >>> @flow  # doctest: +SKIP
        ... def show(app: str) -> str:
        ...     with SyncEngine(load_config(Path("ferry.yaml"))) as engine:
        ...         return diff_app(engine, app).unified()  # doctest: +SKIP
    """
    return engine.diff(app, revision)


@task(
    name="sync-app",
    **RETRYING,
    cache_policy=NO_CACHE,
    task_run_name="sync {app}",
)
def sync_app(
    engine: SyncEngine,
    app: AppRef,
    revision: str | None = None,
    prune: bool = False,
    dry_run: bool = False,
    initiator: Initiator | None = None,
    wait_timeout: float | None = None,
    on_diff: Callable[[AppDiff], None] | None = None,
) -> SyncResult:
    """Sync one app; the API server going away is retried, a refused resource is not."""
    with nullcontext() if dry_run else one_sync_of(engine, app):
        return engine.sync(
            app,
            revision=revision,
            prune=prune,
            dry_run=dry_run,
            initiator=initiator,
            wait_timeout=wait_timeout,
            on_diff=on_diff,
        )


@task(
    name="auto-sync-app",
    **RETRYING,
    cache_policy=NO_CACHE,
    task_run_name="auto-sync {app}",
)
def auto_sync_app(
    engine: SyncEngine, app: AppRef, initiator: Initiator | None = None, wait_timeout: float | None = None
) -> tuple[SyncResult | None, str]:
    """Sync ``app`` when automated sync should; return the result (None when skipped) and the reason."""
    with one_sync_of(engine, app):
        return auto_sync_unless_held(engine, app, initiator=initiator, wait_timeout=wait_timeout)
