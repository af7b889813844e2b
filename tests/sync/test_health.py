"""Argo CD's health rules as tables over real-shaped objects."""

from __future__ import annotations

from typing import Any

import pytest

from ferry.sync.health import resource_health, worst
from ferry.sync.model import Health, HealthStatus

H = HealthStatus


def deployment(
    spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None, generation: int = 2
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": generation},
        "spec": {"replicas": 2, **(spec or {})},
        "status": {
            "observedGeneration": 2,
            "replicas": 2,
            "updatedReplicas": 2,
            "availableReplicas": 2,
            "readyReplicas": 2,
            **(status or {}),
        },
    }


DEADLINE = {"conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}

CASES: list[tuple[str, dict[str, Any] | None, HealthStatus]] = [
    ("deployment healthy", deployment(), H.HEALTHY),
    ("deployment paused", deployment({"paused": True}), H.SUSPENDED),
    ("deployment deadline exceeded", deployment(status=DEADLINE), H.DEGRADED),
    ("deployment generation not observed", deployment(generation=3), H.PROGRESSING),
    ("deployment new replicas not updated", deployment(status={"updatedReplicas": 1}), H.PROGRESSING),
    ("deployment old replicas terminating", deployment(status={"replicas": 3}), H.PROGRESSING),
    ("deployment updated not available", deployment(status={"availableReplicas": 1}), H.PROGRESSING),
    (
        "deployment without status yet",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "w", "generation": 1},
            "spec": {},
        },
        H.PROGRESSING,
    ),
    (
        "statefulset rolling update done",
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"generation": 1},
            "spec": {"replicas": 1},
            "status": {
                "observedGeneration": 1,
                "readyReplicas": 1,
                "currentRevision": "a",
                "updateRevision": "a",
            },
        },
        H.HEALTHY,
    ),
    (
        "statefulset revision differs",
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"generation": 1},
            "spec": {"replicas": 1},
            "status": {
                "observedGeneration": 1,
                "readyReplicas": 1,
                "currentRevision": "a",
                "updateRevision": "b",
            },
        },
        H.PROGRESSING,
    ),
    (
        "statefulset pods not ready",
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"generation": 1},
            "spec": {"replicas": 3},
            "status": {"observedGeneration": 1, "readyReplicas": 1},
        },
        H.PROGRESSING,
    ),
    (
        "statefulset partition reached",
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"generation": 1},
            "spec": {
                "replicas": 3,
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
            },
            "status": {"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 1},
        },
        H.HEALTHY,
    ),
    (
        "daemonset rolling",
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"generation": 1},
            "status": {"observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 1},
        },
        H.PROGRESSING,
    ),
    (
        "daemonset available",
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"generation": 1},
            "status": {
                "observedGeneration": 1,
                "desiredNumberScheduled": 3,
                "updatedNumberScheduled": 3,
                "numberAvailable": 3,
            },
        },
        H.HEALTHY,
    ),
    (
        "replicaset failure",
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"generation": 1},
            "spec": {"replicas": 1},
            "status": {
                "observedGeneration": 1,
                "conditions": [{"type": "ReplicaFailure", "status": "True", "message": "quota"}],
            },
        },
        H.DEGRADED,
    ),
    (
        "replicaset available",
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"generation": 1},
            "spec": {"replicas": 1},
            "status": {"observedGeneration": 1, "availableReplicas": 1},
        },
        H.HEALTHY,
    ),
    (
        "pod pending",
        {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "spec": {}, "status": {"phase": "Pending"}},
        H.PROGRESSING,
    ),
    (
        "pod running ready",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {},
            "spec": {"restartPolicy": "Always"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
        },
        H.HEALTHY,
    ),
    (
        "pod crash loop",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {},
            "spec": {"restartPolicy": "Always"},
            "status": {
                "phase": "Running",
                "containerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}],
            },
        },
        H.DEGRADED,
    ),
    (
        "pod image pull error",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {},
            "spec": {"restartPolicy": "Always"},
            "status": {
                "phase": "Pending",
                "containerStatuses": [{"state": {"waiting": {"reason": "ErrImagePull"}}}],
            },
        },
        H.DEGRADED,
    ),
    (
        "pod run-to-completion running",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {},
            "spec": {"restartPolicy": "Never"},
            "status": {"phase": "Running"},
        },
        H.PROGRESSING,
    ),
    (
        "pod succeeded",
        {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "status": {"phase": "Succeeded"}},
        H.HEALTHY,
    ),
    (
        "pod failed",
        {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "status": {"phase": "Failed"}},
        H.DEGRADED,
    ),
    (
        "service cluster ip",
        {"apiVersion": "v1", "kind": "Service", "metadata": {}, "spec": {"type": "ClusterIP"}},
        H.HEALTHY,
    ),
    (
        "service lb pending",
        {"apiVersion": "v1", "kind": "Service", "metadata": {}, "spec": {"type": "LoadBalancer"}},
        H.PROGRESSING,
    ),
    (
        "service lb assigned",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {},
            "spec": {"type": "LoadBalancer"},
            "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}]}},
        },
        H.HEALTHY,
    ),
    (
        "ingress without address",
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {}},
        H.PROGRESSING,
    ),
    (
        "ingress with address",
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {},
            "status": {"loadBalancer": {"ingress": [{"hostname": "x"}]}},
        },
        H.HEALTHY,
    ),
    (
        "pvc bound",
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {}, "status": {"phase": "Bound"}},
        H.HEALTHY,
    ),
    (
        "pvc pending",
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {}, "status": {"phase": "Pending"}},
        H.PROGRESSING,
    ),
    (
        "pvc lost",
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {}, "status": {"phase": "Lost"}},
        H.DEGRADED,
    ),
    (
        "job running",
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {}, "status": {"active": 1}},
        H.PROGRESSING,
    ),
    (
        "job complete",
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {},
            "status": {"conditions": [{"type": "Complete", "status": "True"}]},
        },
        H.HEALTHY,
    ),
    (
        "job failed",
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {},
            "status": {
                "conditions": [{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]
            },
        },
        H.DEGRADED,
    ),
    (
        "job suspended",
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {},
            "status": {"conditions": [{"type": "Suspended", "status": "True"}]},
        },
        H.SUSPENDED,
    ),
    (
        "kruise rollout paused at a step",
        {
            "apiVersion": "rollouts.kruise.io/v1beta1",
            "kind": "Rollout",
            "metadata": {"generation": 1},
            "status": {
                "observedGeneration": 1,
                "phase": "Progressing",
                "canaryStatus": {"currentStepIndex": 1, "currentStepState": "StepPaused"},
            },
        },
        H.SUSPENDED,
    ),
    (
        "kruise rollout healthy",
        {
            "apiVersion": "rollouts.kruise.io/v1beta1",
            "kind": "Rollout",
            "metadata": {"generation": 1},
            "status": {"observedGeneration": 1, "phase": "Healthy"},
        },
        H.HEALTHY,
    ),
    (
        "kruise rollout not observed",
        {
            "apiVersion": "rollouts.kruise.io/v1beta1",
            "kind": "Rollout",
            "metadata": {"generation": 2},
            "status": {"observedGeneration": 1, "phase": "Healthy"},
        },
        H.PROGRESSING,
    ),
    (
        "argo rollout paused",
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"generation": 1},
            "spec": {"replicas": 1},
            "status": {"observedGeneration": "1", "pauseConditions": [{"reason": "CanaryPauseStep"}]},
        },
        H.SUSPENDED,
    ),
    (
        "argo rollout aborted",
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"generation": 1},
            "status": {
                "observedGeneration": "1",
                "abort": True,
                "conditions": [{"type": "Progressing", "reason": "RolloutAborted", "message": "aborted"}],
            },
        },
        H.DEGRADED,
    ),
    (
        "argo rollout healthy phase",
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"generation": 1},
            "status": {"observedGeneration": "1", "phase": "Healthy"},
        },
        H.HEALTHY,
    ),
    (
        "argo rollout replicas not updated",
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"generation": 1},
            "spec": {"replicas": 3},
            "status": {"observedGeneration": "1", "updatedReplicas": 1},
        },
        H.PROGRESSING,
    ),
    (
        "being deleted",
        {**deployment(), "metadata": {"generation": 2, "deletionTimestamp": "2024-01-01T00:00:00Z"}},
        H.PROGRESSING,
    ),
    ("missing", None, H.MISSING),
]


