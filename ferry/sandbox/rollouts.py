"""The real Argo Rollouts controller in a sandbox cluster (``ferry sandbox up --with argo-rollouts``).

The controller is the pinned ``rollouts-controller`` built from the Go module,
run against the cluster's component kubeconfig with the full CRDs of the same
module version (Rollout, AnalysisTemplate, ClusterAnalysisTemplate,
AnalysisRun, Experiment). Its flags, read from its ``--help``/``main.go``:

* ``--leader-elect=false``: one controller per cluster (the default, true,
  would write a Lease in ``argo-rollouts`` every two seconds);
* cluster-wide (no ``--namespaced``), as Argo CD users install it;
* ``--metricsPort``/``--healthzPort``: free ports chosen here. v1.10.1 binds
  both to ``0.0.0.0`` (a ``const`` in ``controller/controller.go``, not a
  flag), so the sandbox cannot keep them off other interfaces; it only ever
  talks to them over 127.0.0.1, and nothing else is told the ports;
* a minimal environment: no proxy variables, no ``ARGO_ROLLOUTS_*``, and
  ``POD_NAMESPACE`` set so it never looks for an in-cluster service account.
  The controller has no telemetry; it calls out only to what a Rollout or an
  AnalysisTemplate names (here, the Prometheus on 127.0.0.1).

Its PID is recorded in the cluster's ``cluster.json`` like every component, so
``down`` stops it (first: it is a client of the apiserver); its ports are in
``rollouts-controller.json`` next to it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ferry.errors import ClusterUnavailable, ConfigError
from ferry.sandbox.api import AdminApi
from ferry.sandbox.build import argo_rollouts_crds_path, binary_path
from ferry.sandbox.components import ClusterLayout
from ferry.sandbox.crds import CRD_PATH
from ferry.sandbox.processes import ManagedProcess, free_ports, is_running, log_tail, spawn, stop
from ferry.sandbox.state import Cluster, record_cluster
from ferry.sandbox.versions import ARGO_ROLLOUTS_VERSION

logger = logging.getLogger(__name__)

ADDON = "argo-rollouts"
COMPONENT = "rollouts-controller"
PORTS_FILE = "rollouts-controller.json"
#: The namespace the controller reads its notification ConfigMap/Secret from (none exist: no notifications).
CONTROLLER_NAMESPACE = "argo-rollouts"
PORT_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class ControllerPorts:
    """Where a cluster's controller serves ``/metrics`` and ``/healthz`` (on every interface, see above)."""

    metrics: int
    healthz: int

    @property
    def healthz_url(self) -> str:
        """The readiness URL, over loopback."""
        return f"http://127.0.0.1:{self.healthz}/healthz"

    @property
    def metrics_url(self) -> str:
        """The Prometheus metrics URL, over loopback."""
        return f"http://127.0.0.1:{self.metrics}/metrics"


def chosen_clusters(argo_rollouts: Collection[str] | bool, names: Sequence[str]) -> tuple[str, ...]:
    """The clusters of ``names`` that get the controller: all for True, none for False, else those named.

    Raises:
        ConfigError: A chosen cluster is not one of ``names``.
    """
    if isinstance(argo_rollouts, bool):
        return tuple(names) if argo_rollouts else ()
    unknown = sorted(set(argo_rollouts) - set(names))
    if unknown:
        raise ConfigError(
            f"{ADDON} is asked for cluster(s) {', '.join(unknown)}, which this call does not start "
            f"(clusters: {', '.join(names)})",
            key=ADDON,
        )
    return tuple(name for name in names if name in set(argo_rollouts))


def parse_with(options: Sequence[str]) -> Collection[str] | bool:
    """Read ``--with`` options: ``argo-rollouts`` (every cluster) or ``argo-rollouts=NAME[,NAME]``.

    >>> parse_with(["argo-rollouts"]), parse_with(["argo-rollouts=production,staging"]), parse_with([])
    (True, ('production', 'staging'), False)

    Raises:
        ConfigError: An add-on other than ``argo-rollouts``, or an empty cluster list.
    """
    chosen: list[str] = []
    everywhere = False
    for option in options:
        addon, separator, clusters = option.partition("=")
        if addon.strip() != ADDON:
            raise ConfigError(f"unknown add-on {addon!r}; known: {ADDON}", key="--with")
        if not separator:
            everywhere = True
            continue
        named = [c.strip() for c in clusters.split(",") if c.strip()]
        if not named:
            raise ConfigError(f"--with {option!r} names no cluster", key="--with")
        chosen += named
    if everywhere:
        return True
    return tuple(dict.fromkeys(chosen)) if chosen else False


def controller_command(binary: Path, kubeconfig: Path, ports: ControllerPorts) -> list[str]:
    """The controller's argv (see the module docstring for why each flag)."""
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        "--leader-elect=false",
        f"--metricsPort={ports.metrics}",
        f"--healthzPort={ports.healthz}",
        "--loglevel=info",
        "--logformat=text",
    ]


