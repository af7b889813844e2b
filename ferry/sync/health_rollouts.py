"""Health of the canary CRDs: Argo Rollouts' and OpenKruise's ``Rollout``.

Both follow the behaviour of Argo CD's bundled checks
(``resource_customizations/argoproj.io/Rollout`` and ``rollouts.kruise.io/Rollout``),
as their ``health_test.yaml`` fixtures pin it, status and message. The release
pipeline waits on these verdicts, so a wrong one is a wrong release decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ferry.sync.model import Health, HealthStatus

Obj = Mapping[str, Any]
H = HealthStatus

WORKLOAD_GENERATION = "rollout.argoproj.io/workload-generation"
_NOT_OBSERVED = Health(H.PROGRESSING, "Waiting for rollout spec update to be observed")
_VALID = frozenset(s.value for s in HealthStatus)


def _number(value: Any) -> float | None:
    """Lua's ``tonumber``: numbers and numeric text, else None (a v0.9 hash is not a number)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _generation_observed(obj: Obj) -> bool:
    status = obj.get("status")
    if status is None:
        return False
    observed = _number(status.get("observedGeneration"))
    generation = _number((obj.get("metadata") or {}).get("generation"))
    # A hash, or a number ahead of the generation, is a rollout from before v0.10: counted as observed.
    if observed is None or generation is None or observed > generation:
        return True
    return observed == generation


def _workload_generation_observed(obj: Obj) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations")
    if (obj.get("spec") or {}).get("workloadRef") is None or annotations is None:
        return True
    wanted = _number(annotations.get(WORKLOAD_GENERATION))
    return wanted == _number((obj.get("status") or {}).get("workloadObservedGeneration"))


def _phase(status: Mapping[str, Any]) -> Health:
    phase = str(status["phase"])
    code = "Suspended" if phase == "Paused" else phase
    if code not in _VALID:
        return Health(H.UNKNOWN, "Lua returned an invalid health status")
    return Health(H(code), str(status.get("message") or ""))


def _replicas(spec: Mapping[str, Any], status: Mapping[str, Any]) -> Health | None:
    desired = spec.get("replicas", 1)
    updated = status.get("updatedReplicas") or 0
    if updated < desired:
        return Health(H.PROGRESSING, "Waiting for roll out to finish: More replicas need to be updated")
    if (status.get("availableReplicas") or 0) < updated:
        return Health(
            H.PROGRESSING, "Waiting for roll out to finish: updated replicas are still becoming available"
        )
    return None


def argo_rollout(obj: Obj) -> Health:
    """Argo Rollouts' ``Rollout`` (argoproj.io), v0.9 to v1.x."""
    if not _generation_observed(obj) or not _workload_generation_observed(obj):
        return _NOT_OBSERVED
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if status.get("phase") is not None:
        # Since v1.0 the controller records a phase and message, which are surfaced as they are.
        return _phase(status)
    for condition in status.get("conditions") or ():
        kind, reason = condition.get("type"), condition.get("reason")
        if kind == "InvalidSpec" or (
            kind == "Progressing" and reason in ("RolloutAborted", "ProgressDeadlineExceeded")
        ):
            return Health(H.DEGRADED, str(condition.get("message") or ""))
    if status.get("pauseConditions") or spec.get("paused"):
        return Health(H.SUSPENDED, "Rollout is paused")
    pod_hash = status.get("currentPodHash")
    if pod_hash is None:
        return Health(H.PROGRESSING, "Waiting for rollout to finish: status has not been reconciled.")
    replicas = _replicas(spec, status)
    if replicas is not None:
        return replicas
    stable = status.get("stableRS") or ((status.get("canary") or {}).get("stableRS")) or ""
    strategy = spec.get("strategy") or {}
    if strategy.get("blueGreen") is not None:
        if (status.get("blueGreen") or {}).get("activeSelector") != pod_hash:
            return Health(H.PROGRESSING, "active service cutover pending")
        if stable and stable != pod_hash:
            return Health(H.PROGRESSING, "waiting for analysis to complete")
    elif strategy.get("canary") is not None:
        if (status.get("replicas") or 0) > (status.get("updatedReplicas") or 0):
            return Health(
                H.PROGRESSING, "Waiting for roll out to finish: old replicas are pending termination"
            )
        if not stable or stable != pod_hash:
            return Health(H.PROGRESSING, "Waiting for rollout to finish steps")
    return Health(H.HEALTHY)


_KRUISE_PROGRESSING = Health(H.PROGRESSING, "Rollout is still progressing")


def kruise_rollout(obj: Obj) -> Health:
    """OpenKruise's ``Rollout`` (rollouts.kruise.io ``v1alpha1`` and ``v1beta1``: the status is the same).

    Only a paused step of a Progressing rollout waits for a human; a paused step
    of a Disabled or Terminating one is Degraded. Where Argo CD's check fails on a
    missing ``status`` or ``canaryStatus`` (Unknown), Ferry reads a rollout that never
    ran a canary by its phase, and a blue-green one by ``blueGreenStatus``.
    """
    status = obj.get("status")
    if not status:
        return _KRUISE_PROGRESSING
    generation = _number((obj.get("metadata") or {}).get("generation"))
    if generation != _number(status.get("observedGeneration")):
        return _KRUISE_PROGRESSING
    phase = status.get("phase")
    steps = status.get("canaryStatus") or status.get("blueGreenStatus")
    if not steps:
        if phase == "Healthy":
            return Health(H.HEALTHY, str(status.get("message") or ""))
        return _KRUISE_PROGRESSING
    state = steps.get("currentStepState")
    if state == "StepPaused" and phase == "Progressing":
        return Health(H.SUSPENDED, "Rollout is Paused need manual intervention")
    if state == "Completed" and phase == "Healthy":
        return Health(H.HEALTHY, "Rollout is Completed")
    if state == "StepPaused" and phase in ("Terminating", "Disabled"):
        return Health(H.DEGRADED, "Rollout is Disabled or Terminating")
    return _KRUISE_PROGRESSING
