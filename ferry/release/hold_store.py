"""Holds: what keeps auto-sync and the image updater from undoing a rollback.

A hold is stored as a ConfigMap ``ferry.hold.<app>`` in the app's destination
namespace, next to the sync history. That place was chosen over a file in the
deploy repo because:

* a quick rollback must work when the Git server is the thing that is down,
  and placing a hold then needs no push;
* the hold describes the live state of that cluster (it protects what is
  running there), so it lives and is backed up with it, like the history;
* ``kubectl get cm -l app.ferry.io/hold-of`` shows every hold of a cluster.

A hold has two parts: ``sync`` (auto-sync leaves the app alone) and ``tags``
(image references ``name:tag`` the image updater must not write back).
This module stores and reads them; :mod:`ferry.release.holds` acts on them
through the sync engine, and the updater is handed the held tags by its caller.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from ferry.argocd.application import Application
from ferry.errors import ConfigError
from ferry.sync.clusters import ClusterResolver
from ferry.sync.history import now
from ferry.sync.kube import KubeCluster

# The name it had before the store got its own module: log filters and readers know it.
logger = logging.getLogger("ferry.release.holds")

HOLD_LABEL = "app.ferry.io/hold-of"


@dataclass(frozen=True, slots=True)
class Hold:
    """A hold on one app."""

    app: str
    reason: str
    created_by: str
    created_at: str = field(default_factory=now)
    sync: bool = True
    tags: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "reason": self.reason,
            "createdBy": self.created_by,
            "createdAt": self.created_at,
            "sync": self.sync,
            "tags": list(self.tags),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Hold:
        return cls(
            str(data["app"]),
            str(data.get("reason", "")),
            str(data.get("createdBy", "")),
            str(data.get("createdAt", "")),
            bool(data.get("sync", True)),
            tuple(str(t) for t in data.get("tags", ())),
        )

    def merged(self, other: Hold) -> Hold:
        """``other`` placed on top of this hold: the newer reason, every held tag, sync if either holds it."""
        tags = tuple(dict.fromkeys((*self.tags, *other.tags)))
        return Hold(
            other.app, other.reason, other.created_by, other.created_at, self.sync or other.sync, tags
        )


def hold_name(app: str) -> str:
    """``ferry.hold.<app>``, shortened with a hash past the 253-character limit.

    >>> hold_name("app-helm-dev")
    'ferry.hold.app-helm-dev'
    """
    name = f"ferry.hold.{app}"
    return name if len(name) <= 253 else f"{name[:230]}.{hashlib.sha256(app.encode()).hexdigest()[:16]}"


class HoldStore:
    """Reads and writes the hold ConfigMaps of one cluster."""

    def __init__(self, cluster: KubeCluster) -> None:
        self._cluster = cluster

    def get(self, app: str, namespace: str) -> Hold | None:
        live = self._cluster.get("v1", "ConfigMap", hold_name(app), namespace)
        if live is None:
            return None
        try:
            return Hold.from_dict(json.loads((live.get("data") or {})["hold"]))
        except (KeyError, ValueError, TypeError):
            # An unreadable hold still holds: releasing it is a deliberate act.
            return Hold(app, "unreadable hold ConfigMap", "unknown")

    def put(self, hold: Hold, namespace: str) -> Hold:
        """Place ``hold`` (merged into an existing one) and return what is stored."""
        existing = self.get(hold.app, namespace)
        stored = existing.merged(hold) if existing else hold
        self._cluster.apply(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": hold_name(hold.app),
                    "namespace": namespace,
                    "labels": {HOLD_LABEL: hold.app[:63]},
                },
                "data": {"hold": json.dumps(stored.as_dict(), sort_keys=True)},
            }
        )
        logger.info("%s: hold placed (%s)", hold.app, stored.reason)
        return stored

    def release(self, app: str, namespace: str) -> bool:
        """Remove the hold; False when there was none."""
        released = self._cluster.delete("v1", "ConfigMap", hold_name(app), namespace)
        if released:
            logger.info("%s: hold released", app)
        return released


class HeldTags:
    """The ``name:tag`` references the updater must skip for an app, read from its cluster's hold.

    ``clusters`` is None for a config without clusters: its apps have no holds
    (a hold could be nowhere), as has an app whose destination is not one of
    them. An unreachable cluster raises, so the app is not updated while its
    hold cannot be read.
    """

    def __init__(self, clusters: ClusterResolver | None) -> None:
        self._clusters = clusters

    def __enter__(self) -> HeldTags:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._clusters is not None:
            self._clusters.close()

    def for_app(self, app: Application) -> frozenset[str]:
        if self._clusters is None:
            return frozenset()
        try:
            entry = self._clusters.cluster_for(app)
        except ConfigError:
            return frozenset()
        hold = HoldStore(self._clusters.connect(entry)).get(
            app.name, app.spec.destination.namespace or "default"
        )
        if hold is None or not hold.tags:
            return frozenset()
        logger.info("%s: skipping held tag(s) %s", app.name, ", ".join(sorted(hold.tags)))
        return frozenset(hold.tags)
