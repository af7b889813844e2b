"""Resource and application health, by Argo CD's rules (gitops-engine ``pkg/health`` and its Lua checks).

Each check is a pure function of the live object. Kinds without a rule have no
health and do not count; a resource that should exist and does not is
``Missing``; an app is as healthy as its worst resource. The rules and their
messages follow gitops-engine's Go checks and Argo CD's bundled
``resource_customizations`` (their fixtures are our tables, ``tests/sync``);
where Ferry differs on purpose the README says so.

Users' own Lua checks (:mod:`ferry.sync.lua_health`) come before every built-in
rule, as ``resource.customizations.health.*`` do in Argo CD.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from ferry.sync import health_kinds, health_rollouts
from ferry.sync.model import Health, HealthStatus

Obj = Mapping[str, Any]
H = HealthStatus

HOOK_FINALIZER = "argocd.argoproj.io/hook-finalizer"
IGNORE_RESTART_POLICY = "argocd.argoproj.io/ignore-restart-policy"
_HOOK = "argocd.argoproj.io/hook"
_HELM_HOOK = "helm.sh/hook"


class HealthOverride(Protocol):
    """Users' health checks: (whether one covers the kind, its verdict, None meaning no health)."""

    def health(self, obj: Obj, group: str, kind: str) -> tuple[bool, Health | None]: ...


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _meta(obj: Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _status(obj: Obj) -> Mapping[str, Any]:
    return obj.get("status") or {}


def _condition(obj: Obj, kind: str) -> Mapping[str, Any] | None:
    for condition in _status(obj).get("conditions") or ():
        if condition.get("type") == kind:
            return dict(condition)
    return None


def deployment(obj: Obj) -> Health:
    spec, status = obj.get("spec") or {}, _status(obj)
    if spec.get("paused"):
        return Health(H.SUSPENDED, "Deployment is paused")
    if _int(_meta(obj).get("generation")) > _int(status.get("observedGeneration")):
        return Health(
            H.PROGRESSING,
            "Waiting for rollout to finish: observed deployment generation less than desired generation",
        )
    progressing = _condition(obj, "Progressing")
    updated, replicas = _int(status.get("updatedReplicas")), _int(status.get("replicas"))
    available = _int(status.get("availableReplicas"))
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Health(H.DEGRADED, f'Deployment "{_meta(obj).get("name", "")}" exceeded its progress deadline')
    # An unset spec.replicas skips the check, as the typed Go struct's nil pointer does.
    if spec.get("replicas") is not None and updated < _int(spec.get("replicas")):
        return Health(
            H.PROGRESSING,
            f"Waiting for rollout to finish: {updated} out of {_int(spec['replicas'])} new replicas "
            "have been updated...",
        )
    if replicas > updated:
        return Health(
            H.PROGRESSING,
            f"Waiting for rollout to finish: {replicas - updated} old replicas are pending termination...",
        )
    if available < updated:
        return Health(
            H.PROGRESSING,
            f"Waiting for rollout to finish: {available} of {updated} updated replicas are available...",
        )
    return Health(H.HEALTHY)


def statefulset(obj: Obj) -> Health:
    spec, status = obj.get("spec") or {}, _status(obj)
    observed = _int(status.get("observedGeneration"))
    if observed == 0 or _int(_meta(obj).get("generation")) > observed:
        return Health(H.PROGRESSING, "Waiting for statefulset spec update to be observed...")
    ready, updated = _int(status.get("readyReplicas")), _int(status.get("updatedReplicas"))
    replicas = spec.get("replicas")
    if replicas is not None and ready < _int(replicas):
        return Health(H.PROGRESSING, f"Waiting for {_int(replicas) - ready} pods to be ready...")
    strategy = spec.get("updateStrategy") or {}
    rolling = strategy.get("rollingUpdate")
    if strategy.get("type") == "RollingUpdate" and rolling is not None:
        partition = rolling.get("partition")
        if replicas is not None and partition is not None:
            expected = _int(replicas) - _int(partition)
            if updated < expected:
                return Health(
                    H.PROGRESSING,
                    f"Waiting for partitioned roll out to finish: {updated} out of {expected} new pods "
                    "have been updated...",
                )
        return Health(H.HEALTHY, f"partitioned roll out complete: {updated} new pods have been updated...")
    if strategy.get("type") == "OnDelete":
        return Health(H.HEALTHY, f"statefulset has {ready} ready pods")
    if status.get("updateRevision", "") != status.get("currentRevision", ""):
        return Health(
            H.PROGRESSING,
            f"waiting for statefulset rolling update to complete {updated} pods at revision "
            f"{status.get('updateRevision', '')}...",
        )
    return Health(
        H.HEALTHY,
        f"statefulset rolling update complete {_int(status.get('currentReplicas'))} pods at revision "
        f"{status.get('currentRevision', '')}...",
    )


def daemonset(obj: Obj) -> Health:
    spec, status = obj.get("spec") or {}, _status(obj)
    if _int(_meta(obj).get("generation")) > _int(status.get("observedGeneration")):
        return Health(
            H.PROGRESSING,
            "Waiting for rollout to finish: observed daemon set generation less than desired generation",
        )
    desired, updated = _int(status.get("desiredNumberScheduled")), _int(status.get("updatedNumberScheduled"))
    if (spec.get("updateStrategy") or {}).get("type") == "OnDelete":
        return Health(H.HEALTHY, f"daemon set {updated} out of {desired} new pods have been updated")
    name = _meta(obj).get("name", "")
    if updated < desired:
        return Health(
            H.PROGRESSING,
            f'Waiting for daemon set "{name}" rollout to finish: {updated} out of {desired} new pods '
            "have been updated...",
        )
    available = _int(status.get("numberAvailable"))
    if available < desired:
        return Health(
            H.PROGRESSING,
            f'Waiting for daemon set "{name}" rollout to finish: {available} of {desired} updated pods '
            "are available...",
        )
    return Health(H.HEALTHY)


def replicaset(obj: Obj) -> Health:
    spec, status = obj.get("spec") or {}, _status(obj)
    if _int(_meta(obj).get("generation")) > _int(status.get("observedGeneration")):
        return Health(
            H.PROGRESSING,
            "Waiting for rollout to finish: observed replica set generation less than desired generation",
        )
    failure = _condition(obj, "ReplicaFailure")
    if failure is not None and failure.get("status") == "True":
        return Health(H.DEGRADED, str(failure.get("message", "")))
    available = _int(status.get("availableReplicas"))
    if spec.get("replicas") is not None and available < _int(spec.get("replicas")):
        return Health(
            H.PROGRESSING,
            f"Waiting for rollout to finish: {available} out of {_int(spec['replicas'])} new replicas "
            "are available...",
        )
    return Health(H.HEALTHY)


def is_hook(obj: Obj) -> bool:
    """An Argo CD or Helm hook (``Skip`` alone and Helm's ``crd-install`` are not hooks)."""
    annotations = _meta(obj).get("annotations") or {}
    if _HOOK in annotations:
        types = [t.strip() for t in str(annotations[_HOOK]).split(",") if t.strip()]
        return types != ["Skip"]
    return _HELM_HOOK in annotations and annotations[_HELM_HOOK] != "crd-install"


def _waiting_error(reason: str) -> bool:
    return reason.startswith("Err") or reason.endswith("Error") or reason.endswith("BackOff")


def _fail_message(container: Mapping[str, Any]) -> str:
    terminated = (container.get("state") or {}).get("terminated")
    if not terminated:
        return ""
    if terminated.get("message"):
        return str(terminated["message"])
    if terminated.get("reason") == "OOMKilled":
        return "OOMKilled"
    if _int(terminated.get("exitCode")) != 0:
        return f'container "{container.get("name", "")}" failed with exit code {_int(terminated["exitCode"])}'
    return ""


def pod(obj: Obj) -> Health:
    spec, status = obj.get("spec") or {}, _status(obj)
    annotations = _meta(obj).get("annotations") or {}
    # The annotation makes a run-to-completion pod count as long-running, except for hooks.
    long_running = spec.get("restartPolicy") == "Always" or (
        annotations.get(IGNORE_RESTART_POLICY) == "true" and not is_hook(obj)
    )
    message = str(status.get("message") or "")
    containers = status.get("containerStatuses") or ()
    if long_running:
        waiting = [(c.get("state") or {}).get("waiting") or {} for c in containers]
        errors = [str(w.get("message") or "") for w in waiting if _waiting_error(str(w.get("reason") or ""))]
        if errors:
            return Health(H.DEGRADED, ", ".join(errors))
    phase = status.get("phase")
    if phase == "Pending":
        return Health(H.PROGRESSING, message)
    if phase == "Succeeded":
        return Health(H.HEALTHY, message)
    if phase == "Failed":
        if message:
            return Health(H.DEGRADED, message)
        for container in (*(status.get("initContainerStatuses") or ()), *containers):
            if _fail_message(container):
                return Health(H.DEGRADED, _fail_message(container))
        return Health(H.DEGRADED)
    if phase == "Running":
        if long_running:
            ready = _condition(obj, "Ready")
            if ready is not None and ready.get("status") == "True":
                return Health(H.HEALTHY, message)
            if any((c.get("lastState") or {}).get("terminated") for c in containers):
                return Health(H.DEGRADED, message)
            return Health(H.PROGRESSING, message)
        if spec.get("restartPolicy") in ("OnFailure", "Never"):
            # Run-to-completion pods (hooks, jobs' pods) are still working while they run.
            return Health(H.PROGRESSING, message)
    return Health(H.UNKNOWN, message)


def service(obj: Obj) -> Health:
    if (obj.get("spec") or {}).get("type") == "LoadBalancer":
        return ingress(obj)
    return Health(H.HEALTHY)


def ingress(obj: Obj) -> Health:
    addresses = (_status(obj).get("loadBalancer") or {}).get("ingress")
    return Health(H.HEALTHY if addresses else H.PROGRESSING)


def persistentvolumeclaim(obj: Obj) -> Health:
    phase = _status(obj).get("phase")
    verdict = {"Lost": H.DEGRADED, "Pending": H.PROGRESSING, "Bound": H.HEALTHY}.get(str(phase), H.UNKNOWN)
    return Health(verdict)


def job(obj: Obj) -> Health:
    """Only conditions whose status is True count (a resumed Job's ``Suspended=False`` does not)."""
    complete = failed = suspended = False
    message = fail_message = ""
    for condition in _status(obj).get("conditions") or ():
        if condition.get("status") != "True":
            continue
        kind = condition.get("type")
        if kind == "Failed":
            complete = failed = True
            fail_message = str(condition.get("message", ""))
        elif kind in ("Complete", "Suspended"):
            complete = True
            suspended = suspended or kind == "Suspended"
            message = str(condition.get("message", ""))
    if not complete:
        return Health(H.PROGRESSING, message)
    if failed:
        return Health(H.DEGRADED, fail_message)
    return Health(H.SUSPENDED if suspended else H.HEALTHY, message)


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
    ("batch", "CronJob"): health_kinds.cronjob,
    ("autoscaling", "HorizontalPodAutoscaler"): health_kinds.horizontalpodautoscaler,
    ("apiregistration.k8s.io", "APIService"): health_kinds.apiservice,
    ("policy", "PodDisruptionBudget"): health_kinds.poddisruptionbudget,
    ("argoproj.io", "Workflow"): health_kinds.argo_workflow,
    ("argoproj.io", "Rollout"): health_rollouts.argo_rollout,
    ("rollouts.kruise.io", "Rollout"): health_rollouts.kruise_rollout,
}

