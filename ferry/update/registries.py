"""One registry client per registry for a cycle, with credentials resolved on first use."""

from __future__ import annotations

from ferry.argocd.annotations import ImageSettings
from ferry.config import FerryConfig
from ferry.credentials import CredentialResolver
from ferry.errors import ConfigError
from ferry.registry.cache import MetadataCache
from ferry.registry.client import RegistryClient
from ferry.registry.targets import registry_target


class RegistryPool:
    """Creates and keeps registry clients for the length of one cycle."""

    def __init__(self, config: FerryConfig, resolver: CredentialResolver, cache: MetadataCache) -> None:
        self._config = config
        self._resolver = resolver
        self._cache = cache
        self._clients: dict[tuple[str, str | None], RegistryClient] = {}

    def client_for(self, image: ImageSettings) -> tuple[RegistryClient, str]:
        """The client for ``image``'s registry and the repository path to ask it about."""
        target = registry_target(self._config, image.image)
        ref = image.pull_secret or target.credentials
        key = (target.api_url, ref)
        if key not in self._clients:
            username = password = None
            if ref:
                host = target.api_url.split("://", 1)[-1].rstrip("/")
                try:
                    cred = self._resolver.resolve(ref, registry_host=host)
                except ConfigError as exc:
                    raise exc.located(
                        key="pull-secret" if image.pull_secret else "registries.credentials"
                    ) from exc
                username, password = cred.username, cred.password
            self._clients[key] = RegistryClient(
                target.api_url,
                username=username,
                password=password,
                insecure=bool(target.config and target.config.insecure),
                limit=target.config.limit if target.config else None,
                cache=self._cache,
            )
        return self._clients[key], target.repository

    def request_count(self) -> int:
        return sum(c.request_count for c in self._clients.values())

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        self._cache.flush()
