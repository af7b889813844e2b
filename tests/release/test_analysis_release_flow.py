"""The whole ``release`` flow on the sandbox with an analysis before each of a native canary's gates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ferry.devenv.exporter import success_rate_query
from ferry.devenv.registry import RunningRegistry
from ferry.release.canary import canary_name
from ferry.sandbox.cluster import Sandbox
from tests.fixtures.prometheus import Metrics
from tests.release.test_release_claims import _dev_at_v3, _history, _release_past_the_sync_gate
from tests.release.world import answer, artifact, build_world, paused_run

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def _canary(metrics: Metrics) -> dict[str, Any]:
    # Between the two conditions (0.5 to 0.95) a measurement is neither: Inconclusive, as in Argo.
    metric = {
        "name": "success-rate",
        "provider": {"prometheus": {"query": success_rate_query("canary")}},
        "successCondition": "result[0] >= 0.95",
        "failureCondition": "result[0] < 0.5",
    }
    return {
        "provider": "native",
        "steps": [50, 100],
        "analysis": {"address": metrics.url, "metrics": [metric]},
        "auto_approve": True,
    }


@pytest.fixture
def world(
    tmp_path: Path,
    registry: RunningRegistry,
    sandbox: Sandbox,
    sandbox_tools: dict,
    prefect_harness: str,
    metrics: Metrics,
) -> Any:
    """Dev and Staging (native canary, analysed), Dev at the new tag."""
    world = build_world(
        tmp_path,
        registry,
        sandbox,
        environments=("dev", "staging"),
        release={"staging_canary": _canary(metrics)},
    )
    _dev_at_v3(world, 2)
    return world


def test_a_passing_analysis_auto_approves_both_steps_and_staging_is_released(
    world: Any, metrics: Metrics
) -> None:
    metrics.set("canary", success=99, error=1)
    running, _ = _release_past_the_sync_gate(world)
    state = running.result()  # no canary gate is answered: the analysis approves both

    assert state.is_completed(), state.message
    assert world.image_of("staging") == f"{world.image()}:v3-5a7147"
    assert world.deployment("staging", canary_name("echo-server")) is None
    assert len(_history(world, "staging")) == 2


def test_a_failing_analysis_stops_the_release_with_the_canary_removed_and_nothing_promoted(
    tmp_path: Path,
    registry: RunningRegistry,
    sandbox: Sandbox,
    sandbox_tools: dict,
    prefect_harness: str,
    metrics: Metrics,
) -> None:
    metrics.set("canary", success=40, error=60)
    world = build_world(tmp_path, registry, sandbox, release={"staging_canary": _canary(metrics)})
    old = f"{world.image()}:v1.0"
    _dev_at_v3(world, 3)
    running, _ = _release_past_the_sync_gate(world)
    state = running.result()

    assert state.is_cancelled(), state.message  # as a rejection ends it
    assert "analysis failed at gate" in str(state.message) and "[0.4]" in str(state.message)
    assert world.deployment("staging", canary_name("echo-server")) is None, "the abort deletes the canary"
    assert world.image_of("staging") == old, "the stable Deployment never moved"
    assert len(_history(world, "staging")) == 1, "the native canary never synced"
    assert world.image_of("production") == old and len(_history(world, "production")) == 1


def test_an_inconclusive_analysis_asks_at_each_step_with_the_measurements_and_the_approval_releases(
    world: Any, metrics: Metrics
) -> None:
    metrics.set("canary", success=80, error=20)
    running, run = _release_past_the_sync_gate(world)
    for step in (1, 2):
        paused_run(world.app("dev"), f"canary-staging-*-step-{step}")
        gate = artifact("gate-canary-staging-", run.id)
        assert f"step {step}/2" in gate and "Analysis Inconclusive" in gate and "[0.8]" in gate, gate
        assert "Waiting for a decision" in gate, "auto_approve must not answer an inconclusive gate"
        answer(run, True, "carol", f"0.8 is fine for step {step}")
    state = running.result()

    assert state.is_completed(), state.message
    assert world.image_of("staging") == f"{world.image()}:v3-5a7147"
    gate = artifact("gate-canary-staging-", run.id)
    assert "carol" in gate and "approved" in gate and "Analysis Inconclusive" in gate
