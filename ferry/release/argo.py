"""Argo Rollouts (``argoproj.io/v1alpha1``): read a Rollout's step, promote it, abort it, read its analysis.

Read against the real controller (v1.10.1, see ``tests/release/test_argo_controller.py``):

* a status belongs to the spec only when ``status.observedGeneration`` (a
  *string*) equals ``metadata.generation``; right after a sync the old status
  still says Healthy at the last step, and is not an answer;
* a paused step has ``pauseConditions`` (``CanaryPauseStep``, or
  ``InconclusiveAnalysisRun`` after an inconclusive analysis step) and
  ``controllerPause: true``; ``currentStepIndex`` is the pause's index in
  ``spec.strategy.canary.steps`` (0-based);
* the canary and stable ReplicaSets are named by ``status.currentPodHash`` and
  ``status.stableRS`` (their ``rollouts-pod-template-hash`` label); a fully
  promoted rollout has ``stableRS == currentPodHash`` and phase Healthy;
* an abort leaves ``abort: true``, phase Degraded, the pause conditions gone,
  ``currentStepIndex: 0`` and the canary ReplicaSet at 0 replicas.

Promote and abort send what ``kubectl argo rollouts promote``/``abort`` send.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ferry.analysis.model import AnalysisOutcome, AnalysisPhase, Measurement, MetricResult
from ferry.errors import CanaryAborted, ClusterNotFound
from ferry.release.gates import CanaryStep
from ferry.release.kube import merge_patch, poll, require
from ferry.sync.health import resource_health
from ferry.sync.kube import KubeCluster
from ferry.sync.model import Health

logger = logging.getLogger(__name__)

ARGO_API = "argoproj.io/v1alpha1"
POD_HASH_LABEL = "rollouts-pod-template-hash"
INCONCLUSIVE_PAUSE = "InconclusiveAnalysisRun"


class RolloutAborted(CanaryAborted):
    """The rollout was aborted (a reject, or a failed analysis step); ``progress`` is what Ferry saw."""

    def __init__(self, message: str, progress: RolloutProgress) -> None:
        super().__init__(message)
        self.progress = progress


def _status(rollout: dict[str, Any]) -> dict[str, Any]:
    return dict(rollout.get("status") or {})


def _steps(rollout: dict[str, Any]) -> list[dict[str, Any]] | None:
    canary = ((rollout.get("spec") or {}).get("strategy") or {}).get("canary")
    return None if canary is None else list(canary.get("steps") or [])


def observed(rollout: dict[str, Any]) -> bool:
    """Whether the status describes the current spec (the controller writes the generation as a string)."""
    generation = (rollout.get("metadata") or {}).get("generation")
    seen = _status(rollout).get("observedGeneration")
    return seen is not None and generation is not None and str(seen) == str(generation)


def weight_at(steps: list[dict[str, Any]], index: int) -> int | None:
    """The canary weight in force at step ``index``: the last ``setWeight`` at or before it.

    >>> weight_at([{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}], 3)
    50
    """
    weight = None
    for step in steps[: index + 1]:
        if "setWeight" in step:
            weight = int(step["setWeight"])
    return weight


@dataclass(frozen=True, slots=True)
class RolloutProgress:
    """One look at a Rollout and its two ReplicaSets, for a gate or a log line.

    Attributes:
        phase: ``status.phase`` (Progressing, Paused, Healthy, Degraded).
        message: ``status.message``.
        observed: Whether the controller has seen the current spec.
        aborted: ``status.abort``.
        promoted: The stable ReplicaSet is the current one and the phase Healthy.
        step_index: ``status.currentStepIndex`` (0-based; ``len(steps)`` when done).
        steps: How many canary steps the spec has.
        weight: The canary weight in force.
        pause_reasons: The reasons of the pause conditions.
        canary: ``(replicas, ready)`` of the canary ReplicaSet.
        stable: ``(replicas, ready)`` of the stable ReplicaSet.
        analysis_run: The AnalysisRun of the current step, if one ran.
        health: By Ferry's health rules.
    """

    phase: str
    message: str
    observed: bool
    aborted: bool
    promoted: bool
    step_index: int
    steps: int
    weight: int | None
    pause_reasons: tuple[str, ...]
    canary: tuple[int, int]
    stable: tuple[int, int]
    analysis_run: str | None
    health: Health | None

    @property
    def paused(self) -> bool:
        """The controller is waiting for a promote."""
        return self.observed and not self.aborted and bool(self.pause_reasons)

    def step(self) -> CanaryStep:
        """The paused step for the gate (1-based index), with replicas and ready pods."""
        return CanaryStep(
            self.step_index + 1,
            max(self.steps, 1),
            self.weight,
            self.canary[0],
            canary_ready=self.canary[1],
            stable_replicas=self.stable[0],
            stable_ready=self.stable[1],
        )


class ArgoRollout:
    """An Argo Rollout in ``namespace``, driven the way ``kubectl argo rollouts`` drives it."""

    def __init__(self, cluster: KubeCluster, namespace: str, name: str, poll_interval: float = 0.5) -> None:
        self.cluster, self.namespace, self.name = cluster, namespace, name
        self._interval = poll_interval

    def _live(self) -> dict[str, Any]:
        return require(self.cluster, ARGO_API, "Rollout", self.name, self.namespace)

    def _replica_sets(self, rollout: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """This rollout's ReplicaSets by pod-template hash."""
        owned: dict[str, dict[str, Any]] = {}
        for rs in self.cluster.list(
            "apps/v1", "ReplicaSet", namespace=self.namespace, label_selector=POD_HASH_LABEL
        ):
            owners = (rs.get("metadata") or {}).get("ownerReferences") or []
            if any(o.get("kind") == "Rollout" and o.get("name") == self.name for o in owners):
                owned[str(rs["metadata"]["labels"][POD_HASH_LABEL])] = rs
        return owned

    def progress(self) -> RolloutProgress:
        """Read the Rollout and its ReplicaSets once."""
        live = self._live()
        return progress_of(live, self._replica_sets(live))

    @staticmethod
    def paused_step(rollout: dict[str, Any]) -> CanaryStep | None:
        """The step a Rollout is paused at (from its status alone), else None."""
        found = progress_of(rollout, {})
        return found.step() if found.paused or (found.observed and _spec_paused(rollout)) else None

    @staticmethod
    def completed(rollout: dict[str, Any]) -> bool:
        """Fully promoted: the controller saw this spec, the stable is the current version, Healthy."""
        return progress_of(rollout, {}).promoted

    def next_pause(self, timeout: float) -> CanaryStep | None:
        """Wait until the controller pauses with the canary's pods ready (the step) or finishes (None).

        Raises:
            ClusterError: The rollout was aborted (by a reject or by a failed analysis).
            TimeoutError: Neither happened within ``timeout``.
        """

        def probe() -> tuple[CanaryStep | None] | None:
            now = self.progress()
            if now.observed and now.aborted:
                raise RolloutAborted(f"Rollout {self.namespace}/{self.name} was aborted: {now.message}", now)
            if now.paused and now.canary[1] >= now.canary[0]:
                return (now.step(),)
            return (None,) if now.promoted else None

        return poll(probe, timeout=timeout, interval=self._interval, what=f"Rollout {self.name} to pause")[0]

    @staticmethod
    def promote_patches(rollout: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(spec patch, status patch) of ``kubectl argo rollouts promote`` without flags.

        After an inconclusive step analysis the controller pauses itself: promote
        then also moves past the step and clears ``controllerPause``. Otherwise it
        clears the pause conditions when there are any, else advances the step
        index (never both), and un-pauses the spec when it is paused.
        """
        spec_patch = {"spec": {"paused": False}} if _spec_paused(rollout) else None
        status = _status(rollout)
        steps = _steps(rollout)
        index = int(status.get("currentStepIndex") or 0)
        next_index = index + 1 if steps and index < len(steps) else index
        status_patch: dict[str, Any] | None = None
        analysis = (status.get("canary") or {}).get("currentStepAnalysisRunStatus") or {}
        inconclusive = steps is not None and analysis.get("status") == AnalysisPhase.INCONCLUSIVE.value
        if inconclusive and status.get("pauseConditions") and status.get("controllerPause"):
            status_patch = {
                "status": {"pauseConditions": None, "controllerPause": False, "currentStepIndex": next_index}
            }
        elif status.get("pauseConditions"):
            status_patch = {"status": {"pauseConditions": None}}
        elif steps:
            status_patch = {"status": {"pauseConditions": None, "currentStepIndex": next_index}}
        return spec_patch, status_patch

    def _patch_status(
        self, patch: dict[str, Any], spec_patch: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """Patch the status subresource; without one (Rollouts < v0.10) return spec and status in one."""
        try:
            merge_patch(
                self.cluster, ARGO_API, "Rollout", self.name, self.namespace, patch, subresource="status"
            )
        except ClusterNotFound:
            return {**patch, **(spec_patch or {})}
        return spec_patch

    def approve(self, step: CanaryStep | None = None) -> None:
        """``kubectl argo rollouts promote``."""
        spec_patch, status_patch = self.promote_patches(self._live())
        if status_patch is not None:
            spec_patch = self._patch_status(status_patch, spec_patch)
        if spec_patch is not None:
            merge_patch(self.cluster, ARGO_API, "Rollout", self.name, self.namespace, spec_patch)
        logger.info("Rollout %s/%s promoted at %s", self.namespace, self.name, step.label() if step else "")

    def reject(self) -> None:
        """``kubectl argo rollouts abort``: ``status.abort=true``."""
        leftover = self._patch_status({"status": {"abort": True}}, None)
        if leftover is not None:
            merge_patch(self.cluster, ARGO_API, "Rollout", self.name, self.namespace, leftover)
        logger.warning("Rollout %s/%s aborted", self.namespace, self.name)

    def wait_aborted(self, timeout: float) -> RolloutProgress:
        """Wait until the controller has acted on an abort: Degraded, the canary scaled to zero.

        Zero means no canary pod left ready too: the ReplicaSet's ``readyReplicas`` lags its
        ``replicas`` while the pods terminate (seen at load 15: ``(0, 1)``), and until then
        the canary still serves.
        """

        def probe() -> RolloutProgress | None:
            now = self.progress()
            done = now.observed and now.aborted and now.phase == "Degraded" and now.canary == (0, 0)
            return now if done else None

        return poll(probe, timeout=timeout, interval=self._interval, what=f"Rollout {self.name} to abort")

    def finish(self) -> None:
        """Nothing to clean: the controller finished the rollout."""

    def analysis(self, since: int = 0) -> AnalysisOutcome | None:
        """The newest step analysis of the revision being rolled out, as Ferry's analysis records.

        That is the current step's AnalysisRun while it runs or holds the
        rollout (inconclusive), else the last one at or before the current step
        (the one a promotion just passed, or the one that aborted it), and only
        at a step after the 1-based step ``since`` (the last gate's: a gate
        shows the analysis run since the one before it). None when there is none.
        """
        live = self._live()
        status = _status(live)
        name = ((status.get("canary") or {}).get("currentStepAnalysisRunStatus") or {}).get("name")
        if name:
            run = self.cluster.get(ARGO_API, "AnalysisRun", str(name), self.namespace)
            return None if run is None else analysis_outcome(run)
        current, index = status.get("currentPodHash"), int(status.get("currentStepIndex") or 0)
        if not current:
            return None
        runs = [
            run
            for run in self.cluster.list(
                ARGO_API,
                "AnalysisRun",
                namespace=self.namespace,
                label_selector=f"{POD_HASH_LABEL}={current},rollout-type=Step",
            )
            if any(o.get("name") == self.name for o in run["metadata"].get("ownerReferences") or [])
        ]
        # After an abort the step index is back at 0: every step run of the revision counts then.
        eligible = [
            r for r in runs if (status.get("abort") or _step_index(r) <= index) and _step_index(r) >= since
        ]
        if not eligible:
            return None
        return analysis_outcome(
            max(eligible, key=lambda r: (_step_index(r), r["metadata"]["creationTimestamp"]))
        )


def _step_index(run: dict[str, Any]) -> int:
    return int(((run.get("metadata") or {}).get("labels") or {}).get("step-index", "0"))


def _spec_paused(rollout: dict[str, Any]) -> bool:
    return bool((rollout.get("spec") or {}).get("paused"))


def _replicas(rs: dict[str, Any] | None) -> tuple[int, int]:
    if rs is None:
        return 0, 0
    status = rs.get("status") or {}
    return int((rs.get("spec") or {}).get("replicas") or 0), int(status.get("readyReplicas") or 0)


def progress_of(rollout: dict[str, Any], replica_sets: dict[str, dict[str, Any]]) -> RolloutProgress:
    """A :class:`RolloutProgress` from a live Rollout and its ReplicaSets by pod-template hash.

    Without the ReplicaSets, the canary's replicas come from ``status.updatedReplicas``.
    """
    status = _status(rollout)
    steps = _steps(rollout) or []
    index = int(status.get("currentStepIndex") or 0)
    current, stable = status.get("currentPodHash"), status.get("stableRS")
    canary = (
        _replicas(replica_sets.get(str(current)))
        if replica_sets
        else (int(status.get("updatedReplicas") or 0), 0)
    )
    is_observed = observed(rollout)
    promoted = (
        is_observed
        and not status.get("abort")
        and not status.get("pauseConditions")
        and not _spec_paused(rollout)
        and current is not None
        and current == stable
        and status.get("phase") == "Healthy"
    )
    return RolloutProgress(
        phase=str(status.get("phase") or ""),
        message=str(status.get("message") or ""),
        observed=is_observed,
        aborted=bool(status.get("abort")),
        promoted=promoted,
        step_index=index,
        steps=len(steps),
        weight=weight_at(steps, index),
        pause_reasons=tuple(str(c.get("reason", "")) for c in status.get("pauseConditions") or []),
        canary=(0, 0) if current == stable and replica_sets else canary,
        stable=_replicas(replica_sets.get(str(stable))) if replica_sets else (0, 0),
        analysis_run=((status.get("canary") or {}).get("currentStepAnalysisRunStatus") or {}).get("name"),
        health=resource_health(rollout),
    )


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _phase(value: Any, default: AnalysisPhase = AnalysisPhase.PENDING) -> AnalysisPhase:
    try:
        return AnalysisPhase(str(value))
    except ValueError:
        return default


def analysis_outcome(run: dict[str, Any]) -> AnalysisOutcome:
    """An AnalysisRun's status as Ferry's analysis records (the same a Ferry analysis produces)."""
    status = run.get("status") or {}
    metrics = []
    for result in status.get("metricResults") or []:
        measurements = tuple(
            Measurement(
                _phase(m.get("phase"), AnalysisPhase.RUNNING),
                _time(m.get("startedAt")) or datetime.min,
                _time(m.get("finishedAt")),
                str(m.get("value") or ""),
                str(m.get("message") or ""),
            )
            for m in result.get("measurements") or []
        )
        metrics.append(
            MetricResult(
                name=str(result.get("name", "")),
                phase=_phase(result.get("phase")),
                measurements=measurements,
                count=int(result.get("count") or 0),
                successful=int(result.get("successful") or 0),
                failed=int(result.get("failed") or 0),
                inconclusive=int(result.get("inconclusive") or 0),
                error=int(result.get("error") or 0),
                consecutive_error=int(result.get("consecutiveError") or 0),
                consecutive_success=int(result.get("consecutiveSuccess") or 0),
                message=str(result.get("message") or ""),
            )
        )
    metadata = run.get("metadata") or {}
    return AnalysisOutcome(
        _phase(status.get("phase")),
        tuple(metrics),
        str(status.get("message") or ""),
        _time(status.get("startedAt")),
        _time(status.get("completedAt")),
        source=f"AnalysisRun {metadata.get('namespace', '')}/{metadata.get('name', '')}",
    )
