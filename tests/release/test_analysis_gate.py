"""The analysis before a canary gate: its decision, its schema, and what the release loop does with it.

Pure: outcomes are built by hand and the loop runs over the recording fake of
test_promotion_loop; the real Prometheus run is in test_analysis_release_flow.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ferry.analysis.model import AnalysisOutcome, AnalysisPhase, Measurement, MetricResult
from ferry.config import parse_config
from ferry.errors import ConfigError, Rejected
from ferry.release.analysis_gate import ANALYSIS_APPROVER, AnalysisFailed, GateAction, decide
from ferry.release.gates import CanaryStep, GateDecision, GateQuestion
from ferry.release.pipeline import ResolvedRelease
from ferry.release.promotion import promote_environment
from ferry.schema.releases import CanaryConfig, EnvironmentConfig, ReleaseConfig
from tests.release.test_promotion_loop import STEP, Steps

P = AnalysisPhase
AT = datetime(2026, 1, 1, tzinfo=UTC)
METRIC = {
    "name": "success-rate",
    "provider": {"prometheus": {"query": "up"}},
    "successCondition": "result[0] >= 0.95",
    "interval": "1s",
    "count": 3,
}

#: The native canary's calls after the sync gate when the analysis approves both steps alone.
AUTO_APPROVED = [
    "analyse step 1",
    "approve step 1",
    "analyse step 2",
    "approve step 2",
    "sync(wait=True)",
    "finish canary",
    "release hold",
    "status",
]


@pytest.mark.parametrize(
    ("phase", "auto_approve", "action"),
    [
        (None, False, GateAction.ASK),
        (None, True, GateAction.ASK),
        (P.SUCCESSFUL, True, GateAction.APPROVE),
        (P.SUCCESSFUL, False, GateAction.ASK),
        (P.FAILED, False, GateAction.ABORT),
        (P.FAILED, True, GateAction.ABORT),
        (P.ERROR, True, GateAction.ABORT),
        (P.INCONCLUSIVE, True, GateAction.ASK),
        (P.RUNNING, True, GateAction.ASK),
    ],
)
def test_the_analysis_outcome_decides_approve_ask_or_abort(
    phase: AnalysisPhase | None, auto_approve: bool, action: GateAction
) -> None:
    outcome = None if phase is None else AnalysisOutcome(phase)
    assert decide(outcome, auto_approve) is action


def _config(canary: dict[str, Any]) -> CanaryConfig:
    release = {"name": "echo", "environments": {"staging": {"app": "echo-staging", "canary": canary}}}
    config = parse_config({"releases": [release]}, source="ferry.yaml", base_dir=Path("."))
    return config.releases[0].environments["staging"].canary


@pytest.mark.parametrize(
    ("canary", "message"),
    [
        ({"auto_approve": True}, r"staging\.canary: .*auto_approve needs an `analysis`"),
        ({"soak": "10x"}, r"staging\.canary\.soak: .*unknown unit \"x\" in duration \"10x\""),
        (
            {"analysis": {"address": "http://p", "metrics": [{**METRIC, "failureLimit": 5}]}},
            r"canary\.analysis\.metrics\.0: .*count \(3\) must be >= failureLimit",
        ),
        ({"analysis": {"metrics": [METRIC]}}, r"canary\.analysis: .*\['success-rate'\] name no prometheus"),
        ({"analysis": {"address": "http://p", "metrics": []}}, r"canary\.analysis: .*no metrics specified"),
        (
            {"analysis": {"address": "http://p", "metrics": [{**METRIC, "successCondition": "result >"}]}},
            r"metrics\.0\.successCondition: .*does not parse",
        ),
        ({"step_gates": {"4": {"soak": "1m"}}}, r"staging\.canary: .*step_gates: no canary step \[4\]"),
        ({"step_gates": {"1": {"soak": "1m", "auto": 1}}}, r"step_gates\.1\.auto: Extra inputs"),
    ],
    ids=[
        "auto-without-analysis",
        "bad-soak",
        "limits",
        "no-address",
        "no-metrics",
        "condition",
        "step",
        "typo",
    ],
)
def test_a_bad_analysis_config_names_the_key_and_the_problem(canary: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _config({"provider": "native", **canary})


def test_an_analysis_needs_a_canary_to_run_before() -> None:
    with pytest.raises(ConfigError, match=r"canary: .*need a canary `provider`"):
        _config({"analysis": {"address": "http://p", "metrics": [METRIC]}})


def test_a_step_policy_replaces_the_environments_and_durations_read_as_go_durations() -> None:
    canary = _config(
        {
            "provider": "native",
            "analysis": {"address": "http://p", "metrics": [METRIC]},
            "auto_approve": True,
            "soak": "1m30s",
            "step_gates": {"2": {"soak": "10m"}},
        }
    )
    first, second = canary.policy(1), canary.policy(2)
    assert (first.soak, first.auto_approve, first.analysis is not None) == (90.0, True, True)
    assert (second.soak, second.auto_approve, second.analysis) == (600.0, False, None)
    assert first.analysis is not None and first.analysis.metrics[0].interval == 1.0


def _outcome(phase: AnalysisPhase, value: str = "0.5") -> AnalysisOutcome:
    measurement = Measurement(phase, AT, AT, f"[{value}]")
    return AnalysisOutcome(phase, (MetricResult("success-rate", phase, (measurement,)),), "why not")


class AnalysedSteps(Steps):
    """The recording fake, with a clock that moves, a soak that jumps it, and a scripted analysis."""

    def __init__(self, outcome: AnalysisOutcome, answers: list[bool], canary_steps: int = 2) -> None:
        super().__init__(answers=answers, canary_steps=canary_steps)
        self.outcome = outcome
        self.now = AT
        self.asked: list[GateQuestion] = []
        self.recorded: list[GateDecision] = []
        self.soaked: list[datetime] = []

    def clock(self) -> datetime:
        return self.now

    def healthy_since(self, app: str, step: CanaryStep) -> datetime:
        return self.now

    def soak(self, app: str, step: CanaryStep, until: datetime) -> None:
        self.soaked.append(until)
        self.now = max(self.now, until)

    def analyse(self, app: str, env: str, step: CanaryStep, revision: str, analysis: Any) -> AnalysisOutcome:
        self._call(f"analyse step {step.index}", app)
        return self.outcome

    def record(self, question: GateQuestion, decision: GateDecision) -> GateDecision:
        self.recorded.append(decision)
        return decision

    def ask(self, question: GateQuestion) -> Any:
        self.asked.append(question)
        return super().ask(question)


def _release(provider: str = "native", auto_rollback: bool = False, **policy: Any) -> ResolvedRelease:
    canary = CanaryConfig(
        provider=provider,  # type: ignore[arg-type]
        resource=None if provider == "native" else "echo",
        steps=(50, 100),
        analysis={"address": "http://p", "metrics": [METRIC]},  # type: ignore[arg-type]
        **policy,
    )
    config = ReleaseConfig(
        name="echo",
        environments={"production": EnvironmentConfig(app="echo-production", canary=canary)},
        auto_rollback=auto_rollback,
    )
    return ResolvedRelease(config, {"production": "echo-production"}, {"production": canary})


def test_a_passing_analysis_with_auto_approve_approves_each_step_without_asking() -> None:
    steps = AnalysedSteps(_outcome(P.SUCCESSFUL, "0.99"), answers=[True])
    promote_environment(steps, _release(auto_approve=True), "production", [])
    assert steps.questions == ["Sync production?"]  # only the sync gate asks a human
    assert [d.approver for d in steps.recorded] == [ANALYSIS_APPROVER, ANALYSIS_APPROVER]
    assert all(d.approved and "Analysis Successful" in d.comment for d in steps.recorded)
    names = [c[0] for c in steps.calls]
    assert names[names.index("analyse step 1") :] == AUTO_APPROVED


@pytest.mark.parametrize("provider", ["native", "argo"])
def test_a_failed_analysis_aborts_the_canary_and_stops_with_nothing_promoted(provider: str) -> None:
    steps = AnalysedSteps(_outcome(P.FAILED, "0.5"), answers=[True])
    with pytest.raises(AnalysisFailed, match=r"analysis failed at gate .*step 1/2.*0\.5") as stopped:
        promote_environment(
            steps, _release(provider, auto_rollback=True, auto_approve=True), "production", []
        )
    assert isinstance(stopped.value, Rejected)  # the flow ends it as it ends a rejection: Cancelled
    assert [(d.approver, d.approved) for d in steps.recorded] == [(ANALYSIS_APPROVER, False)]
    names = [c[0] for c in steps.calls]
    after = names[names.index("analyse step 1") :]
    # Argo's canary is the sync: auto-rollback undoes it; the native one never synced.
    assert after == ["analyse step 1", "abort canary"] + (["quick rollback"] if provider == "argo" else [])
    assert steps.questions == ["Sync production?"]


def test_an_inconclusive_analysis_asks_the_human_with_the_evidence_and_the_soak() -> None:
    steps = AnalysedSteps(_outcome(P.INCONCLUSIVE, "0.9"), answers=[True, True, False])
    with pytest.raises(Rejected):
        promote_environment(steps, _release(auto_approve=True, soak=600.0), "production", [])
    assert steps.questions == ["Sync production?", STEP.format(1), STEP.format(2)]
    # The soak counts from the pause (the fake's clock at canary_wait), not from the gate.
    assert steps.soaked == [AT + timedelta(seconds=600), AT + timedelta(seconds=1200)]
    gate = steps.asked[1]
    assert gate.description.startswith(
        "- Soaked 10m0s healthy (since 2026-01-01T00:00:00+00:00).\n"
        "- Analysis Inconclusive: success-rate Inconclusive (0/1 successful: [0.9]) — why not\n"
    )
    assert "Analysis Inconclusive" in gate.summary and steps.recorded == []
    assert [c[0] for c in steps.calls][-1] == "abort canary"
