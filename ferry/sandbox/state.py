"""What the sandbox records about its clusters, and the types its API returns.

``<state_root>/<name>/cluster.json`` holds a cluster's ports and PIDs, so that
``status`` and ``down`` work from another process than the one that ran ``up``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ferry.errors import ConfigError
from ferry.sandbox.api import AdminApi
from ferry.sandbox.components import ClusterLayout, ClusterPorts
from ferry.sandbox.kubeconfig import KubeconfigEntry
from ferry.sandbox.pki import ClusterPki
from ferry.sandbox.processes import ManagedProcess, is_running
from ferry.sandbox.versions import KUBERNETES_VERSION
from ferry.tools import cache_dir

STATE_FILE = "cluster.json"


def default_state_root() -> Path:
    """Return ``$FERRY_SANDBOX_DIR`` or ``~/.cache/ferry/sandbox``."""
    return cache_dir("FERRY_SANDBOX_DIR", "sandbox")


@dataclass(frozen=True, slots=True)
class Cluster:
    """One running (or recorded) sandbox cluster.

    Attributes:
        name: Cluster name; also its kubeconfig context.
        server: ``https://127.0.0.1:<port>``.
        state_dir: Its directory (certificates, etcd data, logs, ``cluster.json``).
        ports: Every loopback port it uses.
        processes: Its component processes, in start order.
        kubernetes_version: The control-plane version it runs.
    """

    name: str
    server: str
    state_dir: Path
    ports: ClusterPorts
    processes: tuple[ManagedProcess, ...]
    kubernetes_version: str = KUBERNETES_VERSION

    @property
    def context(self) -> str:
        """The kubeconfig context that reaches this cluster."""
        return self.name

    @property
    def pki(self) -> ClusterPki:
        """Its certificate and key files."""
        return ClusterPki.in_directory(self.state_dir / "pki")

    def kubeconfig_entry(self) -> KubeconfigEntry:
        """Return what a kubeconfig needs to reach this cluster as admin."""
        pki = self.pki
        return KubeconfigEntry(self.name, self.server, pki.ca_cert, pki.admin_cert, pki.admin_key)

    def admin_api(self) -> AdminApi:
        """Open a small admin REST client (close it, or use it as a context manager)."""
        pki = self.pki
        return AdminApi(self.server, pki.ca_cert, pki.admin_cert, pki.admin_key)

    def running(self) -> dict[str, bool]:
        """Return, per component, whether its process is alive."""
        return {process.component: is_running(process) for process in self.processes}

    def to_json(self) -> dict[str, Any]:
        """Serialise for ``cluster.json``."""
        return {
            "name": self.name,
            "server": self.server,
            "state_dir": str(self.state_dir),
            "ports": asdict(self.ports),
            "processes": [asdict(process) for process in self.processes],
            "kubernetes_version": self.kubernetes_version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cluster:
        """Inverse of :meth:`to_json`."""
        return cls(
            name=data["name"],
            server=data["server"],
            state_dir=Path(data["state_dir"]),
            ports=ClusterPorts(**data["ports"]),
            processes=tuple(ManagedProcess(**process) for process in data["processes"]),
            kubernetes_version=data.get("kubernetes_version", KUBERNETES_VERSION),
        )


@dataclass(frozen=True, slots=True)
class Sandbox:
    """Running clusters and the kubeconfig with one context per cluster.

    This is what the test fixtures hand out and what the sync engine needs:
    ``sandbox.kubeconfig`` plus ``sandbox.context("dev")``.
    """

    clusters: tuple[Cluster, ...]
    kubeconfig: Path
    state_root: Path

    @property
    def contexts(self) -> dict[str, str]:
        """Map cluster name to kubeconfig context."""
        return {cluster.name: cluster.context for cluster in self.clusters}

    def cluster(self, name: str) -> Cluster:
        """Return the cluster called ``name``.

        Raises:
            ConfigError: No cluster has that name.
        """
        for cluster in self.clusters:
            if cluster.name == name:
                return cluster
        raise ConfigError(f"no sandbox cluster named {name!r}", key=name)

    def context(self, name: str) -> str:
        """Return the kubeconfig context of cluster ``name``."""
        return self.cluster(name).context


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    """What ``status`` reports for one recorded cluster."""

    name: str
    server: str
    healthy: bool
    components: dict[str, bool]
    state_dir: Path


def record_cluster(layout: ClusterLayout, processes: tuple[ManagedProcess, ...]) -> Cluster:
    """Write ``cluster.json`` after every spawn, so a crash mid-start still leaves PIDs to stop."""
    cluster = Cluster(layout.name, layout.server, layout.state_dir, layout.ports, processes)
    staging = layout.state_dir / f".{STATE_FILE}.tmp"
    staging.write_text(json.dumps(cluster.to_json(), indent=2), encoding="utf-8")
    os.replace(staging, layout.state_dir / STATE_FILE)
    return cluster


def load_cluster(state_dir: Path) -> Cluster | None:
    try:
        data = json.loads((state_dir / STATE_FILE).read_text(encoding="utf-8"))
        return Cluster.from_json(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None
