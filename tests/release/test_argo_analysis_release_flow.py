"""The whole ``release`` flow with Production on an Argo Rollout whose own analysis step queries Prometheus.

The real controller (on the session's ``production`` cluster) runs the
Rollout's AnalysisRun against the session Prometheus; Ferry's gates read it:
a pass auto-approves the pause after it, a failure (the controller aborts)
stops the release as a reject with nothing promoted, an inconclusive run
holds the Rollout and Ferry asks a human with the run's measurements. The
same three outcomes for the native canary with Ferry's own analysis are in
test_analysis_release_flow.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ferry.devenv.exporter import success_rate_query
from ferry.devenv.registry import RunningRegistry
from ferry.devenv.rollout_chart import ANALYSIS_STEPS, PAUSED_STEPS
from ferry.release.argo import ARGO_API, ArgoRollout, RolloutProgress
from ferry.sandbox.cluster import Sandbox
from flows.sync import auto_sync
from tests.fixtures.prometheus import Metrics
from tests.release.test_release_claims import _history, _release_past_the_sync_gate
from tests.release.world import (
    NEW_BUILD,
    Background,
    ReleaseWorld,
    answer,
    artifact,
    build_world,
    paused_run,
)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

NEW = "v3-5a7147"


@pytest.fixture
def make_world(
    tmp_path: Path,
    registry: RunningRegistry,
    sandbox: Sandbox,
    sandbox_tools: dict,
    prefect_harness: str,
) -> Any:
    """Dev (the seed chart) and Production (the Rollout chart with ``steps``), v1.0 live."""

    def make(steps: Any, analysis: dict[str, Any] | None = None, **canary: Any) -> ReleaseWorld:
        canary = {"provider": "argo", "resource": "echo", "step_timeout": 120, **canary}
        return build_world(
            tmp_path,
            registry,
            sandbox,
            environments=("dev", "production"),
            release={"production_canary": canary},
            rollout={"steps": steps, "analysis": analysis},
        )

    return make


@pytest.fixture
def world(make_world: Any, metrics: Metrics) -> ReleaseWorld:
    """Production's Rollout runs an analysis step after 25 %; its pause after it auto-approves on a pass."""
    analysis = {
        "address": metrics.url,
        "query": success_rate_query("canary"),
        "successCondition": "result[0] >= 0.95",
        "failureCondition": "result[0] < 0.8",
        "interval": "1s",
        "count": 2,
    }
    return make_world(ANALYSIS_STEPS, analysis, auto_approve=True)


def _released_to_the_canary(
    world: ReleaseWorld, tag: str = NEW, created: datetime = NEW_BUILD
) -> tuple[Background, Any]:
    """``tag`` written back and in Dev; the release past "Dev verified?" and "Sync production?"."""
    world.push(tag, created)
    assert world.update_images().images_updated == 3  # Dev's two images, the Rollout's one
    state = auto_sync(config=str(world.config), cluster="dev", wait_timeout=90, return_state=True)
    assert state.is_completed(), state.message
    return _release_past_the_sync_gate(world, "production")


def _progress(world: ReleaseWorld, abort_wait: float | None = None) -> RolloutProgress:
    """The Rollout and its ReplicaSets as Ferry's provider reads them (after the abort, when asked)."""
    with world.engine() as engine:
        rollout = ArgoRollout(
            engine.connect(world.app("production")), world.namespace("production"), "echo", 0.3
        )
        return rollout.progress() if abort_wait is None else rollout.wait_aborted(abort_wait)


def _rollout(world: ReleaseWorld) -> dict[str, Any]:
    live = world.live("production", ARGO_API, "Rollout", "echo")
    assert live is not None
    return live


def _stable_image(world: ReleaseWorld) -> str:
    """The image of the Rollout's stable ReplicaSet: what the controller has promoted."""
    stable = _rollout(world)["status"]["stableRS"]
    replica_set = world.live("production", "apps/v1", "ReplicaSet", f"echo-{stable}")
    assert replica_set is not None, stable
    return str(replica_set["spec"]["template"]["spec"]["containers"][0]["image"])