def controller_environment(state_dir: Path) -> dict[str, str]:
    """A minimal environment: PATH, a HOME inside the cluster's directory, the namespace, nothing else."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(state_dir),
        "POD_NAMESPACE": CONTROLLER_NAMESPACE,
    }


def controller_ports(cluster: Cluster) -> ControllerPorts | None:
    """The ports of ``cluster``'s controller, when one was started for it."""
    try:
        data = json.loads((cluster.state_dir / PORTS_FILE).read_text(encoding="utf-8"))
        return ControllerPorts(int(data["metrics"]), int(data["healthz"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def controller_process(cluster: Cluster) -> ManagedProcess | None:
    """The recorded controller process of ``cluster``, if any."""
    return next((p for p in cluster.processes if p.component == COMPONENT), None)


def argo_rollouts_crds(bin_dir: Path | None = None) -> list[dict[str, Any]]:
    """The CRDs of the pinned Argo Rollouts, as exported at build time."""
    crds: list[dict[str, Any]] = json.loads(argo_rollouts_crds_path(bin_dir).read_text(encoding="utf-8"))
    return crds


def start_controller(cluster: Cluster, *, bin_dir: Path | None = None, timeout: float = 120.0) -> Cluster:
    """Install the full CRDs and start the controller for ``cluster`` (a running one is kept).

    Returns:
        The cluster, with the controller among its recorded processes.

    Raises:
        ToolError: The controller or its CRDs are not built.
        ClusterUnavailable: The controller exited, or did not serve ``/healthz``
            on its own ports in time; the message carries its log's tail.
    """
    existing = controller_process(cluster)
    if existing is not None and is_running(existing):
        return cluster
    started = time.monotonic()
    with cluster.admin_api() as api:
        install_upstream_crds(api, argo_rollouts_crds(bin_dir), timeout=timeout)
    binary = binary_path(COMPONENT, bin_dir)
    layout = ClusterLayout(cluster.name, cluster.state_dir, cluster.ports, cluster.pki)
    others = tuple(p for p in cluster.processes if p.component != COMPONENT)
    for attempt in range(1, PORT_ATTEMPTS + 1):
        ports = ControllerPorts(*free_ports(2))
        process = spawn(
            COMPONENT,
            controller_command(binary, layout.component_kubeconfig, ports),
            layout.log_dir / f"{COMPONENT}.log",
            env=controller_environment(cluster.state_dir),
        )
        # Recorded before waiting, so a crash or Ctrl-C here still leaves its PID for `down`.
        recorded = record_cluster(layout, (*others, process))
        (cluster.state_dir / PORTS_FILE).write_text(
            json.dumps({"metrics": ports.metrics, "healthz": ports.healthz, "version": ARGO_ROLLOUTS_VERSION})
        )
        problem = _wait_serving(process, ports, timeout)
        if problem is None:
            logger.info(
                "sandbox %s: Argo Rollouts %s controller ready in %.1f s (healthz :%d, metrics :%d)",
                cluster.name,
                ARGO_ROLLOUTS_VERSION,
                time.monotonic() - started,
                ports.healthz,
                ports.metrics,
            )
            return recorded
        stop([process])
        if "address already in use" not in problem or attempt == PORT_ATTEMPTS:
            raise ClusterUnavailable(f"sandbox {cluster.name}: {COMPONENT} {problem}")
        logger.warning(
            "sandbox %s: a controller port was taken; trying others (%d/%d)",
            cluster.name,
            attempt,
            PORT_ATTEMPTS,
        )
    raise AssertionError("unreachable")


def install_upstream_crds(api: AdminApi, crds: Sequence[dict[str, Any]], *, timeout: float) -> None:
    """Create (or replace) each CRD and wait until it is Established.

    Create and PUT rather than server-side apply: on these schemas the
    apiserver's field ownership took 23 s of a loaded machine against 4 s.
    """
    for crd in crds:
        path = f"{CRD_PATH}/{crd['metadata']['name']}"
        if api.create(CRD_PATH, crd) is None:
            api.replace(path, crd)
    for crd in crds:
        name = crd["metadata"]["name"]
        api.wait_for(
            f"{CRD_PATH}/{name}",
            lambda body: any(
                c.get("type") == "Established" and c.get("status") == "True"
                for c in (body.get("status") or {}).get("conditions") or []
            ),
            timeout=timeout,
            what=f"CRD {name} Established",
        )


def _wait_serving(process: ManagedProcess, ports: ControllerPorts, timeout: float) -> str | None:
    """None once ``/healthz`` answers ``ok`` on loopback from *this* process's sockets, else what went wrong.

    The controller only logs a failed bind and keeps running, so the answer
    alone could come from whoever holds the port: the process must also be
    the one listening on both ports.
    """
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while True:
            tail = log_tail(process.log, 40)
            if "address already in use" in tail:
                return f"could not bind its ports: address already in use\n{tail}"
            if not is_running(process):
                return f"exited during start-up; last lines of {process.log}:\n{tail}"
            if {ports.metrics, ports.healthz} <= set(listening_ports(process.pid)):
                try:
                    answer = client.get(ports.healthz_url)
                    if answer.status_code == 200 and answer.text.strip() == "ok":
                        return None
                except httpx.TransportError:
                    pass
            if time.monotonic() >= deadline:
                return f"did not serve /healthz within {timeout:.0f} s; last lines of {process.log}:\n{tail}"
            time.sleep(0.2)


def listening_ports(pid: int) -> dict[int, str]:
    """Port → local address (``0.0.0.0``, ``127.0.0.1``, ``::``) of each TCP socket ``pid`` listens on.

    Read from ``/proc``: the process's socket fds, matched by inode against the
    kernel's TCP tables of this network namespace.
    """
    inodes: set[str] = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    except OSError:
        return {}
    found: dict[int, str] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and fields[9] in inodes:  # 0A: TCP_LISTEN
                raw, port = fields[1].rsplit(":", 1)
                found[int(port, 16)] = _address(raw)
    return found


def _address(raw: str) -> str:
    packed = bytes.fromhex(raw)
    # /proc writes each 32-bit word in host (little-endian) order.
    words = b"".join(packed[i : i + 4][::-1] for i in range(0, len(packed), 4))
    return str(ipaddress.ip_address(words))
