"""The image updater's view of the shared registry pool: a client per Application image."""

from __future__ import annotations

from ferry.argocd.annotations import ImageSettings
from ferry.registry import pool
from ferry.registry.client import RegistryClient


class RegistryPool(pool.RegistryPool):
    """:class:`ferry.registry.pool.RegistryPool`, asked by an image's annotations."""

    def client_for(self, image: ImageSettings) -> tuple[RegistryClient, str]:
        """The client for ``image``'s registry (its ``pull-secret`` overrides the registry's credentials)."""
        return self.client(
            image.image,
            image.pull_secret,
            error_key="pull-secret" if image.pull_secret else "registries.credentials",
        )
