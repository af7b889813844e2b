"""Sync history and sync state, kept in a ConfigMap per app in the destination namespace.

Like Helm's release records, the history lives in the cluster it describes, so
it survives any Ferry worker and travels with the cluster's backups. One
ConfigMap, ``ferry.history.<app>``, holds three JSON documents:

* ``history``: successful syncs, oldest first, at most ``revisionHistoryLimit``;
* ``lastAttempt``: the latest sync attempt (revision, success, time, message),
  which automated sync uses to try each revision once;
* ``kinds``: every ``apiVersion``/``kind`` the app has ever applied, so that
  pruning looks for leftovers of kinds Git no longer renders at all.

The ConfigMap carries no tracking annotation, so pruning never deletes it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ferry.errors import ClusterError
from ferry.sync.kube import KubeCluster
from ferry.sync.model import HistoryEntry

logger = logging.getLogger(__name__)

HISTORY_LABEL = "app.ferry.io/history-of"
DEFAULT_LIMIT = 10
_CONFLICT_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Attempt:
    """The latest sync attempt of an app.

    ``running`` is written before the first resource is applied and cleared by the
    attempt's end, like Argo CD's ``operationState.phase: Running``. A worker killed
    mid-apply leaves it set: the record then says which revision was half applied,
    by which run, and since when, instead of still naming the previous sync's success.
    """

    revision: str
    succeeded: bool
    at: str
    message: str = ""
    running: bool = False

    @property
    def phase(self) -> str:
        """Argo CD's words: ``Running``, ``Succeeded`` or ``Failed``."""
        return "Running" if self.running else "Succeeded" if self.succeeded else "Failed"

    def as_dict(self) -> dict[str, Any]:
        data = {
            "revision": self.revision,
            "succeeded": self.succeeded,
            "at": self.at,
            "message": self.message,
        }
        return {**data, "running": True} if self.running else data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attempt:
        return cls(
            str(data["revision"]),
            bool(data["succeeded"]),
            str(data.get("at", "")),
            str(data.get("message", "")),
            bool(data.get("running", False)),
        )


@dataclass(frozen=True, slots=True)
class SyncState:
    """Everything the ConfigMap records for one app."""

    history: tuple[HistoryEntry, ...] = ()
    last_attempt: Attempt | None = None
    kinds: tuple[tuple[str, str], ...] = ()


def configmap_name(app: str) -> str:
    """``ferry.history.<app>``, shortened with a hash when it would pass the 253-character limit.

    >>> configmap_name("app-helm-dev")
    'ferry.history.app-helm-dev'
    """
    name = f"ferry.history.{app}"
    if len(name) <= 253:
        return name
    return f"{name[:230]}.{hashlib.sha256(app.encode()).hexdigest()[:16]}"


def decode(data: dict[str, str] | None) -> SyncState:
    """Read a ConfigMap's ``data``; unreadable parts count as empty rather than blocking syncs."""
    data = data or {}
    try:
        history = tuple(HistoryEntry.from_dict(e) for e in json.loads(data.get("history", "[]")))
    except (ValueError, KeyError, TypeError):
        logger.warning("sync history is unreadable; starting a new one")
        history = ()
    try:
        raw_attempt = json.loads(data.get("lastAttempt", "null"))
        attempt = Attempt.from_dict(raw_attempt) if raw_attempt else None
    except (ValueError, KeyError, TypeError):
        attempt = None
    try:
        kinds = tuple(sorted({(str(a), str(k)) for a, k in json.loads(data.get("kinds", "[]"))}))
    except (ValueError, TypeError):
        kinds = ()
    return SyncState(history, attempt, kinds)


def encode(state: SyncState) -> dict[str, str]:
    """The ConfigMap ``data`` for ``state``."""
    data = {
        "history": json.dumps([e.as_dict() for e in state.history], sort_keys=True),
        "kinds": json.dumps([list(k) for k in state.kinds]),
    }
    if state.last_attempt is not None:
        data["lastAttempt"] = json.dumps(state.last_attempt.as_dict(), sort_keys=True)
    return data


def append_entry(
    history: Sequence[HistoryEntry], entry: HistoryEntry, limit: int
) -> tuple[HistoryEntry, ...]:
    """Add ``entry`` (its id the next one) and keep the newest ``limit`` entries (at least one).

    >>> e = lambda i: HistoryEntry(i, "sha", (), "t", "u")
    >>> [x.id for x in append_entry([e(1), e(2), e(3)], e(0), 3)]
    [2, 3, 4]
    """
    next_id = max((e.id for e in history), default=0) + 1
    numbered = HistoryEntry(
        next_id,
        entry.revision,
        entry.images,
        entry.deployed_at,
        entry.initiated_by,
        entry.run_id,
        entry.source,
    )
    kept = max(limit, 1)
    return (*tuple(history), numbered)[-kept:]


def merge_kinds(
    known: Iterable[tuple[str, str]], more: Iterable[tuple[str, str]]
) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(set(known) | set(more)))


def now() -> str:
    """UTC time in RFC 3339, as Kubernetes writes timestamps."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class HistoryStore:
    """Reads and updates the state ConfigMap of apps in one cluster."""

    def __init__(self, cluster: KubeCluster) -> None:
        self._cluster = cluster

    def read(self, app: str, namespace: str) -> SyncState:
        """The app's recorded state (empty when nothing was recorded yet)."""
        live = self._cluster.get("v1", "ConfigMap", configmap_name(app), namespace)
        return decode(live.get("data") if live else None)

    def update(self, app: str, namespace: str, change: Callable[[SyncState], SyncState]) -> SyncState:
        """Apply ``change`` to the stored state with optimistic concurrency; return the new state."""
        name = configmap_name(app)
        for _ in range(_CONFLICT_ATTEMPTS):
            live = self._cluster.get("v1", "ConfigMap", name, namespace)
            state = change(decode(live.get("data") if live else None))
            if live is None:
                body = {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": name, "namespace": namespace, "labels": {HISTORY_LABEL: app[:63]}},
                    "data": encode(state),
                }
                if self._cluster.create(body) is not None:
                    return state
                continue
            live["data"] = encode(state)
            try:
                self._cluster.replace(live)
            except ClusterError as exc:
                if "HTTP 409" in str(exc):
                    continue
                raise
            return state
        raise ClusterError(
            f"cluster {self._cluster.name}: ConfigMap {namespace}/{name} kept changing under "
            f"{_CONFLICT_ATTEMPTS} attempts to update it"
        )

    def record_attempt(
        self, app: str, namespace: str, attempt: Attempt, kinds: Iterable[tuple[str, str]] = ()
    ) -> SyncState:
        """Remember the latest attempt and the kinds it applied."""
        kinds = tuple(kinds)
        return self.update(
            app, namespace, lambda s: SyncState(s.history, attempt, merge_kinds(s.kinds, kinds))
        )

    def record_success(
        self, app: str, namespace: str, entry: HistoryEntry, limit: int, kinds: Iterable[tuple[str, str]] = ()
    ) -> HistoryEntry:
        """Append a history entry for a successful sync and mark the attempt successful; return the entry."""
        kinds = tuple(kinds)
        attempt = Attempt(entry.revision, True, entry.deployed_at, "successfully synced")
        state = self.update(
            app,
            namespace,
            lambda s: SyncState(append_entry(s.history, entry, limit), attempt, merge_kinds(s.kinds, kinds)),
        )
        return state.history[-1]