@pytest.mark.parametrize(("obj", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_resource_health(obj: dict[str, Any] | None, expected: HealthStatus) -> None:
    health = resource_health(obj)
    assert health is not None
    assert health.status is expected, health.message


@pytest.mark.parametrize(
    "obj",
    [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {}},
    ],
    ids=["configmap", "secret"],
)
def test_kinds_without_rules_have_no_health(obj: dict[str, Any]) -> None:
    assert resource_health(obj) is None


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], H.HEALTHY),
        ([H.HEALTHY, H.SUSPENDED], H.SUSPENDED),
        ([H.SUSPENDED, H.PROGRESSING], H.PROGRESSING),
        ([H.PROGRESSING, H.MISSING], H.MISSING),
        ([H.MISSING, H.DEGRADED, H.HEALTHY], H.DEGRADED),
        ([H.DEGRADED, H.UNKNOWN], H.UNKNOWN),
    ],
    ids=[
        "nothing",
        "suspended beats healthy",
        "progressing beats suspended",
        "missing beats progressing",
        "degraded beats missing",
        "unknown is worst",
    ],
)
def test_app_health_is_the_worst(statuses: list[HealthStatus], expected: HealthStatus) -> None:
    assert worst([Health(s) for s in statuses] + [None]).status is expected


def _kruise(api: str, status: dict[str, Any] | None) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": api, "kind": "Rollout", "metadata": {"name": "r", "generation": 2}}
    if status is not None:
        obj["status"] = status
    return obj


