"""The real Argo Rollouts controller in the sandbox: its CRDs, flags, ports, environment, start and stop."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from kubernetes import client as k8s_client

from ferry.errors import ConfigError
from ferry.sandbox import cluster as sandbox_cluster
from ferry.sandbox import rollouts
from ferry.sandbox.build import require_binaries
from ferry.sandbox.cluster import Sandbox
from ferry.sandbox.processes import is_running, port_is_free
from ferry.sandbox.versions import ARGO_ROLLOUTS_VERSION, CLUSTER_TOOLS
from tests.fixtures.clusters import ARGO_ROLLOUTS_CLUSTER

pytestmark = [pytest.mark.cluster]

ClientFactory = Callable[[str], k8s_client.ApiClient]

ARGO_CRDS = {
    "rollouts.argoproj.io",
    "experiments.argoproj.io",
    "analysisruns.argoproj.io",
    "analysistemplates.argoproj.io",
    "clusteranalysistemplates.argoproj.io",
}


def _crds(kube_client: ClientFactory, name: str) -> dict[str, k8s_client.V1CustomResourceDefinition]:
    api = k8s_client.ApiextensionsV1Api(kube_client(name))
    return {crd.metadata.name: crd for crd in api.list_custom_resource_definition().items}


def test_the_controller_cluster_has_the_modules_full_crds(
    sandbox: Sandbox, kube_client: ClientFactory
) -> None:
    installed = _crds(kube_client, ARGO_ROLLOUTS_CLUSTER)
    assert set(installed) >= ARGO_CRDS
    exported = {crd["metadata"]["name"]: crd for crd in rollouts.argo_rollouts_crds()}
    assert set(exported) == ARGO_CRDS, "exported from the module's manifests/crds"
    for name in ARGO_CRDS:
        crd = installed[name]
        assert any(c.type == "Established" and c.status == "True" for c in crd.status.conditions), name
        served = [v.name for v in crd.spec.versions]
        assert served == [v["name"] for v in exported[name]["spec"]["versions"]] == ["v1alpha1"], name
    rollout_schema = installed["rollouts.argoproj.io"].spec.versions[0].schema.open_apiv3_schema
    strategy = rollout_schema.properties["spec"].properties["strategy"].properties
    assert {"canary", "blueGreen"} <= set(strategy), "the real schema, not the sandbox's open one"
    assert installed["rollouts.argoproj.io"].spec.names.short_names == ["ro"]
    # The other clusters keep the sandbox's minimal Rollout CRD and no analysis kinds.
    for other in {c.name for c in sandbox.clusters} - {ARGO_ROLLOUTS_CLUSTER}:
        names = set(_crds(kube_client, other))
        assert "rollouts.argoproj.io" in names and "analysisruns.argoproj.io" not in names, other


def test_the_controller_runs_by_pid_with_its_flags_and_a_minimal_environment(sandbox: Sandbox) -> None:
    cluster = sandbox.cluster(ARGO_ROLLOUTS_CLUSTER)
    process = rollouts.controller_process(cluster)
    assert process is not None and is_running(process)
    # By name: the live sandbox re-reads cluster.json, so each access gives new objects.
    assert all(rollouts.controller_process(c) is None for c in sandbox.clusters if c.name != cluster.name)
    argv = Path(f"/proc/{process.pid}/cmdline").read_bytes().decode().split("\0")
    ports = rollouts.controller_ports(cluster)
    assert ports is not None
    assert argv[0].endswith(f"rollouts-controller-{ARGO_ROLLOUTS_VERSION}")
    assert "--leader-elect=false" in argv and "--namespaced" not in argv
    assert f"--metricsPort={ports.metrics}" in argv and f"--healthzPort={ports.healthz}" in argv
    environ = Path(f"/proc/{process.pid}/environ").read_bytes().split(b"\0")
    names = {entry.split(b"=", 1)[0].decode() for entry in environ if entry}
    assert names == {"PATH", "HOME", "POD_NAMESPACE"}, "no proxy, no ARGO_ROLLOUTS_* defaults"


def test_its_servers_answer_on_loopback_from_its_own_sockets(
    sandbox: Sandbox, kube_client: ClientFactory
) -> None:
    cluster = sandbox.cluster(ARGO_ROLLOUTS_CLUSTER)
    process, ports = rollouts.controller_process(cluster), rollouts.controller_ports(cluster)
    assert process is not None and ports is not None
    listening = rollouts.listening_ports(process.pid)
    assert {ports.metrics, ports.healthz} <= set(listening)
    # v1.10.1 binds every interface by a constant; this pins that fact (see ferry.sandbox.rollouts).
    assert {listening[ports.metrics], listening[ports.healthz]} <= {"0.0.0.0", "::"}
    with httpx.Client(trust_env=False, timeout=5) as client:
        assert client.get(ports.healthz_url).text == "ok"
        exposed = client.get(ports.metrics_url).text
    assert "argo_rollouts_controller_info" in exposed and ARGO_ROLLOUTS_VERSION.lstrip("v") in exposed
    coordination = k8s_client.CoordinationV1Api(kube_client(ARGO_ROLLOUTS_CLUSTER))
    leases = coordination.list_lease_for_all_namespaces()
    assert not [ls.metadata.name for ls in leases.items if "argo-rollouts" in ls.metadata.name], (
        "no leader election"
    )


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["argo-rollouts=elsewhere"], "argo-rollouts is asked for cluster(s) elsewhere"),
        (["flux"], "unknown add-on 'flux'"),
        (["argo-rollouts="], "names no cluster"),
    ],
)
def test_bad_with_options_are_refused_before_anything_starts(
    tmp_path: Path, option: list[str], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        sandbox_cluster.up(("solo",), state_root=tmp_path, argo_rollouts=rollouts.parse_with(option))
    assert not (tmp_path / "solo").exists()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "ferry.sandbox.cli", *args], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"ferry sandbox {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slow
def test_up_with_argo_rollouts_then_down_stops_the_controller_by_pid(tmp_path: Path) -> None:
    require_binaries((*CLUSTER_TOOLS, rollouts.COMPONENT))  # fails, never skips
    state = tmp_path / "state"
    up = _cli("up", "--name", "solo", "--state-dir", str(state), "--with", "argo-rollouts")
    assert "+argo-rollouts" in up.stdout
    (solo,) = sandbox_cluster.load(state)
    controller, ports = rollouts.controller_process(solo), rollouts.controller_ports(solo)
    assert controller is not None and ports is not None and is_running(controller)
    assert "rollouts-controller=up" in _cli("status", "--state-dir", str(state)).stdout

    _cli("up", "--name", "solo", "--state-dir", str(state), "--with", "argo-rollouts=solo")
    (again,) = sandbox_cluster.load(state)
    assert [p.pid for p in again.processes] == [p.pid for p in solo.processes], "a running controller is kept"

    assert "solo" in _cli("down", "--state-dir", str(state)).stdout
    assert not is_running(controller)
    assert [p for p in (ports.metrics, ports.healthz, *solo.ports.all()) if not port_is_free(p)] == []
