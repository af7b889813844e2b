"""Waves of an environment over recording steps: order, the one gate per wave, the stop, the fleet view.

Pure logic: the steps are test_promotion_loop's recording fake, the waves built
by hand; the same loop on real sandbox clusters is test_waves_release_flow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from ferry.analysis.model import AnalysisPhase
from ferry.errors import Rejected
from ferry.release.fleet import FleetView, Wave
from ferry.release.gates import GateDecision, GateQuestion
from ferry.release.pipeline import ResolvedRelease
from ferry.release.promotion import run_release
from ferry.release.waves import WaveUnhealthy, promote_waves
from ferry.schema.releases import CanaryConfig, EnvironmentConfig, ReleaseConfig, WaveConfig
from ferry.sync.model import Health, HealthStatus, SyncStatus
from ferry.sync.target import AppStatus, AppTarget
from tests.release.test_analysis_gate import METRIC, AnalysedSteps, _outcome
from tests.release.test_promotion_loop import SHA

#: A native canary whose every step is analysed and approved by a pass.
ANALYSED = CanaryConfig(
    provider="native",
    steps=(50, 100),
    analysis={"address": "http://p", "metrics": [METRIC]},  # type: ignore[arg-type]
    auto_approve=True,
)
WAVES = (("cn-hangzhou",), ("cn-beijing", "cn-shanghai"), ("us-east", "eu-west"))


class WaveSteps(AnalysedSteps):
    """The analysed fake; ``unhealthy`` apps are Degraded after their sync."""

    def __init__(self, answers: Sequence[bool], canary_steps: int = 0, unhealthy: Sequence[str] = ()) -> None:
        super().__init__(_outcome(AnalysisPhase.SUCCESSFUL, "0.99"), list(answers), canary_steps)
        self.canary_total = canary_steps
        self.unhealthy = set(unhealthy)
        self.keys: list[str] = []

    def ask(self, question: GateQuestion) -> Any:
        self.keys.append(question.key)
        super().ask(question)
        return GateDecision(gate=question.title, approved=True, approver="alice", decided_at=self.now)

    def canary_wait(self, provider: Any, app: str, timeout: float) -> Any:
        # Every app's canary has ``canary_total`` steps; ``provider`` is the app's own counter.
        if provider["left"] == 0:
            return None
        step = super().canary_wait(provider, app, timeout)
        return type(step)(self.canary_total - provider["left"] + 1, self.canary_total)

    def canary_provider(self, target: AppTarget, revision: str, canary: CanaryConfig) -> Any:
        return {"left": self.canary_total} if self.canary_total else None

    def canary_approve(self, provider: Any, app: str, step: Any) -> None:
        provider["left"] -= 1
        self._call(f"approve step {step.index}", app)

    def statuses(self, targets: Sequence[AppTarget]) -> list[AppStatus]:
        return [
            AppStatus(
                t.name,
                "c",
                "echo",
                SHA,
                SyncStatus.SYNCED,
                Health(HealthStatus.DEGRADED if t.name in self.unhealthy else HealthStatus.HEALTHY),
                automated=False,  # releases sync by hand; health alone says ready or not
                last_attempt=None,
            )
            for t in targets
        ]

    def touched(self) -> set[str]:
        """Every app a call acted on (targets resolved for a gate do not count: they change nothing)."""
        return {
            a for step, app in self.calls if step not in ("target", "pin", "diff") for a in app.split(",")
        }


def _release(
    auto_rollback: bool = False, auto_approve: bool = False, canary: CanaryConfig | None = None
) -> ResolvedRelease:
    configs = [
        WaveConfig(clusters=clusters, auto_approve=auto_approve and n > 0) for n, clusters in enumerate(WAVES)
    ]
    waves = tuple(
        Wave(n, ", ".join(c), tuple(f"echo-{x}" for x in c), cfg)
        for n, (c, cfg) in enumerate(zip(WAVES, configs, strict=True), start=1)
    )
    config = ReleaseConfig(
        name="echo",
        selector="echo",
        environments={
            "dev": EnvironmentConfig(app="echo-dev"),
            "production": EnvironmentConfig(waves=tuple(configs), canary=canary or CanaryConfig()),
        },
        auto_rollback=auto_rollback,
    )
    clusters = {f"echo-{c}": c for wave in WAVES for c in wave} | {"echo-dev": "dev"}
    return ResolvedRelease(
        config,
        {"dev": "echo-dev"},
        {"production": canary or CanaryConfig()},
        {"production": waves},
        clusters,
    )


def test_each_wave_is_one_gate_then_its_syncs_in_parallel_in_order() -> None:
    steps = WaveSteps(answers=[True, True, True])
    released, view = promote_waves(steps, _release(), "production", [], _release().view())
    assert steps.questions == [
        "Sync production wave 1 (cn-hangzhou)?",
        "Sync production wave 2 (cn-beijing, cn-shanghai)?",
        "Sync production wave 3 (us-east, eu-west)?",
    ]
    assert steps.keys[1] == f"sync-production-wave-2-{SHA[:12]}"
    syncs = [(s, a) for s, a in steps.calls if s.startswith("sync wave")]
    assert syncs == [
        ("sync wave(wait=True, parallel=4)", "echo-cn-hangzhou"),
        ("sync wave(wait=True, parallel=4)", "echo-cn-beijing,echo-cn-shanghai"),
        ("sync wave(wait=True, parallel=4)", "echo-us-east,echo-eu-west"),
    ]
    assert [p.app for p in released] == [f"echo-{c}" for w in WAVES for c in w]
    assert {r.state for r in view.rows if r.env == "production"} == {"released"}
    assert view.row("echo-cn-beijing").gate == "approved by alice"


def test_a_rejected_wave_stops_the_release_and_the_later_waves_are_never_touched() -> None:
    steps = WaveSteps(answers=[True, False])
    with pytest.raises(Rejected):
        promote_waves(steps, _release(), "production", [], _release().view())
    assert not steps.touched() & {"echo-us-east", "echo-eu-west", "echo-cn-beijing", "echo-cn-shanghai"}
    view: FleetView = steps.views[-1]
    assert [(r.app, r.state) for r in view.rows if r.env == "production"] == [
        ("echo-cn-hangzhou", "released"),
        ("echo-cn-beijing", "stopped"),
        ("echo-cn-shanghai", "stopped"),
        ("echo-us-east", "untouched"),
        ("echo-eu-west", "untouched"),
    ]
    assert "| production | 3 | us-east | `echo-us-east` | untouched |" in view.markdown()
    assert (
        view.row("echo-cn-beijing").gate == "rejected"
        and view.row("echo-cn-hangzhou").gate == "approved by alice"
    )


def test_the_next_gate_shows_what_the_earlier_waves_did() -> None:
    steps = WaveSteps(answers=[True, True, True])
    promote_waves(steps, _release(), "production", [], _release().view())
    assert f"wave 1 `echo-cn-hangzhou` on cn-hangzhou: released, {SHA[:12]}, Healthy, approved by alice" in (
        steps.asked[1].description
    )


def test_each_app_of_a_wave_has_its_own_canary_gates() -> None:
    steps = WaveSteps(answers=[True, True, True, True, True], canary_steps=2)
    canary = CanaryConfig(provider="argo", resource="echo")
    with pytest.raises(IndexError):  # the answers run out in wave 2: enough to see its gates
        promote_waves(steps, _release(canary=canary), "production", [], _release(canary=canary).view())
    assert steps.keys[:4] == [
        f"sync-production-wave-1-{SHA[:12]}",
        f"canary-production-echo-cn-hangzhou-{SHA[:12]}-step-1",
        f"canary-production-echo-cn-hangzhou-{SHA[:12]}-step-2",
        f"sync-production-wave-2-{SHA[:12]}",
    ]
    assert steps.keys[4] == f"canary-production-echo-cn-beijing-{SHA[:12]}-step-1"
    # A controller's canary is its sync: the wave's apps start together, then each is gated.
    assert ("sync wave(wait=False, parallel=4)", "echo-cn-beijing,echo-cn-shanghai") in steps.calls


def test_a_rejected_canary_aborts_it_and_rolls_the_whole_wave_back_only_when_asked() -> None:
    canary = CanaryConfig(provider="argo", resource="echo")
    for auto_rollback in (False, True):
        steps = WaveSteps(answers=[True, True, True, True, False], canary_steps=2)
        release = _release(auto_rollback=auto_rollback, canary=canary)
        with pytest.raises(Rejected):
            promote_waves(steps, release, "production", [], release.view())
        rollbacks = [app for step, app in steps.calls if step == "quick rollback"]
        assert rollbacks == (["echo-cn-beijing", "echo-cn-shanghai"] if auto_rollback else [])
        assert steps.views[-1].row("echo-cn-beijing").canary == "aborted"
        assert not steps.touched() & {"echo-us-east", "echo-eu-west"}


def test_a_wave_whose_analysis_passed_opens_the_next_alone_and_says_so() -> None:
    canary = ANALYSED
    steps = WaveSteps(answers=[True], canary_steps=2)
    release = _release(auto_approve=True, canary=canary)
    promote_waves(steps, release, "production", [], release.view())
    assert steps.questions == ["Sync production wave 1 (cn-hangzhou)?"]
    assert [d.gate for d in steps.recorded if d.gate.startswith("Sync")] == [
        "Sync production wave 2 (cn-beijing, cn-shanghai)?",
        "Sync production wave 3 (us-east, eu-west)?",
    ]
    assert steps.views[-1].row("echo-us-east").gate.startswith("approved by analysis")


def test_a_failed_analysis_in_wave_one_leaves_waves_two_and_three_unchanged() -> None:
    canary = ANALYSED
    steps = WaveSteps(answers=[True], canary_steps=2)
    steps.outcome = _outcome(AnalysisPhase.FAILED, "0.4")
    release = _release(canary=canary)
    with pytest.raises(Rejected, match="analysis failed"):
        promote_waves(steps, release, "production", [], release.view())
    assert steps.touched() == {"echo-cn-hangzhou"}
    assert [r.state for r in steps.views[-1].rows if r.wave > 1] == ["untouched"] * 4


def test_an_unhealthy_app_stops_the_release_after_its_wave() -> None:
    steps = WaveSteps(answers=[True, True], unhealthy=["echo-cn-shanghai"])
    release = _release(auto_rollback=True)
    with pytest.raises(WaveUnhealthy, match="echo-cn-shanghai not Synced and Healthy"):
        promote_waves(steps, release, "production", [], release.view())
    view = steps.views[-1]
    assert (view.row("echo-cn-shanghai").health, view.row("echo-cn-beijing").health) == (
        "Degraded",
        "Healthy",
    )
    assert [a for s, a in steps.calls if s == "quick rollback"] == ["echo-cn-beijing", "echo-cn-shanghai"]


def test_a_whole_release_publishes_the_fleet_view_from_dev_to_the_last_wave() -> None:
    steps = WaveSteps(answers=[True, True, True, True])
    run_release(steps, _release(), "echo-dev")
    asked, verified, last = steps.views[0], steps.views[1], steps.views[-1]
    # Published before "Dev verified?" is asked, then again with Dev released.
    assert {r.state for r in asked.rows} == {"pending"}
    assert verified.row("echo-dev").state == "released" and verified.row("echo-eu-west").state == "pending"
    assert {r.state for r in last.rows} == {"released"}
    assert last.markdown().splitlines()[2] == (
        "| environment | wave | cluster | app | state | revision | health | canary | gate |"
    )
