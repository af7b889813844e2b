"""Resource and application health, by Argo CD's rules (gitops-engine ``pkg/health`` and its Lua checks).

Each check is a pure function of the live object. Kinds without a rule have no
health and do not count; a resource that should exist and does not is
``Missing``; an app is as healthy as its worst resource.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ferry.sync.model import Health, HealthStatus

Obj = Mapping[str, Any]
H = HealthStatus


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _generation_observed(obj: Obj) -> bool:
    status = obj.get("status") or {}
    return _int((obj.get("metadata") or {}).get("generation")) <= _int(status.get("observedGeneration"))


def _condition(obj: Obj, kind: str) -> Mapping[str, Any] | None:
    for condition in (obj.get("status") or {}).get("conditions") or ():
        if condition.get("type") == kind:
            return dict(condition)
    return None


def deployment(obj: Obj) -> Health:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if spec.get("paused"):
        return Health(H.SUSPENDED, "Deployment is paused")
    if not _generation_observed(obj):
        return Health(
            H.PROGRESSING,
            "Waiting for rollout to finish: observed deployment generation less than desired generation",
        )
    progressing = _condition(obj, "Progressing")
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Health(
            H.DEGRADED, f"Deployment {obj['metadata'].get('name')!r} exceeded its progress deadline"
        )
    replicas = _int(spec.get("replicas"), 1)
    updated = _int(status.get("updatedReplicas"))
    if updated < replicas:
        return Health(
            H.PROGRESSING,
            f"Waiting for rollout to finish: {updated} out of {replicas} new replicas have been updated...",
        )
    if _int(status.get("replicas")) > updated:
        return Health(
            H.PROGRESSING,
            f"Waiting for rollout to finish: {_int(status.get('replicas')) - updated} "
            f"old replicas are pending termination...",
        )
    if _int(status.get("availableReplicas")) < updated:
        return Health(
            H.PROGRESSING,
            f"Waiting for rollout to finish: {_int(status.get('availableReplicas'))} of "
            f"{updated} updated replicas are available...",
        )
    return Health(H.HEALTHY)


def statefulset(obj: Obj) -> Health:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if _int(status.get("observedGeneration")) == 0 or not _generation_observed(obj):
        return Health(H.PROGRESSING, "Waiting for statefulset spec update to be observed...")
    replicas = _int(spec.get("replicas"), 1)
    if _int(status.get("readyReplicas")) < replicas:
        return Health(
            H.PROGRESSING, f"Waiting for {replicas - _int(status.get('readyReplicas'))} pods to be ready..."
        )
    strategy = spec.get("updateStrategy") or {}
    partition = (strategy.get("rollingUpdate") or {}).get("partition")
    if strategy.get("type", "RollingUpdate") == "RollingUpdate" and _int(partition) > 0:
        expected = replicas - _int(partition)
        if _int(status.get("updatedReplicas")) < expected:
            return Health(
                H.PROGRESSING,
                f"Waiting for partitioned roll out to finish: "
                f"{_int(status.get('updatedReplicas'))} out of {expected} new pods have "
                f"been updated...",
            )
        return Health(H.HEALTHY, f"partitioned roll out complete: {expected} new pods have been updated...")
    if strategy.get("type") == "OnDelete":
        return Health(H.HEALTHY, f"statefulset has {_int(status.get('readyReplicas'))} ready pods")
    if status.get("updateRevision") != status.get("currentRevision"):
        return Health(
            H.PROGRESSING,
            f"waiting for statefulset rolling update to complete "
            f"{_int(status.get('updatedReplicas'))} pods at revision "
            f"{status.get('updateRevision')}...",
        )
    return Health(
        H.HEALTHY,
        f"statefulset rolling update complete {_int(status.get('currentReplicas'))} pods "
        f"at revision {status.get('currentRevision')}...",
    )


def daemonset(obj: Obj) -> Health:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if _int(status.get("observedGeneration")) == 0 or not _generation_observed(obj):
        return Health(
            H.PROGRESSING,
            "Waiting for rollout to finish: observed daemon set generation less than desired generation",
        )
    desired, updated = _int(status.get("desiredNumberScheduled")), _int(status.get("updatedNumberScheduled"))
    if (spec.get("updateStrategy") or {}).get("type") == "OnDelete":
        return Health(H.HEALTHY, f"daemon set {updated} out of {desired} new pods have been updated")
    if updated < desired:
        return Health(
            H.PROGRESSING,
            f"Waiting for daemon set rollout to finish: {updated} out of {desired} new "
            f"pods have been updated...",
        )
    if _int(status.get("numberAvailable")) < desired:
        return Health(
            H.PROGRESSING,
            f"Waiting for daemon set rollout to finish: "
            f"{_int(status.get('numberAvailable'))} of {desired} updated pods are "
            f"available...",
        )
    return Health(H.HEALTHY)


def replicaset(obj: Obj) -> Health:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if not _generation_observed(obj):
        return Health(
            H.PROGRESSING,
            "Waiting for rollout to finish: observed replica set generation less than desired generation",
        )
    failure = _condition(obj, "ReplicaFailure")
    if failure is not None and failure.get("status") == "True":
        return Health(H.DEGRADED, str(failure.get("message", "")))
    replicas = _int(spec.get("replicas"), 1)
    if _int(status.get("availableReplicas")) < replicas:
        return Health(
            H.PROGRESSING,
            f"Waiting for rollout to finish: {_int(status.get('availableReplicas'))} "
            f"out of {replicas} new replicas are available...",
        )
    return Health(H.HEALTHY)


def pod(obj: Obj) -> Health:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    restart_policy = spec.get("restartPolicy", "Always")
    statuses = [*(status.get("initContainerStatuses") or ()), *(status.get("containerStatuses") or ())]
    if restart_policy == "Always":
        for container in statuses:
            waiting = (container.get("state") or {}).get("waiting") or {}
            reason = str(waiting.get("reason", ""))
            if reason.startswith("Err") or reason.endswith("Error") or reason.endswith("BackOff"):
                return Health(H.DEGRADED, str(waiting.get("message") or reason))
    phase = status.get("phase")
    if phase == "Pending":
        return Health(H.PROGRESSING, str(status.get("message", "")))
    if phase == "Succeeded":
        return Health(H.HEALTHY, str(status.get("message", "")))
    if phase == "Failed":
        return Health(H.DEGRADED, str(status.get("message") or "pod failed"))
    if phase == "Running":
        if restart_policy != "Always":
            # Run-to-completion pods (hooks, jobs' pods) are still working while they run.
            return Health(H.PROGRESSING, str(status.get("message", "")))
        ready = _condition(obj, "Ready")
        if ready is not None and ready.get("status") == "True":
            return Health(H.HEALTHY, str(status.get("message", "")))
        if any((c.get("lastState") or {}).get("terminated") for c in statuses):
            return Health(H.DEGRADED, "a container restarted and the pod is not ready")
        return Health(H.PROGRESSING, str(status.get("message", "")))
    return Health(H.UNKNOWN, str(status.get("message", "")))


def _load_balanced(obj: Obj, what: str) -> Health:
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress")
    if ingress:
        return Health(H.HEALTHY)
    return Health(H.PROGRESSING, f"Waiting for the {what} to get a load balancer address")


def service(obj: Obj) -> Health:
    if (obj.get("spec") or {}).get("type") == "LoadBalancer":
        return _load_balanced(obj, "Service")
    return Health(H.HEALTHY)


def ingress(obj: Obj) -> Health:
    return _load_balanced(obj, "Ingress")


def persistentvolumeclaim(obj: Obj) -> Health:
    phase = (obj.get("status") or {}).get("phase")
    verdict = {"Lost": H.DEGRADED, "Pending": H.PROGRESSING, "Bound": H.HEALTHY}.get(str(phase), H.UNKNOWN)
    return Health(verdict)


def job(obj: Obj) -> Health:
    complete = failed = suspended = False
    message = ""
    for condition in (obj.get("status") or {}).get("conditions") or ():
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Failed":
            complete = failed = True
            message = str(condition.get("message", ""))
        elif condition.get("type") == "Complete":
            complete = True
            message = str(condition.get("message", ""))
        elif condition.get("type") == "Suspended":
            suspended = True
            message = str(condition.get("message", ""))
    if suspended and not complete:
        return Health(H.SUSPENDED, message)
    if not complete:
        return Health(H.PROGRESSING, message)
    if failed:
        return Health(H.DEGRADED, message)
    return Health(H.HEALTHY, message)


def argo_rollout(obj: Obj) -> Health:
    """Argo Rollouts' ``Rollout`` (argoproj.io), after Argo CD's bundled Lua check."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    observed = status.get("observedGeneration")
    generation = (obj.get("metadata") or {}).get("generation")
    if observed is not None and generation is not None and str(observed) != str(generation):
        return Health(H.PROGRESSING, "Waiting for rollout spec update to be observed")
    invalid = _condition(obj, "InvalidSpec")
    if invalid is not None:
        return Health(H.DEGRADED, str(invalid.get("message", "")))
    if status.get("abort"):
        return Health(H.DEGRADED, str(status.get("message") or "Rollout aborted"))
    if spec.get("paused") or status.get("pauseConditions"):
        return Health(H.SUSPENDED, "Rollout is paused")
    phase = status.get("phase")
    if phase in ("Healthy", "Progressing", "Degraded"):
        return Health(H(phase), str(status.get("message", "")))
    if phase == "Paused":
        return Health(H.SUSPENDED, str(status.get("message", "Rollout is paused")))
    progressing = _condition(obj, "Progressing")
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Health(H.DEGRADED, str(progressing.get("message", "")))
    replicas = _int(spec.get("replicas"), 1)
    if _int(status.get("updatedReplicas")) < replicas:
        return Health(H.PROGRESSING, "Waiting for roll out to finish: More replicas need to be updated")
    if _int(status.get("availableReplicas")) < _int(status.get("updatedReplicas")):
        return Health(
            H.PROGRESSING, "Waiting for roll out to finish: updated replicas are still becoming available"
        )
    return Health(H.HEALTHY)


