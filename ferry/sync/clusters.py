"""From an Application's ``spec.destination`` to a connected Kubernetes client.

A destination names a cluster by ``server`` URL or by ``name``; each resolves to
one ``clusters:`` entry of ``ferry.yaml``. An entry reaches its cluster through
a kubeconfig and context, or through a prefect-kubernetes
``KubernetesClusterConfig`` block. ``ferry`` never imports Prefect, so blocks are
loaded by a function the Prefect layer hands in through :class:`ferry.ports.Ports`,
as it hands in the loader of secret blocks.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from kubernetes import config as k8s_config

from ferry.argocd.application import Application
from ferry.config import ClusterConfig, FerryConfig
from ferry.errors import ClusterUnavailable, ConfigError
from ferry.sync.kube import KubeCluster, translate_error

logger = logging.getLogger(__name__)

ClusterBlockLoader = Callable[[str], tuple[dict[str, Any], str | None]]
"""Loads a ``KubernetesClusterConfig`` block by name; returns (kubeconfig mapping, context or None)."""

# Argo CD's name for the cluster it runs in; Ferry has none, so it must be configured like any other.
IN_CLUSTER = "https://kubernetes.default.svc"


def _normalize_server(server: str) -> str:
    return server.strip().rstrip("/")


def kubeconfig_server(path: Path, context: str | None) -> str | None:
    """The server URL a kubeconfig context points at (None when the file or context is missing)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None
    context_name = context or data.get("current-context")
    contexts = {c.get("name"): c.get("context", {}) for c in data.get("contexts") or []}
    clusters = {c.get("name"): c.get("cluster", {}) for c in data.get("clusters") or []}
    cluster_name = contexts.get(context_name, {}).get("cluster")
    server = clusters.get(cluster_name, {}).get("server")
    return str(server) if server else None