# Where Ferry differs from Argo CD on purpose (README, "Health: deliberate differences").
DIFFERENCES: list[tuple[str, dict[str, Any], HealthStatus, str]] = [
    (
        # Argo CD counts any Suspended condition as the end of the Job and calls it Healthy.
        "job resumed after a suspension is still running",
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {},
            "status": {"active": 1, "conditions": [{"type": "Suspended", "status": "False"}]},
        },
        H.PROGRESSING,
        "",
    ),
    (
        # Argo CD's Lua check indexes the missing canaryStatus and reports the Lua error (Unknown).
        "kruise rollout that never ran a canary",
        _kruise(
            "rollouts.kruise.io/v1alpha1",
            {"observedGeneration": 2, "phase": "Healthy", "message": "rollout is healthy"},
        ),
        H.HEALTHY,
        "rollout is healthy",
    ),
    (
        "kruise rollout without a status yet",
        _kruise("rollouts.kruise.io/v1beta1", None),
        H.PROGRESSING,
        "Rollout is still progressing",
    ),
    (
        "kruise v1beta1 blue-green step paused",
        _kruise(
            "rollouts.kruise.io/v1beta1",
            {
                "observedGeneration": 2,
                "phase": "Progressing",
                "blueGreenStatus": {"currentStepState": "StepPaused"},
            },
        ),
        H.SUSPENDED,
        "Rollout is Paused need manual intervention",
    ),
]


@pytest.mark.parametrize(
    ("obj", "status", "message"), [c[1:] for c in DIFFERENCES], ids=[c[0] for c in DIFFERENCES]
)
def test_deliberate_differences(obj: dict[str, Any], status: HealthStatus, message: str) -> None:
    health = resource_health(obj)
    assert health is not None
    assert (health.status, health.message) == (status, message)


@pytest.mark.parametrize("api", ["rollouts.kruise.io/v1alpha1", "rollouts.kruise.io/v1beta1"])
def test_kruise_versions_read_alike(api: str) -> None:
    paused = {
        "observedGeneration": 2,
        "phase": "Progressing",
        "canaryStatus": {"currentStepState": "StepPaused"},
    }
    disabled = {**paused, "phase": "Disabled"}
    assert resource_health(_kruise(api, paused)) == Health(
        H.SUSPENDED, "Rollout is Paused need manual intervention"
    )
    assert resource_health(_kruise(api, disabled)) == Health(H.DEGRADED, "Rollout is Disabled or Terminating")


def test_a_hook_finalizer_keeps_a_deleted_object_assessed() -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "deletionTimestamp": "2024-01-01T00:00:00Z",
            "finalizers": ["argocd.argoproj.io/hook-finalizer"],
        },
        "status": {"conditions": [{"type": "Complete", "status": "True"}]},
    }
    assert resource_health(job) == Health(H.HEALTHY)
    job["metadata"]["finalizers"] = []
    assert resource_health(job) == Health(H.PROGRESSING, "Pending deletion")