def kruise_rollout(obj: Obj) -> Health:
    """OpenKruise's ``Rollout`` (rollouts.kruise.io), after Argo CD's bundled Lua check."""
    status = obj.get("status") or {}
    generation = (obj.get("metadata") or {}).get("generation")
    if not status or str(status.get("observedGeneration")) != str(generation):
        return Health(H.PROGRESSING, "Rollout is waiting to be observed")
    canary = status.get("canaryStatus") or {}
    if canary.get("currentStepState") == "StepPaused":
        return Health(H.SUSPENDED, f"Rollout is paused at step {canary.get('currentStepIndex', '?')}")
    if status.get("phase") == "Healthy":
        return Health(H.HEALTHY, str(status.get("message", "")))
    if status.get("phase") == "Disabled":
        return Health(H.HEALTHY, "Rollout is disabled")
    return Health(H.PROGRESSING, str(status.get("message") or "Rollout is still progressing"))


_RULES: dict[tuple[str, str], Callable[[Obj], Health]] = {
    ("apps", "Deployment"): deployment,
    ("apps", "StatefulSet"): statefulset,
    ("apps", "DaemonSet"): daemonset,
    ("apps", "ReplicaSet"): replicaset,
    ("", "Pod"): pod,
    ("", "Service"): service,
    ("", "PersistentVolumeClaim"): persistentvolumeclaim,
    ("networking.k8s.io", "Ingress"): ingress,
    ("extensions", "Ingress"): ingress,
    ("batch", "Job"): job,
    ("argoproj.io", "Rollout"): argo_rollout,
    ("rollouts.kruise.io", "Rollout"): kruise_rollout,
}


def resource_health(obj: Obj | None, *, group: str | None = None, kind: str | None = None) -> Health | None:
    """Health of one live object; ``Missing`` for None; None when the kind has no rule.

    A resource being deleted is Progressing, whatever its kind, as in gitops-engine.
    """
    if obj is None:
        return Health(H.MISSING, "resource does not exist")
    api_version = str(obj.get("apiVersion", ""))
    group = group if group is not None else (api_version.rpartition("/")[0] if "/" in api_version else "")
    rule = _RULES.get((group, kind or str(obj.get("kind", ""))))
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return Health(H.PROGRESSING, "Pending deletion")
    return rule(obj) if rule else None


def worst(healths: Iterable[Health | None]) -> Health:
    """App health: the worst resource health, Healthy when nothing has a health.

    >>> worst([Health(HealthStatus.HEALTHY), None, Health(HealthStatus.PROGRESSING, "x")]).status.value
    'Progressing'
    """
    result = Health(H.HEALTHY)
    for health in healths:
        if health is not None and health.status.rank > result.status.rank:
            result = health
    return result
