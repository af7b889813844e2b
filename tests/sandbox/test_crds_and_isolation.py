"""Rollout CRDs behave like real ones, and each cluster trusts only its own credentials."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s_client
from kubernetes.dynamic import DynamicClient

from ferry.sandbox.cluster import Sandbox

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

ClientFactory = Callable[[str], k8s_client.ApiClient]


@pytest.mark.parametrize(
    ("api_version", "spec"),
    [
        (
            "rollouts.kruise.io/v1beta1",
            {"workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}},
        ),
        (
            "rollouts.kruise.io/v1alpha1",
            {
                "objectRef": {"workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}},
                "strategy": {"canary": {"steps": [{"replicas": "20%", "weight": 20}]}},
            },
        ),
        ("argoproj.io/v1alpha1", {"replicas": 2, "strategy": {"canary": {"steps": [{"setWeight": 20}]}}}),
    ],
    ids=["kruise Rollout v1beta1", "kruise Rollout v1alpha1", "argo Rollout v1alpha1"],
)
def test_rollout_crd_has_status_subresource_and_generation(
    kube_client: ClientFactory, api_version: str, spec: dict[str, Any]
) -> None:
    dynamic = DynamicClient(kube_client("staging"))
    rollouts = dynamic.resources.get(api_version=api_version, kind="Rollout")
    name = "web-" + api_version.replace(".", "-").replace("/", "-")
    body = {
        "apiVersion": api_version,
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }
    created = dynamic.server_side_apply(rollouts, body=body, field_manager="ferry-test", force_conflicts=True)
    assert created.metadata.generation == 1
    assert created.spec.to_dict() == spec, "unknown fields must be preserved"

    # A status written through the main resource is dropped: status is a subresource.
    sneaky = {**body, "status": {"phase": "Healthy"}}
    ignored = dynamic.server_side_apply(
        rollouts, body=sneaky, field_manager="ferry-test", force_conflicts=True
    )
    assert not (ignored.to_dict().get("status") or {}).get("phase")

    status_body = {**body, "status": {"phase": "Progressing", "observedGeneration": 1}}
    with_status = dynamic.server_side_apply(
        rollouts.status, body=status_body, field_manager="ferry-controller", force_conflicts=True
    )
    assert with_status.status.phase == "Progressing"
    assert with_status.metadata.generation == 1, "a status write must not bump the generation"

    changed = {**body, "spec": {**spec, "paused": True}}
    bumped = dynamic.server_side_apply(
        rollouts, body=changed, field_manager="ferry-test", force_conflicts=True
    )
    assert bumped.metadata.generation == 2
    assert bumped.status.observedGeneration == 1
    rollouts.delete(name=name, namespace="default")


def test_rollout_crds_are_on_every_cluster(kube_client: ClientFactory, sandbox: Sandbox) -> None:
    for cluster in sandbox.clusters:
        extensions = k8s_client.ApiextensionsV1Api(kube_client(cluster.name))
        names = {crd.metadata.name for crd in extensions.list_custom_resource_definition().items}
        assert {"rollouts.rollouts.kruise.io", "rollouts.argoproj.io"} <= names, cluster.name


def test_each_cluster_has_its_own_port_ca_and_etcd(sandbox: Sandbox) -> None:
    ports = [port for cluster in sandbox.clusters for port in cluster.ports.all()]
    assert len(ports) == len(set(ports)), "clusters must not share a port"
    pids = [process.pid for cluster in sandbox.clusters for process in cluster.processes]
    assert len(pids) == len(set(pids)) == 5 * len(sandbox.clusters)
    assert all(all(cluster.running().values()) for cluster in sandbox.clusters)


def test_a_cluster_refuses_another_clusters_admin_certificate(sandbox: Sandbox) -> None:
    dev, staging = sandbox.cluster("dev"), sandbox.cluster("staging")

    def readyz(server: str, ca: str, cert: str, key: str) -> httpx.Response:
        context = ssl.create_default_context(cafile=ca)
        context.load_cert_chain(cert, key)
        with httpx.Client(verify=context, timeout=5) as client:
            return client.get(f"{server}/api/v1/namespaces")

    own = readyz(dev.server, str(dev.pki.ca_cert), str(dev.pki.admin_cert), str(dev.pki.admin_key))
    assert own.status_code == 200
    # staging's CA does not vouch for dev's serving certificate …
    with pytest.raises(httpx.ConnectError):
        readyz(dev.server, str(staging.pki.ca_cert), str(dev.pki.admin_cert), str(dev.pki.admin_key))
    # … and dev does not accept staging's admin: the request is anonymous, hence forbidden.
    foreign = readyz(
        dev.server, str(dev.pki.ca_cert), str(staging.pki.admin_cert), str(staging.pki.admin_key)
    )
    assert foreign.status_code in (401, 403)
