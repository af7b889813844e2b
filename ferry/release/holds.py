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
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from ferry.argocd.application import Application
from ferry.config import FerryConfig
from ferry.errors import ClusterError, ConfigError
from ferry.registry.client import RegistryClient
from ferry.sync.clusters import ClusterResolver
from ferry.sync.engine import SyncEngine
from ferry.sync.history import now
from ferry.sync.kube import KubeCluster
from ferry.sync.model import Initiator, SyncResult
from ferry.sync.target import AppRef, AppTarget
from ferry.update.cycle import AppPlan, Updater
from ferry.update.registries import RegistryPool

logger = logging.getLogger(__name__)

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


def split_ref(reference: str) -> tuple[str, str]:
    """``registry/repo:tag`` into name and tag (a port in the host is not a tag).

    >>> split_ref("127.0.0.1:5000/cidemo/echo-server:v2")
    ('127.0.0.1:5000/cidemo/echo-server', 'v2')
    """
    reference = reference.split("@", 1)[0]
    name, sep, tag = reference.rpartition(":")
    if not sep or "/" in tag:
        return reference, ""
    return name, tag


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


# -- through the sync engine ---------------------------------------------------------------------


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


# -- the image updater ---------------------------------------------------------------------------


class HeldTags:
    """The ``name:tag`` references the updater must skip for an app, read from its cluster's hold.

    A config without clusters, or an app whose destination is not one of them,
    has no holds (its hold could be nowhere). An unreachable cluster raises, so
    the app is not updated while its hold cannot be read.
    """

    def __init__(self, config: FerryConfig) -> None:
        self._config = config
        self._clusters = ClusterResolver(config) if config.clusters else None

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
        return frozenset(hold.tags) if hold else frozenset()


def without_held(tags: Iterable[str], image_name: str, held: Iterable[str]) -> list[str]:
    """``tags`` of ``image_name`` minus the held ones.

    >>> without_held(["v1", "v2"], "r/echo", {"r/echo:v2", "r/other:v1"})
    ['v1']
    """
    skipped = {tag for name, tag in map(split_ref, held) if name == image_name}
    return [t for t in tags if t not in skipped]


class _HeldTagsClient:
    """A registry client whose tag list leaves out held tags (everything else is the real client's)."""

    def __init__(self, inner: RegistryClient, image_name: str, held: frozenset[str]) -> None:
        self._inner, self._image_name, self._held = inner, image_name, held

    def list_tags(self, repository: str) -> list[str]:
        tags = without_held(self._inner.list_tags(repository), self._image_name, self._held)
        return tags

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _HeldTagsRegistries(RegistryPool):
    def __init__(self, inner: RegistryPool, held: Callable[[], frozenset[str]]) -> None:
        # Not calling RegistryPool.__init__: every client comes from ``inner``, which owns them.
        self._inner, self._held = inner, held

    def client_for(self, image: Any) -> tuple[RegistryClient, str]:
        client, repository = self._inner.client_for(image)
        held = self._held()
        if not held:
            return client, repository
        return cast(RegistryClient, _HeldTagsClient(client, image.image.name, held)), repository

    def request_count(self) -> int:
        return self._inner.request_count()

    def close(self) -> None:
        self._inner.close()


class HoldAwareUpdater(Updater):
    """The image updater, skipping the tags held on each app (a git-revert or a quick rollback)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._holds = HeldTags(self.config)
        self._held_now: frozenset[str] = frozenset()
        self.registries = _HeldTagsRegistries(self.registries, lambda: self._held_now)

    def plan(self, app: Application) -> AppPlan | None:
        self._held_now = self._holds.for_app(app)
        if self._held_now:
            logger.info("%s: skipping held tag(s) %s", app.name, ", ".join(sorted(self._held_now)))
        try:
            return super().plan(app)
        finally:
            self._held_now = frozenset()

    def close(self) -> None:
        super().close()
        self._holds.close()


def rolled_away_tags(current: Sequence[str], target: Sequence[str]) -> tuple[str, ...]:
    """Images running now that the rollback target does not run: the tags to hold.

    >>> rolled_away_tags(["r/a:v2", "r/b:v1"], ["r/a:v1", "r/b:v1"])
    ('r/a:v2',)
    """
    keep = set(target)
    return tuple(i for i in current if i not in keep)
