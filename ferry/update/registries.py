"""The image updater's view of the shared registry pool: a client per Application image."""

from __future__ import annotations

from ferry.argocd.annotations import ImageSettings
from ferry.config import FerryConfig
from ferry.credentials import CredentialResolver
from ferry.registry import pool
from ferry.registry.cache import MetadataCache
from ferry.registry.client import RegistryClient
from ferry.registry.ratelimit import SharedPacer


class RegistryPool(pool.RegistryPool):
    """:class:`ferry.registry.pool.RegistryPool`, asked by an image's annotations.

    A cycle lists each image's tags once, however many Applications name the image: the
    updater writes nothing to the registry, so a second listing in the same cycle could
    only differ by a push that raced the cycle, which the next cycle picks up anyway.
    """

    def __init__(
        self,
        config: FerryConfig,
        resolver: CredentialResolver,
        cache: MetadataCache | None = None,
        shared_rate: SharedPacer | None = None,
    ) -> None:
        super().__init__(config, resolver, cache, list_once=True, shared_rate=shared_rate)

    def client_for(self, image: ImageSettings) -> tuple[RegistryClient, str]:
        """The client for ``image``'s registry (its ``pull-secret`` overrides the registry's credentials)."""
        return self.client(
            image.image,
            image.pull_secret,
            error_key="pull-secret" if image.pull_secret else "registries.credentials",
        )
