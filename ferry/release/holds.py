"""Holds through the sync engine: place, read, release and list them, and auto-sync unless held.

A hold keeps auto-sync and the image updater from undoing a rollback; what a
hold is and where it is stored is :mod:`ferry.release.hold_store`. The image
updater is handed each app's held tags by its caller (``Updater.plan(app, held=...)``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ferry.errors import ClusterError, ConfigError
from ferry.release.hold_store import HOLD_LABEL, HeldTags, Hold, HoldStore, hold_name
from ferry.sync.engine import SyncEngine
from ferry.sync.model import Initiator, SyncResult
from ferry.update.detect import split_ref, without_held

__all__ = [
    "HOLD_LABEL",
    "HeldTags",
    "Hold",
    "HoldStore",
    "auto_sync_unless_held",
    "get_hold",
    "hold_name",
    "list_holds",
    "place_hold",
    "release_hold",
    "rolled_away_tags",
    "split_ref",
    "without_held",
]

logger = logging.getLogger(__name__)


def _store(engine: SyncEngine, app: str) -> tuple[HoldStore, str]:
    _, cluster, namespace = engine.destination(engine.application(app))
    return HoldStore(cluster), namespace


def get_hold(engine: SyncEngine, app: str) -> Hold | None:
    """The hold on ``app``, if any."""
    store, namespace = _store(engine, app)
    return store.get(app, namespace)


def place_hold(engine: SyncEngine, hold: Hold) -> Hold:
    """Place a hold on ``hold.app`` in its destination."""
    store, namespace = _store(engine, hold.app)
    return store.put(hold, namespace)


def release_hold(engine: SyncEngine, app: str) -> bool:
    """``ferry hold release APP``."""
    store, namespace = _store(engine, app)
    return store.release(app, namespace)


def list_holds(engine: SyncEngine) -> list[Hold]:
    """Every hold on the config's apps (apps whose cluster is unreachable are logged and left out)."""
    holds = []
    for app in engine.applications():
        try:
            hold = get_hold(engine, app.name)
        except (ConfigError, ClusterError) as exc:
            logger.warning("%s: cannot read its hold: %s", app.name, exc)
            continue
        if hold is not None:
            holds.append(hold)
    return holds


def auto_sync_unless_held(
    engine: SyncEngine, app: str, *, initiator: Initiator | None = None, wait_timeout: float | None = None
) -> tuple[SyncResult | None, str]:
    """:meth:`SyncEngine.auto_sync`, except for an app on hold (the hook auto-sync calls)."""
    hold = get_hold(engine, app)
    if hold is not None and hold.sync:
        reason = f"skipping: on hold since {hold.created_at} by {hold.created_by} ({hold.reason})"
        logger.info("%s: auto-sync: %s", app, reason)
        return None, reason
    return engine.auto_sync(app, initiator=initiator, wait_timeout=wait_timeout)


def rolled_away_tags(current: Sequence[str], target: Sequence[str]) -> tuple[str, ...]:
    """Images running now that the rollback target does not run: the tags to hold.

    >>> rolled_away_tags(["r/a:v2", "r/b:v1"], ["r/a:v1", "r/b:v1"])
    ('r/a:v2',)
    """
    keep = set(target)
    return tuple(i for i in current if i not in keep)
