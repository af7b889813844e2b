"""Start, list and stop named local Kubernetes clusters built from the real control plane.

A cluster is etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
kwok (playing kubelet for one fake node), all on free loopback ports, with its
own CA and an admin client certificate. Its state lives in
``<state_root>/<name>/``; ``cluster.json`` there records ports and PIDs so a
later ``status`` or ``down`` (another process, another day) finds it.

Clusters start in phases across all names at once (every etcd, then every
apiserver, then the rest), so three clusters come up in about the time of one
plus the CPU they share.
"""

from __future__ import annotations

import logging
import re
import shutil
import ssl
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from ferry.errors import ClusterUnavailable, ConfigError
from ferry.sandbox import components, rollouts
from ferry.sandbox.build import kwok_stages_path, require_binaries
from ferry.sandbox.components import ClusterLayout, ClusterPorts
from ferry.sandbox.crds import install_crds
from ferry.sandbox.kubeconfig import KubeconfigEntry, write_component_kubeconfig, write_kubeconfig
from ferry.sandbox.pki import create_cluster_pki
from ferry.sandbox.processes import (
    ManagedProcess,
    exit_status,
    free_ports,
    is_running,
    log_tail,
    spawn,
    stop,
)
from ferry.sandbox.state import (
    STATE_FILE,
    Cluster,
    ClusterStatus,
    Sandbox,
    default_state_root,
    load_cluster,
    record_cluster,
)
from ferry.sandbox.versions import CLUSTER_TOOLS

__all__ = [
    "DEFAULT_CLUSTERS",
    "STATE_FILE",
    "Cluster",
    "ClusterStatus",
    "Sandbox",
    "default_state_root",
    "down",
    "load",
    "status",
    "up",
]

logger = logging.getLogger(__name__)

