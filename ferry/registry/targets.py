"""Which registry serves an image: Image Updater's ``registries.conf`` prefix rules."""

from __future__ import annotations

from dataclasses import dataclass

from ferry.config import FerryConfig, RegistryConfig
from ferry.image.reference import ImageReference
from ferry.registry.urls import is_loopback_host

DOCKER_HUB_API = "https://registry-1.docker.io"


@dataclass(frozen=True, slots=True)
class RegistryTarget:
    """Where an image lives: the API URL, the repository path on it, and its config entry (if any)."""

    api_url: str
    repository: str
    config: RegistryConfig | None
    host: str

    @property
    def plain_http(self) -> bool:
        """Whether tools that default to TLS (buildah, skopeo) must be told not to verify it."""
        return bool(self.config and self.config.insecure) or is_loopback_host(self.host)

    @property
    def credentials(self) -> str | None:
        return self.config.credentials if self.config else None


def registry_target(config: FerryConfig, image: ImageReference) -> RegistryTarget:
    """Map an image onto its ``registries:`` entry, or onto its own host.

    The entry with the longest matching ``prefix`` wins. The ``default`` entry
    serves only images that name no registry host (``nginx``, ``team/app``), as in
    Image Updater. Without an entry: plain HTTP for loopback hosts, HTTPS
    otherwise, and Docker Hub's API for unqualified names.
    """
    reg = config.registry_for(image.name)
    if reg is None and image.registry is None:
        reg = config.default_registry
    if reg is not None:
        prefix = reg.prefix.rstrip("/")
        repository = (
            image.name[len(prefix) + 1 :] if image.name.startswith(prefix + "/") else image.repository
        )
        if reg.defaultns and "/" not in repository:
            repository = f"{reg.defaultns}/{repository}"
        return RegistryTarget(reg.api_url, repository, reg, image.registry or prefix)
    if image.canonical_registry == "docker.io":
        return RegistryTarget(DOCKER_HUB_API, image.canonical_repository, None, "docker.io")
    assert image.registry is not None
    scheme = "http" if is_loopback_host(image.registry) else "https"
    return RegistryTarget(f"{scheme}://{image.registry}", image.repository, None, image.registry)
