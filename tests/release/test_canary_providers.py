"""Canary providers against the real API server: the test plays the rollout controller by writing status."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ferry.errors import ClusterError
from ferry.release.canary import (
    ARGO_API,
    KRUISE_API,
    KRUISE_V1ALPHA1,
    TRACK_LABEL,
    ArgoRollout,
    KruiseRollout,
    NativeCanary,
    canary_name,
    changed_deployments,
)
from ferry.release.gates import CanaryStep
from ferry.sandbox.cluster import Sandbox
from ferry.sync.kube import KubeCluster
from tests.release.kube import connect, deployment, fresh_namespace, pods, set_status, wait_ready

pytestmark = [pytest.mark.cluster]


@pytest.fixture
def staging(sandbox: Sandbox) -> Iterator[KubeCluster]:
    cluster = connect(sandbox, "staging")
    yield cluster
    cluster.close()


def kruise_rollout(name: str) -> dict[str, Any]:
    return {
        "apiVersion": KRUISE_API,
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "echo-server"},
            "strategy": {
                "canary": {
                    "steps": [
                        {"traffic": "20%", "replicas": 1},
                        {"traffic": "50%", "replicas": "50%"},
                        {"traffic": "100%", "replicas": "100%"},
                    ]
                }
            },
        },
    }


def test_kruise_approve_patches_status_to_step_ready_only_from_step_paused(staging: KubeCluster) -> None:
    ns = fresh_namespace(staging, "kruise")
    live = staging.apply({**kruise_rollout("echo"), "metadata": {"name": "echo", "namespace": ns}})
    rollout = KruiseRollout(staging, ns, "echo", poll_interval=0.1)

    set_status(
        staging,
        KRUISE_API,
        "Rollout",
        "echo",
        ns,
        {"phase": "Progressing", "canaryStatus": {"currentStepIndex": 1, "currentStepState": "StepUpgrade"}},
    )
    with pytest.raises(ClusterError, match="not 'StepPaused'"):
        rollout.approve()
    assert staging.get(KRUISE_API, "Rollout", "echo", ns)["status"]["canaryStatus"]["currentStepState"] == (
        "StepUpgrade"
    )
    with pytest.raises(TimeoutError):
        rollout.next_pause(timeout=0.5)

    set_status(
        staging,
        KRUISE_API,
        "Rollout",
        "echo",
        ns,
        {"canaryStatus": {"currentStepIndex": 2, "currentStepState": "StepPaused"}},
    )
    step = rollout.next_pause(timeout=5)
    assert step == CanaryStep(2, 3, 50, 50)
    assert step.label() == "step 2/3 (traffic 50%, replicas 50)"
    rollout.approve(step)

    after = staging.get(KRUISE_API, "Rollout", "echo", ns)
    assert after["status"]["canaryStatus"] == {"currentStepIndex": 2, "currentStepState": "StepReady"}
    assert after["status"]["phase"] == "Progressing"
    assert after["spec"] == live["spec"], "approve must not touch the spec"
    assert after["metadata"]["generation"] == live["metadata"]["generation"]
    with pytest.raises(ClusterError, match="not 'StepPaused'"):
        rollout.approve()  # a second approval of the same step is refused, as kubectl-kruise refuses it

    set_status(
        staging,
        KRUISE_API,
        "Rollout",
        "echo",
        ns,
        {"phase": "Healthy", "canaryStatus": {"currentStepIndex": 3, "currentStepState": "Completed"}},
    )
    assert rollout.next_pause(timeout=5) is None


def test_kruise_v1alpha1_rollout_is_driven_in_its_own_version(staging: KubeCluster) -> None:
    """The seed chart's Rollout is rollouts.kruise.io/v1alpha1; the sandbox serves it beside v1beta1."""
    ns = fresh_namespace(staging, "kruise-alpha")
    body = {
        "apiVersion": KRUISE_V1ALPHA1,
        "kind": "Rollout",
        "metadata": {"name": "rollouts-demo", "namespace": ns},
        "spec": {
            "objectRef": {"workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "echo"}},
            "strategy": {
                "canary": {"steps": [{"replicas": "20%", "weight": 20}, {"replicas": "60%", "weight": 60}]}
            },
        },
    }
    staging.apply(body)
    paused = {
        "phase": "Progressing",
        "canaryStatus": {"currentStepIndex": 1, "currentStepState": "StepPaused"},
    }
    set_status(staging, KRUISE_V1ALPHA1, "Rollout", "rollouts-demo", ns, paused)
    rollout = KruiseRollout(staging, ns, "rollouts-demo", poll_interval=0.1, api_version=KRUISE_V1ALPHA1)
    step = rollout.next_pause(timeout=5)
    assert step == CanaryStep(1, 2, 20, 20)
    rollout.approve(step)
    for version in (KRUISE_V1ALPHA1, KRUISE_API):
        live = staging.get(version, "Rollout", "rollouts-demo", ns)
        assert live is not None and live["apiVersion"] == version
        assert live["status"]["canaryStatus"]["currentStepState"] == "StepReady"
        assert live["spec"]["objectRef"]["workloadRef"]["name"] == "echo", "fields survive either version"


def argo_rollout(name: str, ns: str, paused: bool = False) -> dict[str, Any]:
    return {
        "apiVersion": ARGO_API,
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": 5,
            "paused": paused,
            "strategy": {
                "canary": {"steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]}
            },
        },
    }


def test_argo_promote_clears_pause_conditions_and_keeps_the_step_index(staging: KubeCluster) -> None:
    ns = fresh_namespace(staging, "argo")
    staging.apply(argo_rollout("echo", ns))
    rollout = ArgoRollout(staging, ns, "echo", poll_interval=0.1)
    set_status(
        staging,
        ARGO_API,
        "Rollout",
        "echo",
        ns,
        {
            "phase": "Paused",
            "currentStepIndex": 1,
            "updatedReplicas": 1,
            "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2026-01-01T00:00:00Z"}],
        },
    )
    step = rollout.next_pause(timeout=5)
    assert step == CanaryStep(2, 4, 20, 1)
    rollout.approve(step)
    after = staging.get(ARGO_API, "Rollout", "echo", ns)
    assert "pauseConditions" not in after["status"]
    assert after["status"]["currentStepIndex"] == 1  # the controller advances it, not promote
    assert after["spec"]["paused"] is False


