"""Reading Argo Rollouts' status: the statuses are those the real v1.10.1 controller wrote in the sandbox
(trimmed of conditions), and the promote patches are ``kubectl argo rollouts promote``'s."""

from __future__ import annotations

from typing import Any

import pytest

from ferry.analysis.model import AnalysisPhase
from ferry.release.argo import ArgoRollout, analysis_outcome, observed, progress_of
from ferry.release.gates import CanaryStep
from ferry.sync.model import HealthStatus

STEPS = [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]
ANALYSIS = [{"setWeight": 25}, {"analysis": {"templates": [{"templateName": "success-rate"}]}}, *STEPS[2:]]


def rollout(generation: int, status: dict[str, Any], steps: list[dict[str, Any]] = STEPS) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "echo", "namespace": "exp", "generation": generation},
        "spec": {"replicas": 4, "strategy": {"canary": {"steps": steps}}},
        "status": status,
    }


HEALTHY_V1 = {
    "HPAReplicas": 4, "availableReplicas": 4, "blueGreen": {}, "canary": {}, "currentPodHash": "7bcfdf84b9",
    "currentStepHash": "674b64b78f", "currentStepIndex": 4, "observedGeneration": "2", "phase": "Healthy",
    "readyReplicas": 4, "replicas": 4, "selector": "app=echo", "stableRS": "7bcfdf84b9",
    "updatedReplicas": 4,
}  # fmt: skip
PAUSED_AT_25 = {
    "HPAReplicas": 4, "availableReplicas": 4, "blueGreen": {}, "canary": {}, "controllerPause": True,
    "currentPodHash": "54fc5784c6", "currentStepHash": "674b64b78f", "currentStepIndex": 1,
    "message": "CanaryPauseStep", "observedGeneration": "3",
    "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2026-12-02T05:45:25Z"}],
    "phase": "Paused", "readyReplicas": 4, "replicas": 4, "selector": "app=echo", "stableRS": "7bcfdf84b9",
    "updatedReplicas": 1,
}  # fmt: skip
PROMOTED_V2 = {
    "HPAReplicas": 4, "availableReplicas": 4, "blueGreen": {}, "canary": {}, "currentPodHash": "54fc5784c6",
    "currentStepHash": "674b64b78f", "currentStepIndex": 4, "observedGeneration": "3", "phase": "Healthy",
    "readyReplicas": 4, "replicas": 4, "selector": "app=echo", "stableRS": "54fc5784c6",
    "updatedReplicas": 4,
}  # fmt: skip
ABORTED_V3 = {
    "HPAReplicas": 4, "abort": True, "abortedAt": "2026-12-02T05:46:44Z", "availableReplicas": 4,
    "blueGreen": {}, "canary": {}, "currentPodHash": "565989f4f5", "currentStepHash": "674b64b78f",
    "currentStepIndex": 0,
    "message": "RolloutAborted: Rollout aborted update to revision 3", "observedGeneration": "4",
    "phase": "Degraded", "readyReplicas": 4, "replicas": 4, "selector": "app=echo", "stableRS": "54fc5784c6",
}  # fmt: skip
INCONCLUSIVE_V3 = {
    "HPAReplicas": 4, "availableReplicas": 4, "blueGreen": {},
    "canary": {"currentStepAnalysisRunStatus": {
        "message": 'Metric "success-rate" assessed Inconclusive due to '
        "inconclusive (1) > inconclusiveLimit (0)",
        "name": "echo-b6ffb985-3-1", "status": "Inconclusive"}},
    "controllerPause": True, "currentPodHash": "b6ffb985", "currentStepHash": "848c5f4c55",
    "currentStepIndex": 1,
    "message": "InconclusiveAnalysisRun", "observedGeneration": "4",
    "pauseConditions": [{"reason": "InconclusiveAnalysisRun", "startTime": "2026-12-02T05:50:15Z"}],
    "phase": "Paused", "readyReplicas": 4, "replicas": 4, "selector": "app=echo", "stableRS": "7c8fb46bc5",
    "updatedReplicas": 1,
}  # fmt: skip


