"""Tasks of a release's waves: a wave's syncs in parallel, its apps' state, the fleet view artifact."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from ferry.release.fleet import FleetView
from ferry.sync.engine import SyncEngine
from ferry.sync.model import Initiator
from ferry.sync.target import AppStatus, AppTarget
from tasks.release import ONCE, RETRYING, sync_env


def sync_wave(
    engine: SyncEngine,
    targets: Sequence[AppTarget],
    revisions: Sequence[str],
    who: Initiator,
    wait_timeout: float | None,
    parallel: int,
) -> list[object]:
    """Sync each app to its revision, ``parallel`` at a time (each its own once-per-run ``sync`` task).

    Bounded in this run by batches; across runs and workers a Prefect concurrency
    limit is what bounds a cluster (issue 17).
    """
    results: list[object] = []
    pairs = list(zip(targets, revisions, strict=True))
    for start in range(0, len(pairs), parallel):
        chunk = pairs[start : start + parallel]
        batch = [sync_env.submit(engine, target, rev, who, wait_timeout) for target, rev in chunk]
        # Every future is awaited before the first error is raised: no sync is left running unwatched.
        for future in batch:
            future.wait()
        results += [future.result() for future in batch]
    return results


@task(name="app-status", cache_policy=NO_CACHE, task_run_name="state of {target.name}", **RETRYING)
def app_status(engine: SyncEngine, target: AppTarget) -> AppStatus:
    """Sync and health of one app at its branch head, read live."""
    return engine.status(target)


def status_key(release: str) -> str:
    """The fleet view's artifact key: Prefect keys are lowercase letters, digits and dashes.

    >>> status_key("Echo_Server.v2")
    'release-status-echo-server-v2'
    """
    return "release-status-" + re.sub(r"[^a-z0-9-]+", "-", release.lower()).strip("-")


def publish_status(view: FleetView) -> None:
    """The ``release-status-<release>`` artifact, a new version each time the fleet changes.

    A run resumed after a gate passes over its earlier steps again and republishes the
    same view: keyed by the view's text, each version is made once per run.
    """
    markdown = view.markdown()
    released = sum(1 for r in view.rows if r.state == "released")
    _publish_view(
        release=view.release,
        markdown=markdown,
        description=f"{view.release}: {released} of {len(view.rows)} app(s) released",
        key=hashlib.sha256(markdown.encode()).hexdigest()[:16],
    )


@task(name="publish-status", task_run_name="fleet view of {release}", **ONCE)
def _publish_view(release: str, markdown: str, description: str, key: str) -> None:
    create_markdown_artifact(key=status_key(release), markdown=markdown, description=description)