DEFAULT_CLUSTERS: tuple[str, ...] = ("dev", "staging", "production")
#: Shutdown order: clients of the apiserver first, etcd last.
_STOP_ORDER = ("kwok", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd")
PORT_ATTEMPTS = 3
PORTS_PER_CLUSTER = 6
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$")


def up(
    names: Sequence[str] = DEFAULT_CLUSTERS,
    *,
    state_root: Path | None = None,
    kubeconfig: Path | None = None,
    bin_dir: Path | None = None,
    timeout: float = 180.0,
    argo_rollouts: Collection[str] | bool = False,
) -> Sandbox:
    """Start the named clusters (reusing healthy ones) and write the kubeconfig.

    Args:
        names: Cluster names (DNS labels); each is also its context name.
        state_root: Parent of the clusters' state directories; :func:`default_state_root` when ``None``.
        kubeconfig: Extra path to write the kubeconfig to; it is always written to
            ``<state_root>/kubeconfig`` too.
        bin_dir: Binary cache; the default cache when ``None``.
        timeout: Seconds to wait for each phase (apiserver ready, node and
            service account present).
        argo_rollouts: Clusters (of ``names``) that also run the Argo Rollouts
            controller with its full CRDs; ``True`` for all of them (see
            :mod:`ferry.sandbox.rollouts`).

    Returns:
        The running clusters of ``names`` and the kubeconfig path.

    Raises:
        ToolError: The binaries are not built (no build is attempted here).
        ConfigError: A name is not a valid DNS label, or repeats.
        ClusterUnavailable: A component exited or a cluster did not get ready;
            the message carries the failing component's log tail. Clusters this
            call started are stopped again before it raises.
    """
    root = state_root or default_state_root()
    _check_names(names)
    binaries = require_binaries(CLUSTER_TOOLS, bin_dir)
    with_controller = rollouts.chosen_clusters(argo_rollouts, names)
    if with_controller:
        require_binaries((rollouts.COMPONENT,), bin_dir)
    root.mkdir(parents=True, exist_ok=True)
    started_at = time.monotonic()

    reused: list[Cluster] = []
    to_start: list[str] = []
    for name in names:
        existing = load_cluster(root / name)
        if existing is not None and all(existing.running().values()) and _healthy(existing):
            logger.info("sandbox cluster %s is already running at %s", name, existing.server)
            reused.append(existing)
            continue
        if existing is not None:
            stop(_in_stop_order(existing.processes))
        to_start.append(name)

    fresh: dict[str, Cluster] = {}
    for attempt in range(1, PORT_ATTEMPTS + 1):
        # Ports are chosen free, then bound by the components a moment later; another
        # process may take one in between. That loses nothing but time: start again.
        ports = free_ports(PORTS_PER_CLUSTER * len(to_start))
        layouts = [
            _prepare(root / name, name, ports[i * PORTS_PER_CLUSTER : (i + 1) * PORTS_PER_CLUSTER])
            for i, name in enumerate(to_start)
        ]
        try:
            fresh = _start(layouts, binaries, bin_dir, timeout)
            break
        except ClusterUnavailable as exc:
            if attempt == PORT_ATTEMPTS or "address already in use" not in str(exc):
                raise
            logger.warning(
                "sandbox: a port was taken meanwhile; starting again with new ports (%d/%d)",
                attempt,
                PORT_ATTEMPTS,
            )

    if fresh:
        logger.info("started sandbox clusters %s in %.1f s", ", ".join(fresh), time.monotonic() - started_at)
    by_name = {cluster.name: cluster for cluster in (*reused, *fresh.values())}
    try:
        for name in with_controller:
            by_name[name] = rollouts.start_controller(by_name[name], bin_dir=bin_dir, timeout=timeout)
    except BaseException:
        for cluster in fresh.values():
            stop(_in_stop_order((load_cluster(cluster.state_dir) or cluster).processes))
        raise
    clusters = tuple(by_name[name] for name in names)
    written = _write_kubeconfigs(root, kubeconfig)
    return Sandbox(clusters, written, root)


def _start(
    layouts: Sequence[ClusterLayout], binaries: dict[str, Path], bin_dir: Path | None, timeout: float
) -> dict[str, Cluster]:
    """Start every component of the prepared clusters; stop them all again if anything fails."""
    fresh: dict[str, Cluster] = {}
    try:
        for layout in layouts:
            etcd = _spawn(layout, "etcd", components.etcd_command(binaries["etcd"], layout))
            fresh[layout.name] = record_cluster(layout, (etcd,))
        for layout in layouts:
            apiserver = _spawn(
                layout, "kube-apiserver", components.apiserver_command(binaries["kube-apiserver"], layout)
            )
            fresh[layout.name] = record_cluster(layout, (*fresh[layout.name].processes, apiserver))
        for layout in layouts:
            _wait_ready(fresh[layout.name], timeout)
        for layout in layouts:
            commands = {
                "kube-controller-manager": components.controller_manager_command(
                    binaries["kube-controller-manager"], layout
                ),
                "kube-scheduler": components.scheduler_command(binaries["kube-scheduler"], layout),
                "kwok": components.kwok_command(binaries["kwok"], layout, kwok_stages_path(bin_dir)),
            }
            for component, command in commands.items():
                process = _spawn(layout, component, command)
                fresh[layout.name] = record_cluster(layout, (*fresh[layout.name].processes, process))
        for cluster in fresh.values():
            with cluster.admin_api() as api:
                api.create("/api/v1/nodes", components.kwok_node())
                install_crds(api, timeout=timeout)
        for cluster in fresh.values():
            _wait_populated(cluster, timeout)
    except BaseException:
        # Whatever went wrong (even a bug or Ctrl-C), leave no half-started
        # cluster behind: its PIDs would outlive us with nobody to stop them.
        for cluster in fresh.values():
            stop(_in_stop_order(cluster.processes))
        raise
    return fresh


def load(state_root: Path | None = None) -> list[Cluster]:
    """Return every cluster recorded under ``state_root``, sorted by name."""
    root = state_root or default_state_root()
    if not root.is_dir():
        return []
    found = [load_cluster(child) for child in sorted(root.iterdir()) if child.is_dir()]
    return [cluster for cluster in found if cluster is not None]


def status(state_root: Path | None = None) -> list[ClusterStatus]:
    """Report each recorded cluster: its server, whether it answers, and which processes live."""
    report: list[ClusterStatus] = []
    for cluster in load(state_root):
        running = cluster.running()
        healthy = all(running.values()) and _healthy(cluster)
        report.append(ClusterStatus(cluster.name, cluster.server, healthy, running, cluster.state_dir))
    return report


def down(
    names: Sequence[str] | None = None,
    *,
    state_root: Path | None = None,
    keep: bool = False,
    timeout: float = 20.0,
) -> list[str]:
    """Stop clusters by PID (process groups) and delete their data unless ``keep``.

    Args:
        names: Clusters to stop; every recorded one when ``None``.
        state_root: Where they are recorded.
        keep: Keep the state directories (certificates, etcd data, logs).
        timeout: Seconds each component gets to exit on SIGTERM before SIGKILL.

    Returns:
        The names of the clusters that were stopped.
    """
    root = state_root or default_state_root()
    wanted = set(names) if names is not None else None
    stopped: list[str] = []
    for cluster in load(root):
        if wanted is not None and cluster.name not in wanted:
            continue
        killed = stop(_in_stop_order(cluster.processes), timeout=timeout)
        if killed:
            logger.warning(
                "sandbox %s: %s ignored SIGTERM and was killed",
                cluster.name,
                ", ".join(process.component for process in killed),
            )
        if not keep:
            shutil.rmtree(cluster.state_dir, ignore_errors=True)
        stopped.append(cluster.name)
    _write_kubeconfigs(root, None)
    return stopped


def _check_names(names: Sequence[str]) -> None:
    if not names:
        raise ConfigError("no cluster names given")
    for name in names:
        if not _NAME.match(name):
            raise ConfigError(
                "a sandbox cluster name must be a lowercase DNS label of at most 32 characters", key=name
            )
    if len(set(names)) != len(names):
        raise ConfigError(f"cluster names repeat: {', '.join(names)}")


def _prepare(state_dir: Path, name: str, ports: Sequence[int]) -> ClusterLayout:
    # A fresh start always begins from an empty directory: stale etcd data from
    # another CA would be unreadable by the new apiserver's service-account keys.
    shutil.rmtree(state_dir, ignore_errors=True)
    state_dir.mkdir(parents=True, mode=0o700)
    pki = create_cluster_pki(state_dir / "pki", name)
    layout = ClusterLayout(name, state_dir, ClusterPorts.from_list(list(ports)), pki)
    entry = KubeconfigEntry(name, layout.server, pki.ca_cert, pki.admin_cert, pki.admin_key)
    write_component_kubeconfig(layout.component_kubeconfig, entry)
    return layout


def _spawn(layout: ClusterLayout, component: str, command: Sequence[str]) -> ManagedProcess:
    try:
        return spawn(component, command, layout.log_dir / f"{component}.log")
    except ClusterUnavailable as exc:
        raise ClusterUnavailable(f"sandbox {layout.name}: {exc}") from exc


def _in_stop_order(processes: Sequence[ManagedProcess]) -> list[ManagedProcess]:
    rank = {component: index for index, component in enumerate(_STOP_ORDER)}
    return sorted(processes, key=lambda process: rank.get(process.component, -1))


def _healthy(cluster: Cluster) -> bool:
    try:
        api = cluster.admin_api()
    except (OSError, ssl.SSLError):
        # Certificates gone or unreadable (a half-deleted state dir): not usable.
        return False
    with api:
        return api.healthy()


def _check_alive(cluster: Cluster) -> None:
    for process in cluster.processes:
        if not is_running(process):
            status = exit_status(process)
            how = "exited" if status is None else f"exited with status {status}"
            raise ClusterUnavailable(
                f"sandbox {cluster.name}: {process.component} (pid {process.pid}) {how} during start-up; "
                f"last lines of {process.log}:\n{log_tail(process.log) or '(the log is empty)'}"
            )


def _wait_ready(cluster: Cluster, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with cluster.admin_api() as api:
        while not api.healthy():
            _check_alive(cluster)
            if time.monotonic() >= deadline:
                apiserver_log = cluster.state_dir / "logs" / "kube-apiserver.log"
                raise ClusterUnavailable(
                    f"sandbox {cluster.name}: kube-apiserver not ready after {timeout:.0f} s; "
                    f"last lines of its log:\n{log_tail(apiserver_log)}"
                )
            time.sleep(0.25)


def _wait_populated(cluster: Cluster, timeout: float) -> None:
    """Wait for what every client assumes: the default namespace, its service account, a Ready node."""
    with cluster.admin_api() as api:
        api.wait_for("/api/v1/namespaces/default", lambda _: True, timeout=timeout, what="namespace default")
        api.wait_for(
            "/api/v1/namespaces/default/serviceaccounts/default",
            lambda _: True,
            timeout=timeout,
            what=f"{cluster.name}: service account default/default",
        )
        api.wait_for(
            f"/api/v1/nodes/{components.KWOK_NODE_NAME}",
            _node_ready,
            timeout=timeout,
            what=f"{cluster.name}: kwok node {components.KWOK_NODE_NAME} Ready",
        )
    _check_alive(cluster)


def _node_ready(node: dict[str, Any]) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _write_kubeconfigs(root: Path, extra: Path | None) -> Path:
    """Write one kubeconfig for every recorded cluster, at the root and at ``extra``."""
    entries = [cluster.kubeconfig_entry() for cluster in load(root) if cluster.pki.admin_cert.exists()]
    default_path = root / "kubeconfig"
    if not entries:
        default_path.unlink(missing_ok=True)
        return default_path
    write_kubeconfig(default_path, entries)
    if extra is not None:
        write_kubeconfig(extra, entries)
        return extra
    return default_path