@pytest.mark.parametrize(
    ("generation", "status", "steps", "paused", "promoted", "health"),
    [
        # Right after a sync to v2 the status is still v1's: Healthy at the last step, but of generation 2.
        (3, HEALTHY_V1, STEPS, None, False, HealthStatus.PROGRESSING),
        (2, HEALTHY_V1, STEPS, None, True, HealthStatus.HEALTHY),
        (3, PAUSED_AT_25, STEPS, CanaryStep(2, 4, 25, 1, 0, 0, 0), False, HealthStatus.SUSPENDED),
        (3, PROMOTED_V2, STEPS, None, True, HealthStatus.HEALTHY),
        (4, ABORTED_V3, STEPS, None, False, HealthStatus.DEGRADED),
        (4, INCONCLUSIVE_V3, ANALYSIS, CanaryStep(2, 4, 25, 1, 0, 0, 0), False, HealthStatus.SUSPENDED),
    ],
    ids=["stale-after-sync", "healthy", "paused-at-25", "promoted", "aborted", "inconclusive-analysis"],
)
def test_real_controller_statuses(
    generation: int,
    status: dict[str, Any],
    steps: list[dict[str, Any]],
    paused: CanaryStep | None,
    promoted: bool,
    health: HealthStatus,
) -> None:
    live = rollout(generation, status, steps)
    assert ArgoRollout.paused_step(live) == paused
    assert ArgoRollout.completed(live) is promoted
    found = progress_of(live, {})
    assert found.health is not None and found.health.status is health


def test_the_two_replica_sets_give_the_canary_and_stable_pods() -> None:
    def rs(name: str, replicas: int, ready: int) -> dict[str, Any]:
        status = {"readyReplicas": ready}
        return {"spec": {"replicas": replicas}, "status": status, "metadata": {"name": name}}

    live = rollout(3, PAUSED_AT_25)
    found = progress_of(live, {"54fc5784c6": rs("c", 1, 1), "7bcfdf84b9": rs("s", 3, 2)})
    assert found.step() == CanaryStep(2, 4, 25, 1, canary_ready=1, stable_replicas=3, stable_ready=2)
    assert found.paused and found.pause_reasons == ("CanaryPauseStep",)
    done = progress_of(rollout(3, PROMOTED_V2), {"54fc5784c6": rs("s", 4, 4)})
    assert (done.canary, done.stable, done.promoted) == ((0, 0), (4, 4), True)


def test_observed_generation_is_a_string_and_compared_as_one() -> None:
    assert observed(rollout(2, {"observedGeneration": "2"}))
    assert not observed(rollout(3, {"observedGeneration": "2"}))
    assert not observed(rollout(3, {}))


@pytest.mark.parametrize(
    ("generation", "status", "steps", "expected"),
    [
        (3, PAUSED_AT_25, STEPS, (None, {"status": {"pauseConditions": None}})),
        # kubectl argo rollouts promote after an inconclusive analysis: past the step, controllerPause off.
        (
            4,
            INCONCLUSIVE_V3,
            ANALYSIS,
            (None, {"status": {"pauseConditions": None, "controllerPause": False, "currentStepIndex": 2}}),
        ),
    ],
    ids=["pause-step", "inconclusive-analysis"],
)
def test_promote_patches(
    generation: int, status: dict[str, Any], steps: list[dict[str, Any]], expected: tuple[Any, Any]
) -> None:
    assert ArgoRollout.promote_patches(rollout(generation, status, steps)) == expected


def test_an_analysis_run_reads_as_ferrys_analysis_records() -> None:
    # The status the controller wrote for the passing step analysis (AnalysisRun echo-5c997cc478-2-1).
    run = {
        "metadata": {"name": "echo-5c997cc478-2-1", "namespace": "an"},
        "status": {
            "completedAt": "2026-12-02T05:50:11Z",
            "dryRunSummary": {},
            "metricResults": [
                {
                    "consecutiveSuccess": 2,
                    "count": 2,
                    "measurements": [
                        {"finishedAt": "2026-12-02T05:50:10Z", "phase": "Successful",
                         "startedAt": "2026-12-02T05:50:10Z", "value": "[0.99]"},
                        {"finishedAt": "2026-12-02T05:50:11Z", "phase": "Successful",
                         "startedAt": "2026-12-02T05:50:11Z", "value": "[0.99]"},
                    ],
                    "name": "success-rate",
                    "phase": "Successful",
                    "successful": 2,
                }
            ],
            "phase": "Successful",
            "runSummary": {"count": 1, "successful": 1},
            "startedAt": "2026-12-02T05:50:10Z",
        },
    }  # fmt: skip
    outcome = analysis_outcome(run)
    assert outcome.phase is AnalysisPhase.SUCCESSFUL
    assert outcome.source == "AnalysisRun an/echo-5c997cc478-2-1"
    result = outcome.metric("success-rate")
    assert (result.count, result.successful, result.consecutive_success) == (2, 2, 2)
    assert [m.value for m in result.measurements] == ["[0.99]", "[0.99]"]
    assert result.measurements[0].finished_at is not None
    assert outcome.finished_at is not None and outcome.started_at is not None
    assert (outcome.finished_at - outcome.started_at).total_seconds() == 1
