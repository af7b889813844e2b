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
from ferry.sync.target import AppRef, AppTarget
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


def _store(engine: SyncEngine, app: AppRef) -> tuple[HoldStore, AppTarget]:
    target = engine.target(app)
    return HoldStore(engine.connect(target)), target


def get_hold(engine: SyncEngine, app: AppRef) -> Hold | None:
    """The hold on ``app``, if any."""
    store, target = _store(engine, app)
    return store.get(target.name, target.namespace)


def place_hold(engine: SyncEngine, hold: Hold, target: AppTarget | None = None) -> Hold:
    """Place a hold on ``hold.app`` in its destination (``target``, when the caller holds it)."""
    store, resolved = _store(engine, target or hold.app)
    return store.put(hold, resolved.namespace)


def release_hold(engine: SyncEngine, app: AppRef) -> bool:
    """``ferry hold release APP``."""
    store, target = _store(engine, app)
    return store.release(target.name, target.namespace)


def list_holds(engine: SyncEngine) -> list[Hold]:
    """Every hold on the config's apps (apps whose cluster is unreachable are logged and left out)."""
    holds = []
    for app in engine.applications():
        try:
            hold = get_hold(engine, app)
        except (ConfigError, ClusterError) as exc:
            logger.warning("%s: cannot read its hold: %s", app.name, exc)
            continue
        if hold is not None:
            holds.append(hold)
    return holds


def auto_sync_unless_held(
    engine: SyncEngine, app: AppRef, *, initiator: Initiator | None = None, wait_timeout: float | None = None
) -> tuple[SyncResult | None, str]:
    """:meth:`SyncEngine.auto_sync`, except for an app on hold (the hook auto-sync calls)."""
    target = engine.target(app)
    hold = get_hold(engine, target)
    if hold is not None and hold.sync:
        reason = f"skipping: on hold since {hold.created_at} by {hold.created_by} ({hold.reason})"
        logger.info("%s: auto-sync: %s", target.name, reason)
        return None, reason
    return engine.auto_sync(target, initiator=initiator, wait_timeout=wait_timeout)


def rolled_away_tags(current: Sequence[str], target: Sequence[str]) -> tuple[str, ...]:
    """Images running now that the rollback target does not run: the tags to hold.

    >>> rolled_away_tags(["r/a:v2", "r/b:v1"], ["r/a:v1", "r/b:v1"])
    ('r/a:v2',)
    """
    keep = set(target)
    return tuple(i for i in current if i not in keep)