class ClusterResolver:
    """Finds and connects the cluster of each Application.

    Args:
        config: The loaded ``ferry.yaml``.
        block_loader: Loader of ``KubernetesClusterConfig`` blocks (None outside Prefect:
            a cluster given as ``block`` is then a ConfigError naming it).
        discovery_cache: Directory for the dynamic client's discovery cache.
    """

    def __init__(
        self,
        config: FerryConfig,
        *,
        block_loader: ClusterBlockLoader | None = None,
        discovery_cache: Path | None = None,
    ) -> None:
        self._config = config
        self._block_loader = block_loader
        self._discovery_cache = discovery_cache or config.cache_path / "discovery"
        self._connected: dict[str, KubeCluster] = {}

    def __enter__(self) -> ClusterResolver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every client this resolver opened."""
        for cluster in self._connected.values():
            cluster.close()
        self._connected.clear()

    def _kubeconfig(self, entry: ClusterConfig) -> Path | None:
        if entry.kubeconfig is None:
            return None
        return (Path(self._config.base_dir) / os.path.expanduser(entry.kubeconfig)).resolve()

    def server_of(self, entry: ClusterConfig) -> str | None:
        """The entry's ``server``, else the server of its kubeconfig context."""
        if entry.server:
            return _normalize_server(entry.server)
        kubeconfig = self._kubeconfig(entry)
        found = kubeconfig_server(kubeconfig, entry.context) if kubeconfig else None
        return _normalize_server(found) if found else None

    def cluster_for(self, app: Application) -> ClusterConfig:
        """The ``clusters:`` entry ``spec.destination`` names.

        Raises:
            ConfigError: No destination, an unknown one, or ``name`` and ``server`` naming different clusters.
        """
        destination = app.spec.destination
        known = ", ".join(c.name for c in self._config.clusters) or "none configured"
        by_name = None
        if destination.name:
            by_name = next((c for c in self._config.clusters if c.name == destination.name), None)
            if by_name is None:
                raise ConfigError(
                    f"unknown destination cluster name {destination.name!r} (known: {known})",
                    application=app.name,
                    key="spec.destination.name",
                )
        by_server = None
        if destination.server:
            wanted = _normalize_server(destination.server)
            by_server = next((c for c in self._config.clusters if self.server_of(c) == wanted), None)
            if by_server is None:
                raise ConfigError(
                    f"unknown destination server {destination.server!r} (known clusters: {known})",
                    application=app.name,
                    key="spec.destination.server",
                )
        if by_name and by_server and by_name.name != by_server.name:
            raise ConfigError(
                f"destination name {by_name.name!r} and server {destination.server!r} are different clusters",
                application=app.name,
                key="spec.destination",
            )
        found = by_name or by_server
        if found is None:
            raise ConfigError(
                "spec.destination names no server and no cluster name",
                application=app.name,
                key="spec.destination",
            )
        return found

    def connect(self, entry: ClusterConfig) -> KubeCluster:
        """A client for the cluster of ``entry``, opened once and reused.

        Raises:
            ConfigError: The entry has neither a kubeconfig nor a block, or they cannot be loaded.
            ClusterUnavailable: The API server does not answer discovery.
        """
        if entry.name in self._connected:
            return self._connected[entry.name]
        api_client: Any = self._api_client(entry)
        timeout = entry.request_timeout
        try:
            cluster = KubeCluster(
                entry.name,
                api_client,
                cache_file=self._discovery_cache / f"{entry.name}.json",
                request_timeout=timeout,
            )
        except ConfigError:
            api_client.close()
            raise
        except Exception as exc:
            api_client.close()
            raise translate_error(exc, f"cluster {entry.name}: discovery") from exc
        self._connected[entry.name] = cluster
        return cluster

    def for_app(self, app: Application) -> KubeCluster:
        """Resolve and connect the destination of ``app``."""
        return self.connect(self.cluster_for(app))

    def _api_client(self, entry: ClusterConfig) -> Any:
        kubeconfig = self._kubeconfig(entry)
        if kubeconfig is not None:
            if not kubeconfig.is_file():
                raise ConfigError(
                    f"kubeconfig {kubeconfig} does not exist", key=f"clusters.{entry.name}.kubeconfig"
                )
            try:
                from_file: Any = k8s_config.new_client_from_config
                return from_file(config_file=str(kubeconfig), context=entry.context)
            except (k8s_config.ConfigException, ValueError, KeyError) as exc:
                raise ConfigError(
                    f"cannot use kubeconfig {kubeconfig} context {entry.context!r}: {exc}",
                    key=f"clusters.{entry.name}",
                ) from exc
        if entry.block is not None:
            loader = self._block_loader
            if loader is None:
                raise ConfigError(
                    f"cluster {entry.name!r} needs the Prefect block {entry.block!r}, and no cluster "
                    f"block loader is available (blocks are loaded inside Prefect flows only)",
                    key=f"clusters.{entry.name}.block",
                )
            try:
                config_dict, context = loader(entry.block)
            except ValueError as exc:
                raise ConfigError(
                    f"block {entry.block!r} could not be loaded: {exc}", key=f"clusters.{entry.name}.block"
                ) from exc
            try:
                from_dict: Any = k8s_config.new_client_from_config_dict
                return from_dict(config_dict, context=context or entry.context)
            except (k8s_config.ConfigException, ValueError, KeyError) as exc:
                raise ConfigError(
                    f"block {entry.block!r} holds an unusable kubeconfig: {exc}",
                    key=f"clusters.{entry.name}.block",
                ) from exc
        raise ConfigError(
            "a cluster needs `kubeconfig` (and `context`) or `block`", key=f"clusters.{entry.name}"
        )


def require_reachable(cluster: KubeCluster) -> None:
    """Raise :class:`ClusterUnavailable` unless ``/readyz`` answers (a cheap probe before a sync)."""
    if not cluster.ready():
        raise ClusterUnavailable(f"cluster {cluster.name}: the API server is not ready")
