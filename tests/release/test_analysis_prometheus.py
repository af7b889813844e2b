"""The analysis before a canary gate, for real: the flow's tasks and gates against the session Prometheus.

The release loop runs inside a Prefect flow with the real ``soak``/``analysis``
tasks, the real decision record and the real gate (a short ``gate_timeout``
stands for nobody answering); only the cluster steps are the recording fake of
test_promotion_loop (a native canary that pauses twice). The whole release
flow on the sandbox is not run here.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, cast

import pytest
from prefect import flow

from ferry.analysis.model import AnalysisOutcome
from ferry.devenv.exporter import success_rate_query
from ferry.release.analysis_gate import ANALYSIS_APPROVER, AnalysisFailed
from ferry.release.gates import CanaryStep, GateDecision, GateQuestion
from ferry.release.pipeline import ResolvedRelease
from ferry.release.promotion import promote_environment
from ferry.schema.releases import AnalysisConfig, CanaryConfig, EnvironmentConfig, ReleaseConfig
from ferry.sync.engine import SyncEngine
from ferry.sync.model import Initiator
from flows.gates import GateSettings
from flows.release import FlowSteps
from tests.fixtures.prometheus import Metrics
from tests.release.test_analysis_gate import AUTO_APPROVED
from tests.release.test_promotion_loop import Steps


class PrefectSteps(Steps):
    """Cluster steps recorded; soak, analysis, decision record and canary gates are the flow's (FlowSteps)."""

    def __init__(self, settings: GateSettings) -> None:
        super().__init__(answers=[True], canary_steps=2)
        # Its engine is only for the cluster steps, which the fake plays.
        self.flow = FlowSteps(cast(SyncEngine, None), settings, Initiator("test"), 1.0)

    def clock(self) -> datetime:
        return self.flow.clock()

    def healthy_since(self, app: str, step: CanaryStep) -> datetime:
        return self.flow.healthy_since(app, step)

    def soak(self, app: str, step: CanaryStep, until: datetime) -> None:
        self.flow.soak(app, step, until)

    def analyse(
        self, app: str, env: str, step: CanaryStep, revision: str, analysis: AnalysisConfig
    ) -> AnalysisOutcome:
        self._call(f"analyse step {step.index}", app)
        return self.flow.analyse(app, env, step, revision, analysis)

    def record(self, question: GateQuestion, decision: GateDecision) -> GateDecision:
        return self.flow.record(question, decision)

    def ask(self, question: GateQuestion) -> Any:
        if question.key.startswith("sync-"):
            return super().ask(question)  # the sync gate is not what these tests are about
        self.questions.append(question.title)
        return self.flow.ask(question)


def _release(url: str, auto_approve: bool) -> ResolvedRelease:
    metric = {
        "name": "success-rate",
        "provider": {"prometheus": {"query": success_rate_query("canary")}},
        "successCondition": "result[0] >= 0.95",
        "failureCondition": "result[0] < 0.8",
        "interval": "1s",
        "count": 2,
    }
    canary = CanaryConfig.model_validate(
        {
            "provider": "native",
            "steps": [50, 100],
            "analysis": {"address": url, "metrics": [metric]},
            "auto_approve": auto_approve,
            "soak": "1s",
        }
    )
    config = ReleaseConfig(
        name="echo",
        environments={"production": EnvironmentConfig(app="echo-production", canary=canary)},
        gate_timeout=2,
    )
    return ResolvedRelease(config, {"production": "echo-production"}, {"production": canary})


@flow(name="analysis-gate-test")
def _promote(steps: PrefectSteps, resolved: ResolvedRelease) -> str:
    return promote_environment(steps, resolved, "production", []).revision


def _artifacts(state: Any, prefix: str) -> list[Any]:
    """This run's artifacts whose key starts with ``prefix`` (the keys repeat across these tests' runs).

    Filtered on the server by run: an unfiltered read returns only the session's first 200 artifacts,
    which in a full test session need not include this run's (CI saw exactly that).
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    run = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run]))
        )
    return [a for a in found if (a.key or "").startswith(prefix)]


def _run(metrics: Metrics, success: int, error: int, auto_approve: bool) -> tuple[PrefectSteps, Any]:
    metrics.set("canary", success=success, error=error)
    resolved = _release(metrics.url, auto_approve)
    steps = PrefectSteps(GateSettings.of(resolved.config, suspend=False))
    return steps, _promote(steps, resolved, return_state=True)


def test_a_passing_analysis_auto_approves_every_step(prefect_harness: str, metrics: Metrics) -> None:
    steps, state = _run(metrics, success=99, error=1, auto_approve=True)
    assert state.is_completed(), state.message
    names = [c[0] for c in steps.calls]
    assert names[names.index("analyse step 1") :] == AUTO_APPROVED
    assert steps.questions == ["Sync production?"]  # no canary gate asked anyone
    tables = _artifacts(state, "analysis-production-")
    assert tables and all("Analysis Successful" in (t.description or "") for t in tables)
    assert any("[0.99]" in str(t.data) for t in tables)
    decisions = _artifacts(state, "gate-canary-production-")
    assert decisions and all(f"**by:** {ANALYSIS_APPROVER}" in str(d.data) for d in decisions)


def test_a_failing_analysis_aborts_the_canary_with_nothing_promoted(
    prefect_harness: str, metrics: Metrics
) -> None:
    steps, state = _run(metrics, success=50, error=50, auto_approve=True)
    assert not state.is_completed()
    with pytest.raises(AnalysisFailed, match=r"analysis failed at gate .*step 1/2.*\[0\.5\]"):
        state.result()
    names = [c[0] for c in steps.calls]
    assert names[names.index("analyse step 1") :] == ["analyse step 1", "abort canary"]
    assert not any(n.startswith(("sync", "approve")) for n in names)


def test_an_inconclusive_analysis_asks_with_the_evidence(prefect_harness: str, metrics: Metrics) -> None:
    steps, state = _run(metrics, success=90, error=10, auto_approve=True)
    # It asked, and nobody answered within the 2 s gate_timeout (Prefect fails a pause nobody resumed).
    assert state.is_failed(), state.message
    assert steps.questions == ["Sync production?", "Approve canary step 1/2 (traffic n/a, replicas n/a)?"]
    gates = [g for g in _artifacts(state, "gate-canary-production-") if "timed out" in str(g.data)]
    assert gates, "the timed-out gate recorded no decision"
    text = str(gates[-1].data)
    assert "Analysis Inconclusive: success-rate Inconclusive (0/1 successful: [0.9])" in text, text
    assert "Soaked 1s healthy" in text or "Soaked 2s healthy" in text


@flow(name="healthy-since-test")
def _healthy_twice() -> tuple[datetime, datetime, datetime]:
    steps = PrefectSteps(GateSettings(timeout=1, release="echo"))
    first = steps.healthy_since("echo", CanaryStep(1, 2))
    time.sleep(0.05)
    return first, steps.healthy_since("echo", CanaryStep(1, 2)), steps.healthy_since("echo", CanaryStep(2, 2))


def test_a_step_is_healthy_since_it_was_first_seen_so_a_re_execution_does_not_soak_again(
    prefect_harness: str,
) -> None:
    first, again, next_step = _healthy_twice()
    assert again == first and next_step > first