ASSESSED_KINDS = tuple(sorted(f"{group or 'core'}/{kind}" for group, kind in _RULES))
"""Every ``group/kind`` with a built-in rule, for the README and ``ferry``'s docs."""


def group_of(obj: Obj) -> str:
    api_version = str(obj.get("apiVersion", ""))
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def resource_health(
    obj: Obj | None,
    *,
    group: str | None = None,
    kind: str | None = None,
    overrides: HealthOverride | None = None,
) -> Health | None:
    """Health of one live object; ``Missing`` for None; None when the kind has no rule.

    A resource being deleted is Progressing, whatever its kind, unless a hook
    finalizer holds it, as in gitops-engine. Then the users' checks
    (``overrides``), then the built-in rules.
    """
    if obj is None:
        return Health(H.MISSING, "resource does not exist")
    group = group if group is not None else group_of(obj)
    kind = kind or str(obj.get("kind", ""))
    metadata = _meta(obj)
    if metadata.get("deletionTimestamp") and HOOK_FINALIZER not in (metadata.get("finalizers") or ()):
        return Health(H.PROGRESSING, "Pending deletion")
    if overrides is not None:
        covered, verdict = overrides.health(obj, group, kind)
        if covered:
            return verdict
    rule = _RULES.get((group, kind))
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
