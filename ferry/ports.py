"""What the core reaches outside itself through, handed in as one value.

``ferry`` never imports Prefect, yet a ``ferry.yaml`` may name Prefect blocks:
``block:``/``secret:`` credentials, and clusters given as a prefect-kubernetes
``KubernetesClusterConfig`` block. A :class:`Ports` value carries the loaders
for both (and the emitter for Ferry's events); every engine, resolver and hold
reader is built from it, so a flow wired once reaches everything the config
names. ``blocks.ports`` builds the Prefect one for every flow; the ``ferry``
CLI uses :data:`NO_PORTS`, where a block reference is a clear error naming the
setting that holds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ferry.ci.events import EventEmitter, log_emitter
from ferry.config import FerryConfig
from ferry.credentials import BlockLoader, CredentialResolver
from ferry.registry.ratelimit import SharedPacer
from ferry.release.hold_store import HeldTags
from ferry.sync.clusters import ClusterBlockLoader, ClusterResolver
from ferry.sync.engine import SyncEngine
from ferry.update.cycle import Updater
from ferry.update.outcomes import CycleReport


@dataclass(frozen=True, slots=True)
class Ports:
    """The loaders of Prefect blocks and the event emitter; None where the caller has none.

    Attributes:
        secret_blocks: Loads a credential block by ``(type_slug, name)``.
        cluster_blocks: Loads a ``KubernetesClusterConfig`` block by name.
        emit: Sends ``ferry.image.pushed`` / ``ferry.source.pushed``.
        shared_rate: Paces a registry's requests under a ``limit:`` every worker shares
            (None: each process keeps the limit on its own, as one CLI process does).
    """

    secret_blocks: BlockLoader | None = None
    cluster_blocks: ClusterBlockLoader | None = None
    emit: EventEmitter = log_emitter
    shared_rate: SharedPacer | None = None

    def credentials(self, config: FerryConfig) -> CredentialResolver:
        """A credential resolver for ``config``'s references."""
        return CredentialResolver(base_dir=Path(config.base_dir), block_loader=self.secret_blocks)

    def clusters(self, config: FerryConfig) -> ClusterResolver:
        """A cluster resolver for ``config``'s ``clusters:``."""
        return ClusterResolver(config, block_loader=self.cluster_blocks)

    def engine(self, config: FerryConfig) -> SyncEngine:
        """A sync engine whose credentials and clusters go through these ports."""
        return SyncEngine(config, credentials=self.credentials(config), clusters=self.clusters(config))

    def updater(self, config: FerryConfig, *, refresh: bool = False) -> Updater:
        """An image updater whose registry and repository credentials go through these ports."""
        return Updater(
            config, resolver=self.credentials(config), refresh=refresh, shared_rate=self.shared_rate
        )

    def held_tags(self, config: FerryConfig) -> HeldTags:
        """The reader of each app's held tags, on the clusters these ports reach."""
        return HeldTags(self.clusters(config) if config.clusters else None)

    def update_cycle(
        self,
        config: FerryConfig,
        names: Sequence[str] | None = None,
        *,
        dry_run: bool = False,
        refresh: bool = False,
    ) -> CycleReport:
        """One image update cycle that skips the tags held on each app (what ``ferry update`` runs)."""
        with self.updater(config, refresh=refresh) as updater, self.held_tags(config) as holds:
            return updater.run_cycle(names, dry_run=dry_run, held=holds.for_app)


#: The ports of the ``ferry`` CLI outside Prefect: no block loaders, events only logged.
NO_PORTS = Ports()
