"""Health of the kinds beyond workloads: autoscalers, API services, CronJobs, disruption budgets, Workflows.

HorizontalPodAutoscaler, APIService and Workflow follow gitops-engine's Go checks;
CronJob and PodDisruptionBudget follow the behaviour of Argo CD's bundled
``resource_customizations`` (``batch/CronJob``, ``policy/PodDisruptionBudget``), as
their ``health_test.yaml`` fixtures pin it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ferry.sync.model import Health, HealthStatus

Obj = Mapping[str, Any]
H = HealthStatus

_HPA_WAITING = Health(H.PROGRESSING, "Waiting to Autoscale")
_HPA_CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
# (type, reason) pairs that mean the autoscaler cannot do its job.
_HPA_DEGRADED = frozenset(
    {
        ("AbleToScale", "FailedGetScale"),
        ("AbleToScale", "FailedUpdateScale"),
        ("ScalingActive", "FailedGetResourceMetric"),
        ("ScalingActive", "FailedGetObjectMetric"),
        ("ScalingActive", "FailedGetPodsMetric"),
        ("ScalingActive", "FailedGetExternalMetric"),
        ("ScalingActive", "FailedComputeMetricsReplicas"),
        ("ScalingActive", "InvalidSelector"),
    }
)
_HPA_HEALTHY_TYPES = frozenset({"AbleToScale", "ScalingLimited"})


def _unsupported(obj: Obj, what: str) -> Health:
    # gitops-engine answers an error for API versions it has no typed struct for; Argo CD shows it as Unknown.
    return Health(
        H.UNKNOWN, f"unsupported {what} GVK: {obj.get('apiVersion', '')}, Kind={obj.get('kind', '')}"
    )


def _hpa_verdict(conditions: Sequence[Mapping[str, Any]]) -> Health:
    for condition in conditions:
        if (condition.get("type"), condition.get("reason")) in _HPA_DEGRADED:
            return Health(H.DEGRADED, str(condition.get("message") or ""))
    for condition in conditions:
        if condition.get("type") in _HPA_HEALTHY_TYPES and condition.get("status") == "True":
            return Health(H.HEALTHY, str(condition.get("message") or ""))
    return _HPA_WAITING


def horizontalpodautoscaler(obj: Obj) -> Health:
    """``autoscaling/v2`` reads ``status.conditions``; ``v1`` keeps them, as JSON, in an annotation."""
    api_version = obj.get("apiVersion")
    if api_version == "autoscaling/v2":
        return _hpa_verdict((obj.get("status") or {}).get("conditions") or [])
    if api_version != "autoscaling/v1":
        return _unsupported(obj, "HPA")
    annotation = ((obj.get("metadata") or {}).get("annotations") or {}).get(_HPA_CONDITIONS_ANNOTATION)
    if annotation is None:
        return _HPA_WAITING
    try:
        conditions = json.loads(annotation)
    except ValueError as exc:
        return Health(H.UNKNOWN, f"failed to convert conditions annotation to typed: {exc}")
    if not isinstance(conditions, list) or not all(isinstance(c, dict) for c in conditions):
        return Health(H.UNKNOWN, "failed to convert conditions annotation to typed: not a list of objects")
    return _hpa_verdict(conditions) if conditions else _HPA_WAITING


def apiservice(obj: Obj) -> Health:
    if obj.get("apiVersion") not in ("apiregistration.k8s.io/v1", "apiregistration.k8s.io/v1beta1"):
        return _unsupported(obj, "APIService")
    for condition in (obj.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Available":
            text = f"{condition.get('reason', '')}: {condition.get('message', '')}"
            return Health(H.HEALTHY if condition.get("status") == "True" else H.PROGRESSING, text)
    return Health(H.PROGRESSING, "Waiting to be processed")


def cronjob(obj: Obj) -> Health:
    """A CronJob is Healthy unless its last run is known to have failed (Argo CD's ``batch/CronJob``)."""
    if (obj.get("spec") or {}).get("suspend") is True:
        # Argo CD reports Healthy rather than Suspended here (argo-cd #24428), and so does Ferry.
        return Health(H.HEALTHY, "CronJob is Suspended")
    status = obj.get("status")
    if status is None:
        return Health(H.PROGRESSING, "Waiting for CronJob")
    scheduled, succeeded = status.get("lastScheduleTime"), status.get("lastSuccessfulTime")
    if scheduled is None:
        return Health(H.HEALTHY, "CronJob has not been scheduled yet")
    if succeeded is None:
        return Health(H.HEALTHY, "The CronJob never completed successfully. It may not be healthy")
    if status.get("active"):
        return Health(H.HEALTHY, "The job is running. Its last execution may not have been successful")
    # RFC 3339 times in UTC compare as text, as the Lua check compares them.
    if str(succeeded) < str(scheduled):
        return Health(H.DEGRADED, "CronJob has not completed its last execution successfully")
    return Health(H.HEALTHY, "CronJob has completed its last execution successfully")


def poddisruptionbudget(obj: Obj) -> Health:
    """Degraded on a False condition other than ``InsufficientPods``; Healthy once any condition is there."""
    verdict = Health(H.PROGRESSING, "Waiting for status")
    for condition in (obj.get("status") or {}).get("conditions") or ():
        reason = str(condition.get("reason") or "")
        if condition.get("status") == "False" and reason != "InsufficientPods":
            return Health(H.DEGRADED, f"PodDisruptionBudget has {reason}")
        verdict = Health(H.HEALTHY, f"PodDisruptionBudget has {reason}")
    return verdict


def argo_workflow(obj: Obj) -> Health:
    status = obj.get("status") or {}
    phase, message = str(status.get("phase") or ""), str(status.get("message") or "")
    if phase in ("", "Pending", "Running"):
        return Health(H.PROGRESSING, message)
    if phase == "Succeeded":
        return Health(H.HEALTHY, message)
    if phase in ("Failed", "Error"):
        return Health(H.DEGRADED, message)
    return Health(H.UNKNOWN, message)
