"""Command lines of the control-plane components of one sandbox cluster.

Pure functions from a cluster's layout (ports, files) to argv lists, so the
flags can be read and unit-tested in one place. The choices aim at three
clusters sharing two cores and a few GiB:

* etcd skips fsync and keeps a small quota: the data is throwaway.
* Leader election is off: each cluster has exactly one controller manager and
  one scheduler, and election would add a lease write every two seconds.
* API Priority and Fairness is off: it exists to protect a shared apiserver
  from noisy tenants, and costs goroutines and CPU the sandbox has no use for.
* Everything binds 127.0.0.1, on ports chosen free at start.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ferry.sandbox.pki import ClusterPki

SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
#: etcd's backend quota. Three clusters of throwaway test objects fit in far less.
ETCD_QUOTA_BYTES = 256 * 1024 * 1024
#: The fake node every cluster gets, and the annotation that makes kwok manage it.
KWOK_NODE_NAME = "kwok-node-0"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"


@dataclass(frozen=True, slots=True)
class ClusterPorts:
    """The loopback ports one cluster listens on."""

    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kwok: int

    @classmethod
    def from_list(cls, ports: list[int]) -> ClusterPorts:
        """Build from six free ports, in field order."""
        return cls(*ports[:6])

    def all(self) -> tuple[int, ...]:
        """Every port, for checks that they are free again after ``down``."""
        return (
            self.etcd_client,
            self.etcd_peer,
            self.apiserver,
            self.controller_manager,
            self.scheduler,
            self.kwok,
        )


@dataclass(frozen=True, slots=True)
class ClusterLayout:
    """Where one cluster keeps its files, and the ports it uses."""

    name: str
    state_dir: Path
    ports: ClusterPorts
    pki: ClusterPki

    @property
    def etcd_data(self) -> Path:
        """etcd's data directory."""
        return self.state_dir / "etcd"

    @property
    def component_kubeconfig(self) -> Path:
        """Kubeconfig (file references) the controller manager, scheduler and kwok use."""
        return self.state_dir / "admin.kubeconfig"

    @property
    def log_dir(self) -> Path:
        """One log file per component."""
        return self.state_dir / "logs"

    @property
    def server(self) -> str:
        """The apiserver URL."""
        return f"https://127.0.0.1:{self.ports.apiserver}"


def etcd_command(binary: Path, layout: ClusterLayout) -> list[str]:
    """Return the argv of a single-member etcd on loopback, plain HTTP (never leaves the host)."""
    client = f"http://127.0.0.1:{layout.ports.etcd_client}"
    peer = f"http://127.0.0.1:{layout.ports.etcd_peer}"
    return [
        str(binary),
        f"--name={layout.name}",
        f"--data-dir={layout.etcd_data}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster={layout.name}={peer}",
        "--initial-cluster-state=new",
        f"--quota-backend-bytes={ETCD_QUOTA_BYTES}",
        "--unsafe-no-fsync",
        "--snapshot-count=10000",
        "--log-level=warn",
    ]


def apiserver_command(binary: Path, layout: ClusterLayout) -> list[str]:
    """Return the argv of kube-apiserver serving TLS with client-certificate auth and RBAC."""
    pki = layout.pki
    return [
        str(binary),
        f"--etcd-servers=http://127.0.0.1:{layout.ports.etcd_client}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        # The endpoint reconciler refuses a loopback advertise address, and no
        # in-cluster client needs the `kubernetes` Service's endpoints here.
        "--endpoint-reconciler-type=none",
        f"--secure-port={layout.ports.apiserver}",
        f"--cert-dir={layout.state_dir / 'pki'}",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
        f"--client-ca-file={pki.ca_cert}",
        f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
        f"--service-account-key-file={pki.service_account_public}",
        f"--service-account-signing-key-file={pki.service_account_key}",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        "--authorization-mode=Node,RBAC",
        "--allow-privileged=true",
        "--enable-priority-and-fairness=false",
        "--profiling=false",
        "--event-ttl=15m",
    ]


def controller_manager_command(binary: Path, layout: ClusterLayout) -> list[str]:
    """Return the argv of kube-controller-manager (Deployment, ReplicaSet, namespace, SA controllers …)."""
    kubeconfig = str(layout.component_kubeconfig)
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={layout.ports.controller_manager}",
        "--leader-elect=false",
        f"--service-account-private-key-file={layout.pki.service_account_key}",
        f"--root-ca-file={layout.pki.ca_cert}",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        "--profiling=false",
    ]


def scheduler_command(binary: Path, layout: ClusterLayout) -> list[str]:
    """Return the argv of kube-scheduler."""
    kubeconfig = str(layout.component_kubeconfig)
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={layout.ports.scheduler}",
        "--leader-elect=false",
        "--profiling=false",
    ]


def kwok_command(binary: Path, layout: ClusterLayout, stages: Path) -> list[str]:
    """Return the argv of kwok, managing only nodes annotated ``kwok.x-k8s.io/node=fake``.

    kwok then plays kubelet for those nodes: it keeps them Ready (renewing a
    node Lease, as kubelets do, rather than rewriting node status) and moves
    their pods through Pending → Running → Ready, so Deployments become
    Available. ``stages`` is kwok's default Stage file (see ``build``).
    """
    return [
        str(binary),
        f"--config={stages}",
        f"--kubeconfig={layout.component_kubeconfig}",
        "--manage-all-nodes=false",
        "--node-lease-duration-seconds=40",
        f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake",
        f"--server-address=127.0.0.1:{layout.ports.kwok}",
        "--cidr=10.244.0.0/16",
        "--node-ip=127.0.0.1",
    ]


def kwok_node(name: str = KWOK_NODE_NAME) -> dict[str, object]:
    """Return the fake Node object kwok will keep Ready.

    It has no taint, unlike kwok's examples, so ordinary workloads schedule on
    it without tolerations, as they would on a real cluster's worker.
    """
    resources = {"cpu": "32", "memory": "256Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/role": "agent",
                "node-role.kubernetes.io/agent": "",
                "type": "kwok",
            },
        },
        "spec": {},
        "status": {"allocatable": resources, "capacity": resources, "phase": "Running"},
    }
