"""One registry client per registry and credential for a cycle, created on first use.

Every stage that talks to registries (the image updater, the CI build, the
held-tags view of a release) takes its clients from a :class:`RegistryPool`, so
that the ``registries:`` prefix rules, the credentials, the request rate limit
and the metadata cache are applied the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Callable

from ferry.config import FerryConfig
from ferry.credentials import CredentialResolver
from ferry.errors import ConfigError
from ferry.image.reference import ImageReference
from ferry.registry.cache import MetadataCache
from ferry.registry.client import RegistryClient
from ferry.registry.ratelimit import SharedPacer
from ferry.registry.targets import RegistryTarget, registry_target

__all__ = ["RegistryPool"]


class RegistryPool:
    """Creates and keeps registry clients for the length of one cycle.

    Args:
        config: the loaded ``ferry.yaml`` (its ``registries:`` entries).
        resolver: resolves credential references.
        cache: the persisted metadata cache; None keeps one in memory per client
            (the CI stage, which asks about tags it is about to overwrite).
        list_once: each client lists a repository's tags once (see :class:`RegistryClient`).
        shared_rate: the pacer of a ``limit:`` every worker shares; None keeps each limit per
            process (the CLI, one process).
    """

    def __init__(
        self,
        config: FerryConfig,
        resolver: CredentialResolver,
        cache: MetadataCache | None = None,
        *,
        list_once: bool = False,
        shared_rate: SharedPacer | None = None,
    ) -> None:
        self._list_once = list_once
        self._shared_rate = shared_rate
        self._config = config
        self._resolver = resolver
        self._cache = cache
        self._clients: dict[tuple[str, str | None], RegistryClient] = {}

    def target(self, image: ImageReference) -> RegistryTarget:
        """Where ``image`` lives, by the ``registries:`` rules."""
        return registry_target(self._config, image)

    def client(
        self,
        image: ImageReference,
        credentials: str | None = None,
        *,
        registry_host: str | None = None,
        error_key: str | None = None,
    ) -> tuple[RegistryClient, str]:
        """The client for ``image``'s registry and the repository path to ask it about.

        Args:
            image: the image whose registry is wanted.
            credentials: a credential reference that overrides the registry entry's
                (an Application's ``pull-secret``).
            registry_host: the host a Docker config's ``auths`` entry is looked up by;
                the API URL's host when None.
            error_key: the input named when the credentials cannot be resolved.
        """
        target = self.target(image)
        ref = credentials or target.credentials
        key = (target.api_url, ref)
        if key not in self._clients:
            username = password = None
            if ref:
                host = registry_host or target.api_url.split("://", 1)[-1].rstrip("/")
                try:
                    cred = self._resolver.resolve(ref, registry_host=host)
                except ConfigError as exc:
                    raise exc.located(key=error_key or "registries.credentials") from exc
                username, password = cred.username, cred.password
            limit = target.config.limit if target.config else None
            self._clients[key] = RegistryClient(
                target.api_url,
                username=username,
                password=password,
                insecure=bool(target.config and target.config.insecure),
                limit=limit,
                cache=self._cache,
                list_once=self._list_once,
                shared_pace=self._pacer(target.api_url, limit),
            )
        return self._clients[key], target.repository

    def _pacer(self, api_url: str, limit: float | None) -> Callable[[], None] | None:
        shared = self._shared_rate
        if shared is None or limit is None:
            return None
        return lambda: shared(api_url, limit)

    def request_count(self) -> int:
        """Requests sent by every client of the pool so far."""
        return sum(c.request_count for c in self._clients.values())

    def close(self) -> None:
        """Close every client and write the metadata cache back."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        if self._cache is not None:
            self._cache.flush()