def test_the_rollouts_passing_analysis_auto_approves_and_the_controller_promotes(
    world: ReleaseWorld, metrics: Metrics
) -> None:
    metrics.set("canary", success=99, error=1)
    running, run = _released_to_the_canary(world)
    state = running.result()  # no canary gate is answered: the Rollout's analysis approves the pause

    assert state.is_completed(), state.message
    status = _rollout(world)["status"]
    assert status["stableRS"] == status["currentPodHash"] and status["phase"] == "Healthy"
    assert _stable_image(world) == f"{world.image()}:{NEW}"
    gate = artifact("gate-canary-production-", run.id)
    assert "step 4/4" in gate and "analysis" in gate and "Analysis Successful (AnalysisRun" in gate, gate
    table = artifact("rollout-analysis-production-", run.id)
    assert "0.99" in table, table


def test_the_rollouts_failed_analysis_stops_the_release_with_nothing_promoted(
    world: ReleaseWorld, metrics: Metrics
) -> None:
    metrics.set("canary", success=50, error=50)
    before = _rollout(world)["status"]["stableRS"]
    running, _ = _released_to_the_canary(world)
    state = running.result()

    assert state.is_cancelled(), state.message  # as a rejection ends it
    message = str(state.message)
    assert "analysis failed at gate" in message and "AnalysisRun" in message and "[0.5]" in message
    status = _rollout(world)["status"]
    assert status.get("abort") is True and status["stableRS"] == before, "the controller aborted"
    assert _stable_image(world) == f"{world.image()}:v1.0", "nothing was promoted"
    assert len(_history(world, "production")) == 2, "the sync was the canary; nothing synced after it"


def test_the_rollouts_inconclusive_analysis_holds_it_and_ferry_asks_with_the_measurements(
    world: ReleaseWorld, metrics: Metrics
) -> None:
    metrics.set("canary", success=90, error=10)
    running, run = _released_to_the_canary(world)
    paused_run(world.app("dev"), "canary-production-*-step-2")
    assert [c["reason"] for c in _rollout(world)["status"]["pauseConditions"]] == ["InconclusiveAnalysisRun"]
    gate = artifact("gate-canary-production-", run.id)
    assert "Analysis Inconclusive (AnalysisRun" in gate and "[0.9]" in gate, gate
    assert "Waiting for a decision" in gate, "auto_approve must not answer an inconclusive analysis"
    answer(run, True, "carol", "0.9 is fine")  # promote: the controller moves past the analysis
    paused_run(world.app("dev"), "canary-production-*-step-4")
    answer(run, True, "carol")  # no analysis since step 2: a human decides
    state = running.result()

    assert state.is_completed(), state.message
    assert _stable_image(world) == f"{world.image()}:{NEW}"


def test_two_pauses_approved_at_ferrys_gates_then_promoted_and_a_reject_at_step_one_is_the_controllers_abort(
    make_world: Any,
) -> None:
    world = make_world(PAUSED_STEPS)
    running, run = _released_to_the_canary(world)
    for key, weight, canary_pods in (("step-2", 25, 1), ("step-4", 50, 2)):
        paused_run(world.app("dev"), f"canary-production-*-{key}")
        # The controller, not Ferry, paused there, with the weight's share of the 4 replicas ready.
        seen = _progress(world)
        assert (seen.pause_reasons, seen.weight, seen.canary) == (
            ("CanaryPauseStep",),
            weight,
            (canary_pods,) * 2,
        )
        answer(run, True, "alice")
    state = running.result()
    assert state.is_completed(), state.message
    status = _rollout(world)["status"]
    assert status["stableRS"] == status["currentPodHash"] and status["phase"] == "Healthy"
    assert _stable_image(world) == f"{world.image()}:{NEW}"

    # The next release: rejected at the first pause, the controller aborts and scales the canary away.
    running, run = _released_to_the_canary(world, "v3-7c1e22", datetime(2023, 7, 20, tzinfo=UTC))
    paused_run(world.app("dev"), "canary-production-*-step-2")
    answer(run, False, "bob", "latency up")
    state = running.result()
    assert state.is_cancelled() and "bob" in str(state.message), state.message
    aborted = _progress(world, abort_wait=120)
    assert (aborted.phase, aborted.canary[0]) == ("Degraded", 0) and aborted.stable[1] == aborted.stable[
        0
    ] > 0
    assert _stable_image(world) == f"{world.image()}:{NEW}", "the stable is still the release before"
