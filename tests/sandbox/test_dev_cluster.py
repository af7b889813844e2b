"""Server-side apply and a real rollout on ``dev``; ``staging`` and ``production`` stay untouched.

Everything here goes through the official Kubernetes client against the real
apiserver, controller manager, scheduler and kwok of the session sandbox.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client as k8s_client
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

# Unique per run: the session's clusters are shared with every other test, and with a rerun.
SUFFIX = uuid.uuid4().hex[:6]
NAMESPACE = f"shop-{SUFFIX}"
FIELD_MANAGER = f"ferry-test-{SUFFIX}"
ClientFactory = Callable[[str], k8s_client.ApiClient]


def _namespace() -> dict[str, Any]:
    # A label gives the apply something to own: an object with only its name
    # yields an empty field set, and then no managedFields entry at all.
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": NAMESPACE, "labels": {"team": "shop"}},
    }


def _deployment(image: str) -> dict[str, Any]:
    labels = {"app": "web"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": labels},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 8080}]}]},
            },
        },
    }


def _service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": NAMESPACE},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def _apply(dynamic: DynamicClient, body: dict[str, Any]) -> Any:
    resource = dynamic.resources.get(api_version=body["apiVersion"], kind=body["kind"])
    return dynamic.server_side_apply(
        resource,
        body=body,
        namespace=body["metadata"].get("namespace"),
        field_manager=FIELD_MANAGER,
        force_conflicts=True,
    )


def _wait_rolled_out(
    apps: k8s_client.AppsV1Api, image: str, timeout: float = 90.0
) -> k8s_client.V1Deployment:
    """Wait as `kubectl rollout status` does: observed, updated, available, nothing old left."""
    deadline = time.monotonic() + timeout
    while True:
        deployment = apps.read_namespaced_deployment("web", NAMESPACE)
        status = deployment.status
        conditions = {c.type: c.status for c in status.conditions or []}
        if (
            status.observed_generation == deployment.metadata.generation
            and deployment.spec.template.spec.containers[0].image == image
            and status.updated_replicas == 3
            and status.ready_replicas == 3
            and status.available_replicas == 3
            and (status.replicas or 0) == 3
            and conditions.get("Available") == "True"
        ):
            return deployment
        if time.monotonic() >= deadline:
            pytest.fail(f"deployment web did not roll out to {image} in {timeout:.0f} s: {status}")
        time.sleep(0.5)


def _written_by_this_test(api: k8s_client.ApiClient) -> list[str]:
    """Every object of a cluster that this test's field manager (unique to this run) wrote, or that
    lives in its namespace. Other tests' objects may change meanwhile; none of them carries either."""
    dynamic = DynamicClient(api)
    found = []
    for api_version, kind in (
        ("v1", "Namespace"),
        ("apps/v1", "Deployment"),
        ("apps/v1", "ReplicaSet"),
        ("v1", "Service"),
        ("v1", "Pod"),
    ):
        for item in dynamic.resources.get(api_version=api_version, kind=kind).get().items:
            managers = {entry.manager for entry in item.metadata.managedFields or []}
            if FIELD_MANAGER in managers or NAMESPACE in (item.metadata.namespace, item.metadata.name):
                found.append(f"{kind} {item.metadata.namespace}/{item.metadata.name}")
    return found


def test_server_side_apply_and_rollout_on_dev_leave_other_clusters_untouched(
    kube_client: ClientFactory, cluster_contexts: dict[str, str]
) -> None:
    assert set(cluster_contexts) == {"dev", "staging", "production"}
    dev = kube_client("dev")
    dynamic = DynamicClient(dev)
    apps = k8s_client.AppsV1Api(dev)
    core = k8s_client.CoreV1Api(dev)

    for body in (_namespace(), _deployment("registry.local/web:1.0.0"), _service()):
        applied = _apply(dynamic, body)
        managers = [entry.manager for entry in applied.metadata.managedFields]
        assert FIELD_MANAGER in managers, f"{body['kind']} was not applied server-side"
        assert any(entry.operation == "Apply" for entry in applied.metadata.managedFields)

    first = _wait_rolled_out(apps, "registry.local/web:1.0.0")
    assert first.status.observed_generation == first.metadata.generation == 1
    pods = core.list_namespaced_pod(NAMESPACE, label_selector="app=web").items
    assert len(pods) == 3
    assert all(pod.spec.node_name == "kwok-node-0" and pod.status.phase == "Running" for pod in pods)
    service = core.read_namespaced_service("web", NAMESPACE)
    assert service.spec.cluster_ip.startswith("10.0.0.")

    # Re-applying the same manifest is a no-op for the apiserver: no new generation.
    _apply(dynamic, _deployment("registry.local/web:1.0.0"))
    assert apps.read_namespaced_deployment("web", NAMESPACE).metadata.generation == 1

    old_sets = {rs.metadata.name for rs in apps.list_namespaced_replica_set(NAMESPACE).items}
    assert len(old_sets) == 1

    _apply(dynamic, _deployment("registry.local/web:1.1.0"))
    second = _wait_rolled_out(apps, "registry.local/web:1.1.0")
    assert second.metadata.generation == 2
    assert second.status.observed_generation == second.metadata.generation

    replica_sets = apps.list_namespaced_replica_set(NAMESPACE).items
    by_image = {rs.spec.template.spec.containers[0].image: rs for rs in replica_sets}
    assert set(by_image) == {"registry.local/web:1.0.0", "registry.local/web:1.1.0"}
    new_set = by_image["registry.local/web:1.1.0"]
    assert new_set.metadata.name not in old_sets
    assert new_set.status.ready_replicas == 3
    assert by_image["registry.local/web:1.0.0"].spec.replicas == 0
    images = {
        pod.spec.containers[0].image
        for pod in core.list_namespaced_pod(NAMESPACE, label_selector="app=web").items
        if pod.metadata.deletion_timestamp is None
    }
    assert images == {"registry.local/web:1.1.0"}

    for other in ("staging", "production"):
        other_dynamic = DynamicClient(kube_client(other))
        namespaces = other_dynamic.resources.get(api_version="v1", kind="Namespace")
        with pytest.raises(NotFoundError):
            namespaces.get(name=NAMESPACE)
        assert _written_by_this_test(kube_client(other)) == [], other
    # The same check sees this test's writes where they did happen.
    assert f"Deployment {NAMESPACE}/web" in _written_by_this_test(dev)
    core.delete_namespace(NAMESPACE)  # leave dev as the next test expects to find it
