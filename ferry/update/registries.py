"""One registry client per registry for a cycle, with credentials resolved on first use."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ferry.argocd.annotations import ImageSettings
from ferry.config import FerryConfig, RegistryConfig
from ferry.credentials import CredentialResolver
from ferry.errors import ConfigError
from ferry.registry.cache import MetadataCache
from ferry.registry.client import RegistryClient

DOCKER_HUB_API = "https://registry-1.docker.io"


def _is_loopback(host: str) -> bool:
    bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if bare == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class RegistryTarget:
    """Where an image lives: the API URL, the repository path on it, and its config (if any)."""

    api_url: str
    repository: str
    config: RegistryConfig | None


def registry_target(config: FerryConfig, image: ImageSettings) -> RegistryTarget:
    """Map an image-list image onto a configured registry (longest prefix), or onto its own host:
    plain HTTP for loopback hosts, HTTPS otherwise, and Docker Hub's API for unqualified names."""
    ref = image.image
    reg = config.registry_for(ref.name)
    if reg is not None:
        prefix = reg.prefix.rstrip("/")
        repository = ref.name[len(prefix) + 1 :] if ref.name.startswith(prefix + "/") else ref.repository
        if reg.defaultns and "/" not in repository:
            repository = f"{reg.defaultns}/{repository}"
        return RegistryTarget(reg.api_url, repository, reg)
    if ref.canonical_registry == "docker.io":
        return RegistryTarget(DOCKER_HUB_API, ref.canonical_repository, None)
    assert ref.registry is not None
    scheme = "http" if _is_loopback(ref.registry) else "https"
    return RegistryTarget(f"{scheme}://{ref.registry}", ref.repository, None)


class RegistryPool:
    """Creates and keeps registry clients for the length of one cycle."""

    def __init__(self, config: FerryConfig, resolver: CredentialResolver, cache: MetadataCache) -> None:
        self._config = config
        self._resolver = resolver
        self._cache = cache
        self._clients: dict[tuple[str, str | None], RegistryClient] = {}

    def client_for(self, image: ImageSettings) -> tuple[RegistryClient, str]:
        """The client for ``image``'s registry and the repository path to ask it about."""
        target = registry_target(self._config, image)
        ref = image.pull_secret or (target.config.credentials if target.config else None)
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