def test_argo_promote_without_pause_conditions_advances_the_step_and_unpauses(staging: KubeCluster) -> None:
    ns = fresh_namespace(staging, "argo")
    staging.apply(argo_rollout("echo", ns, paused=True))
    rollout = ArgoRollout(staging, ns, "echo", poll_interval=0.1)
    set_status(staging, ARGO_API, "Rollout", "echo", ns, {"phase": "Paused", "currentStepIndex": 3})
    step = rollout.next_pause(timeout=5)
    assert step is not None and (step.index, step.traffic) == (4, 50)
    rollout.approve(step)
    after = staging.get(ARGO_API, "Rollout", "echo", ns)
    assert after["spec"]["paused"] is False
    assert after["status"]["currentStepIndex"] == 4
    # Controller: the last step is done and the rollout Healthy.
    set_status(staging, ARGO_API, "Rollout", "echo", ns, {"phase": "Healthy"})
    assert rollout.next_pause(timeout=5) is None


def test_argo_reject_aborts(staging: KubeCluster) -> None:
    ns = fresh_namespace(staging, "argo")
    staging.apply(argo_rollout("echo", ns))
    set_status(
        staging,
        ARGO_API,
        "Rollout",
        "echo",
        ns,
        {"currentStepIndex": 1, "pauseConditions": [{"reason": "CanaryPauseStep"}]},
    )
    rollout = ArgoRollout(staging, ns, "echo", poll_interval=0.1)
    rollout.reject()
    after = staging.get(ARGO_API, "Rollout", "echo", ns)
    assert after["status"]["abort"] is True
    assert after["status"]["pauseConditions"] == [{"reason": "CanaryPauseStep"}]
    with pytest.raises(ClusterError, match="aborted"):
        rollout.next_pause(timeout=2)


def _native(staging: KubeCluster, ns: str) -> tuple[NativeCanary, dict[str, Any]]:
    stable = {**deployment("echo", "registry.test/echo:v1", 4)}
    stable["metadata"] = {**stable["metadata"], "namespace": ns}
    staging.apply(stable)
    staging.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "echo", "namespace": ns},
            "spec": {"selector": {"app.kubernetes.io/name": "echo"}, "ports": [{"port": 80}]},
        }
    )
    wait_ready(staging, "echo", ns)
    desired = deployment("echo", "registry.test/echo:v2", 4)
    desired["metadata"]["namespace"] = ns
    assert [d["metadata"]["name"] for d in changed_deployments(staging, ns, [desired])] == ["echo"]

    return NativeCanary(staging, ns, [desired], (25, 50, 100), poll_interval=0.2), desired


def test_native_canary_end_to_end_on_real_deployments(staging: KubeCluster) -> None:
    ns = fresh_namespace(staging, "native")
    canary, desired = _native(staging, ns)

    step = canary.next_pause(timeout=60)
    assert step == CanaryStep(1, 3, 25, 1)
    live_canary = wait_ready(staging, canary_name("echo"), ns)
    assert live_canary["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.test/echo:v2"
    assert staging.get("apps/v1", "Deployment", "echo", ns)["spec"]["replicas"] == 3
    wait_ready(staging, "echo", ns)
    # Canary pods carry the Service's selector labels: the Service sends them traffic.
    service_pods = pods(staging, ns, "app.kubernetes.io/name=echo")
    canary_pods = pods(staging, ns, f"{TRACK_LABEL}=canary")
    assert len(canary_pods) == 1 and len(service_pods) == 4
    assert canary.next_pause(timeout=60) == step, "an unapproved step stays where it is"

    canary.approve(step)
    step2 = canary.next_pause(timeout=60)
    assert step2 == CanaryStep(2, 3, 50, 2)
    assert staging.get("apps/v1", "Deployment", "echo", ns)["spec"]["replicas"] == 2
    canary.approve(step2)
    step3 = canary.next_pause(timeout=60)
    assert step3 == CanaryStep(3, 3, 100, 4)
    canary.approve(step3)
    assert canary.next_pause(timeout=60) is None
    assert staging.get("apps/v1", "Deployment", canary_name("echo"), ns) is not None, "kept until promoted"
    staging.apply(desired)  # what the release flow's sync does
    canary.finish()
    stable = wait_ready(staging, "echo", ns)
    assert stable["spec"]["replicas"] == 4
    assert stable["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.test/echo:v2"
    assert staging.get("apps/v1", "Deployment", canary_name("echo"), ns) is None


def test_native_canary_reject_deletes_the_canary_and_restores_the_stable(staging: KubeCluster) -> None:
    ns = fresh_namespace(staging, "native")
    canary, _ = _native(staging, ns)
    step = canary.next_pause(timeout=60)
    assert step is not None and step.index == 1
    canary.reject()
    assert staging.get("apps/v1", "Deployment", canary_name("echo"), ns) is None
    stable = wait_ready(staging, "echo", ns)
    assert stable["spec"]["replicas"] == 4
    assert stable["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.test/echo:v1"
