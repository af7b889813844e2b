"""Helpers for release tests on the sandbox clusters: a KubeCluster per cluster, namespaces, Deployments."""

from __future__ import annotations

import time
import uuid
from typing import Any

from kubernetes import config as k8s_config

from ferry.release.kube import merge_patch
from ferry.sandbox.cluster import Sandbox
from ferry.sync.kube import KubeCluster


def connect(sandbox: Sandbox, name: str) -> KubeCluster:
    api_client = k8s_config.new_client_from_config(
        config_file=str(sandbox.kubeconfig), context=sandbox.context(name)
    )
    return KubeCluster(name, api_client)


def fresh_namespace(cluster: KubeCluster, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def set_status(
    cluster: KubeCluster, api_version: str, kind: str, name: str, namespace: str, status: Any
) -> None:
    """Play the controller: write ``status`` through the status subresource."""
    merge_patch(cluster, api_version, kind, name, namespace, {"status": status}, subresource="status")


def kruise_pauses_at_step_1(cluster: KubeCluster, name: str, namespace: str, timeout: float = 60) -> None:
    """Play the Kruise controller once the sync created Rollout ``name``: it pauses at step 1."""
    from ferry.release.canary import KRUISE_API
    from tests.fixtures.wait import wait_until

    wait_until(lambda: cluster.get(KRUISE_API, "Rollout", name, namespace), timeout, f"Rollout {name}")
    set_status(
        cluster,
        KRUISE_API,
        "Rollout",
        name,
        namespace,
        {"phase": "Progressing", "canaryStatus": {"currentStepIndex": 1, "currentStepState": "StepPaused"}},
    )


def deployment(name: str, image: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": name}},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
        },
    }


def wait_ready(cluster: KubeCluster, name: str, namespace: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        live = cluster.get("apps/v1", "Deployment", name, namespace)
        if live is not None:
            status = live.get("status") or {}
            want = live["spec"].get("replicas", 1)
            if (
                status.get("observedGeneration", 0) >= live["metadata"]["generation"]
                and status.get("readyReplicas", 0) == want
                and status.get("updatedReplicas", 0) == want
                and status.get("replicas", 0) == want
            ):
                return live
        if time.monotonic() > deadline:
            raise AssertionError(f"Deployment {namespace}/{name} not ready: {live and live.get('status')}")
        time.sleep(0.5)


def pods(cluster: KubeCluster, namespace: str, selector: str) -> list[dict[str, Any]]:
    return [
        p
        for p in cluster.list("v1", "Pod", namespace=namespace, label_selector=selector)
        if not p["metadata"].get("deletionTimestamp")
    ]
