"""Pinned versions of every Go-built tool the sandbox uses, and how to build each.

One place to bump a version: the cache file name is ``<name>-<version>``, so a
new pin builds a new binary and an unchanged pin reuses the cached one. The
control plane is built inside the tools module in ``gomod/kube``; its ``go.mod``
must require the same Kubernetes and etcd versions as this file (a unit test
checks that), because the staging ``replace`` lines are tied to the release.

Kubernetes ``v1.37.2`` is the newest release the Go module proxy serves whose
``go`` directive (1.26.0) the machine's go1.26.8 can build. helm's and
kustomize's pins are in :mod:`ferry.tools`, which the renderers read without
importing the sandbox. etcd is built from the same ``v3.7.0`` that Kubernetes
1.37 itself depends on. Debian's etcd 3.4.23 was tried: the
apiserver starts on it, but logs "RequestWatchProgress feature is not
supported" and falls back from consistent reads served by the watch cache to
quorum reads from etcd, a mode no supported production cluster runs in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ferry.tools import HELM_VERSION, KUSTOMIZE_VERSION

KUBERNETES_VERSION = "v1.37.2"
ETCD_VERSION = "v3.7.0"
KWOK_VERSION = "v0.8.0"
#: v1.10.2 needs go 1.26.10; v1.10.1 is the newest the local go1.26.8 builds.
ARGO_ROLLOUTS_VERSION = "v1.10.1"

#: Directory of the tools module (go.mod with the staging ``replace`` lines).
KUBE_TOOLS_MODULE = Path(__file__).parent / "gomod" / "kube"
#: Tools module of the Argo Rollouts controller (it too depends on k8s.io/kubernetes).
ARGO_TOOLS_MODULE = Path(__file__).parent / "gomod" / "argo-rollouts"


def _kubernetes_version_ldflags(version: str) -> tuple[str, ...]:
    """``-X`` flags that stamp the release into the binary, as upstream's Makefile does.

    Without them the components report ``v0.0.0-master``, which clients and
    kwok display and some version checks reject.
    """
    major, minor = version.lstrip("v").split(".")[:2]
    stamped: list[str] = []
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        stamped += [
            f"-X {package}.gitVersion={version}",
            f"-X {package}.gitMajor={major}",
            f"-X {package}.gitMinor={minor}",
            f"-X {package}.gitTreeState=clean",
        ]
    return tuple(stamped)


@dataclass(frozen=True, slots=True)
class GoTool:
    """A binary built from a Go main package at a pinned version.

    Attributes:
        name: Binary name; the cached file is ``<name>-<version>``.
        version: Pinned release tag.
        package: Import path of the ``main`` package.
        module_dir: Our tools module to build inside (``go build``); ``None``
            means the package's own module is self-contained and is built with
            ``go install <package>@<version>``.
        ldflags: Extra ``-X`` flags (``-s -w`` is always added).
    """

    name: str
    version: str
    package: str
    module_dir: Path | None = None
    ldflags: tuple[str, ...] = ()

    @property
    def file_name(self) -> str:
        """Name of the cached binary, e.g. ``kube-apiserver-v1.37.2``."""
        return f"{self.name}-{self.version}"


_KUBE_STAMP = _kubernetes_version_ldflags(KUBERNETES_VERSION)

#: Every tool, in build order (the control plane first: it takes the longest
#: and the other tools are useless without it).
TOOLS: tuple[GoTool, ...] = (
    GoTool(
        "kube-apiserver",
        KUBERNETES_VERSION,
        "k8s.io/kubernetes/cmd/kube-apiserver",
        KUBE_TOOLS_MODULE,
        _KUBE_STAMP,
    ),
    GoTool(
        "kube-controller-manager",
        KUBERNETES_VERSION,
        "k8s.io/kubernetes/cmd/kube-controller-manager",
        KUBE_TOOLS_MODULE,
        _KUBE_STAMP,
    ),
    GoTool(
        "kube-scheduler",
        KUBERNETES_VERSION,
        "k8s.io/kubernetes/cmd/kube-scheduler",
        KUBE_TOOLS_MODULE,
        _KUBE_STAMP,
    ),
    GoTool("etcd", ETCD_VERSION, "go.etcd.io/etcd/server/v3", KUBE_TOOLS_MODULE),
    # kwok's version constant is already the release number, so it needs no stamp.
    GoTool("kwok", KWOK_VERSION, "sigs.k8s.io/kwok/cmd/kwok"),
    GoTool(
        "helm",
        HELM_VERSION,
        "helm.sh/helm/v4/cmd/helm",
        ldflags=(f"-X helm.sh/helm/v4/internal/version.version={HELM_VERSION}",),
    ),
    GoTool(
        "kustomize",
        KUSTOMIZE_VERSION,
        "sigs.k8s.io/kustomize/kustomize/v5",
        ldflags=(f"-X sigs.k8s.io/kustomize/api/provenance.version={KUSTOMIZE_VERSION}",),
    ),
    # The canary tests run the real controller (``sandbox up --with argo-rollouts``).
    GoTool(
        "rollouts-controller",
        ARGO_ROLLOUTS_VERSION,
        "github.com/argoproj/argo-rollouts/cmd/rollouts-controller",
        ARGO_TOOLS_MODULE,
        (f"-X github.com/argoproj/argo-rollouts/utils/version.version={ARGO_ROLLOUTS_VERSION.lstrip('v')}",),
    ),
)

TOOLS_BY_NAME: dict[str, GoTool] = {tool.name: tool for tool in TOOLS}

#: The Argo Rollouts CRDs a controller-running cluster gets, from the module's
#: ``manifests/crds`` (its kustomization's order). They are exported next to
#: the binary at build time (see ``build``), so ``up`` needs no module cache.
ARGO_ROLLOUTS_CRD_FILES: tuple[str, ...] = (
    "manifests/crds/rollout-crd.yaml",
    "manifests/crds/experiment-crd.yaml",
    "manifests/crds/analysis-run-crd.yaml",
    "manifests/crds/analysis-template-crd.yaml",
    "manifests/crds/cluster-analysis-template-crd.yaml",
)

#: kwok's own default stages (what ``kwokctl`` feeds it), inside the kwok module.
#: The kwok binary has none built in, so they are exported next to it from the
#: module cache at build time: node-initialize and the lease heartbeat keep the
#: fake node Ready; the pod stages move pods to Running/Ready, complete Jobs,
#: and finish deletions the way a kubelet would.
KWOK_STAGE_FILES: tuple[str, ...] = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
)

#: The binaries a running cluster needs (helm and kustomize are for the sync engine).
CLUSTER_TOOLS: tuple[str, ...] = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
)
