"""An Argo Rollout's own analysis steps at Ferry's gates: evidence, auto-approval, and the controller's abort.

Pure: the controller's AnalysisRuns are outcomes built by hand, the canary a
recording fake (test_promotion_loop's), so the rules are checked without a
cluster; the real controller runs them in test_analysis_release_flow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from ferry.analysis.model import AnalysisOutcome, AnalysisPhase, Measurement, MetricResult
from ferry.errors import CanaryAborted, ConfigError, Rejected
from ferry.release.analysis_gate import ANALYSIS_APPROVER, AnalysisFailed, verdict
from ferry.release.gates import CanaryStep
from ferry.release.pipeline import ResolvedRelease
from ferry.release.promotion import promote_environment
from ferry.schema.releases import CanaryConfig, EnvironmentConfig, ReleaseConfig
from tests.release.test_analysis_gate import AT, METRIC, AnalysedSteps, _config

P = AnalysisPhase
RUN = "AnalysisRun echo/echo-6d4f-2-1"


def _run(phase: AnalysisPhase, value: str) -> AnalysisOutcome:
    measurement = Measurement(phase, AT, AT, f"[{value}]")
    return AnalysisOutcome(phase, (MetricResult("success-rate", phase, (measurement,)),), source=RUN)


class RolloutSteps(AnalysedSteps):
    """The analysed fake whose Rollout ran ``runs[since]`` before the gate after step ``since``.

    Ferry's own analysis (when configured) passes; ``abort_after`` makes the
    controller abort the rollout once that many steps were approved.
    """

    def __init__(
        self,
        runs: dict[int, AnalysisOutcome],
        answers: Sequence[bool] = (True,),
        abort_after: int | None = None,
    ) -> None:
        super().__init__(_run(P.SUCCESSFUL, "0.99"), answers=list(answers))
        self.runs = runs
        self.abort_after = abort_after

    def canary_wait(self, provider: Any, app: str, timeout: float) -> CanaryStep | None:
        if self.abort_after is not None and self.canary_total - self.canary_left == self.abort_after:
            raise CanaryAborted("Rollout echo/echo was aborted: RolloutAborted")
        return super().canary_wait(provider, app, timeout)

    def rollout_analysis(self, provider: Any, app: str, env: str, revision: str, since: int) -> Any:
        self._call(f"rollout analysis since {since}", app)
        return self.runs.get(since)


def _release(
    auto_approve: bool = False, auto_rollback: bool = False, analysis: bool = False
) -> ResolvedRelease:
    canary = CanaryConfig(
        provider="argo",
        resource="echo",
        auto_approve=auto_approve,
        analysis={"address": "http://p", "metrics": [METRIC]} if analysis else None,  # type: ignore[arg-type]
    )
    config = ReleaseConfig(
        name="echo",
        environments={"production": EnvironmentConfig(app="echo-production", canary=canary)},
        auto_rollback=auto_rollback,
    )
    return ResolvedRelease(config, {"production": "echo-production"}, {"production": canary})


@pytest.mark.parametrize(
    ("phases", "decides"),
    [
        ((), None),
        ((None,), None),
        ((P.SUCCESSFUL,), P.SUCCESSFUL),
        ((P.SUCCESSFUL, P.INCONCLUSIVE), P.INCONCLUSIVE),
        ((P.INCONCLUSIVE, P.FAILED), P.FAILED),
        ((P.ERROR, P.SUCCESSFUL), P.ERROR),
        ((None, P.SUCCESSFUL), P.SUCCESSFUL),
        ((P.RUNNING, P.SUCCESSFUL), P.RUNNING),
    ],
)
def test_the_worst_of_the_analyses_before_a_gate_decides_it(
    phases: tuple[AnalysisPhase | None, ...], decides: AnalysisPhase | None
) -> None:
    outcomes = [None if p is None else AnalysisOutcome(p) for p in phases]
    found = verdict(outcomes)
    assert (found.phase if found else None) is decides


def test_the_rollouts_passing_analysis_auto_approves_its_gate_and_is_recorded_as_the_approver() -> None:
    steps = RolloutSteps({0: _run(P.SUCCESSFUL, "0.99")}, answers=[True, True])
    promote_environment(steps, _release(auto_approve=True), "production", [])
    # Step 1's gate had the controller's passing run behind it; step 2's had none since: a human.
    assert [d.approver for d in steps.recorded] == [ANALYSIS_APPROVER]
    assert steps.recorded[0].approved and RUN in steps.recorded[0].comment
    assert steps.questions == ["Sync production?", "Approve canary step 2/2 (traffic n/a, replicas n/a)?"]
    names = [c[0] for c in steps.calls]
    assert names[names.index("rollout analysis since 0") :] == [
        "rollout analysis since 0",
        "approve step 1",
        "rollout analysis since 1",
        "approve step 2",
        "finish canary",
        "release hold",
        "status",
    ]


def test_an_inconclusive_rollout_analysis_asks_with_its_measurements_even_with_auto_approve() -> None:
    steps = RolloutSteps({0: _run(P.INCONCLUSIVE, "0.9")}, answers=[True, False])
    with pytest.raises(Rejected):
        promote_environment(steps, _release(auto_approve=True), "production", [])
    gate = steps.asked[1]
    assert gate.description.startswith(f"- Analysis Inconclusive ({RUN}): success-rate Inconclusive")
    assert "[0.9]" in gate.summary and steps.recorded == []
    assert [c[0] for c in steps.calls][-1] == "abort canary"


def test_ferrys_own_passing_analysis_does_not_outvote_the_rollouts_inconclusive_one() -> None:
    steps = RolloutSteps({0: _run(P.INCONCLUSIVE, "0.9")}, answers=[True, False])
    with pytest.raises(Rejected):
        promote_environment(steps, _release(auto_approve=True, analysis=True), "production", [])
    assert steps.asked[1].description.count("- Analysis ") == 2 and steps.recorded == []


@pytest.mark.parametrize("auto_rollback", [False, True])
def test_the_controllers_abort_on_a_failed_analysis_stops_the_release_as_a_reject(
    auto_rollback: bool,
) -> None:
    steps = RolloutSteps({1: _run(P.FAILED, "0.4")}, answers=[True, True], abort_after=1)
    with pytest.raises(
        AnalysisFailed,
        match=r"analysis failed at gate 'canary of echo-production in "
        r"production, after step 1': Analysis Failed \(AnalysisRun .*\[0\.4\]",
    ) as stopped:
        promote_environment(steps, _release(auto_rollback=auto_rollback), "production", [])
    assert stopped.value.decision.approver == ANALYSIS_APPROVER
    names = [c[0] for c in steps.calls]
    assert names[names.index("approve step 1") :] == [
        "approve step 1",
        "rollout analysis since 1",
        "abort canary",
        *(["quick rollback"] if auto_rollback else []),
    ]


@pytest.mark.parametrize("run", [None, _run(P.SUCCESSFUL, "0.99")], ids=["no-run", "passed"])
def test_an_abort_that_no_failed_analysis_explains_is_an_error_not_a_decision(
    run: AnalysisOutcome | None,
) -> None:
    steps = RolloutSteps({} if run is None else {0: run}, abort_after=0)
    with pytest.raises(CanaryAborted) as stopped:
        promote_environment(steps, _release(), "production", [])
    assert not isinstance(stopped.value, Rejected)
    assert "abort canary" not in [c[0] for c in steps.calls]


def test_auto_approve_needs_evidence_except_on_an_argo_rollout() -> None:
    assert _config({"provider": "argo", "resource": "echo", "auto_approve": True}).auto_approve
    with pytest.raises(ConfigError, match=r"auto_approve needs an `analysis`.*or provider `argo`"):
        _config({"provider": "native", "step_gates": {"1": {"auto_approve": True}}})
