"""Ferry's Argo provider against the real Argo Rollouts controller (v1.10.1) on kwok pods.

A Helm chart with a Rollout is synced by Ferry's sync engine to the session's
``production`` cluster, where the controller runs; a new tag starts a canary
that the controller carries out, and Ferry only reads, promotes and aborts,
as ``kubectl argo rollouts`` does. The analysis tests point the Rollout's own
``analysis`` step at the session Prometheus on 127.0.0.1.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ferry.analysis.model import AnalysisPhase
from ferry.devenv.exporter import success_rate_query
from ferry.devenv.rollout_chart import (
    ANALYSIS_STEPS,
    PAUSED_STEPS,
    ROLLOUT_CHART_PATH,
    rollout_chart_files,
    tag_override,
)
from ferry.devenv.seed import create_repo
from ferry.release.argo import ARGO_API, ArgoRollout, RolloutAborted
from ferry.release.gates import CanaryStep
from ferry.sandbox.cluster import Sandbox
from ferry.sync.health import resource_health
from ferry.sync.kube import KubeCluster
from ferry.sync.model import HealthStatus, SyncStatus
from tests.fixtures.clusters import ARGO_ROLLOUTS_CLUSTER
from tests.fixtures.git import BareRepo
from tests.fixtures.prometheus import Metrics
from tests.release.kube import connect, pods
from tests.sync.world import World, plain_app, write_world

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

IMAGE = "registry.ferry.test:5000/cidemo/echo-server"
STEP_TIMEOUT = 120.0


@dataclass
class RolloutWorld:
    """One app: the rollout chart in its own repo, synced to the controller's cluster."""

    world: World
    app: str
    namespace: str
    cluster: KubeCluster

    def release(self, tag: str, *, wait: float | None = None) -> None:
        """Write the tag back as Image Updater would, and sync it."""
        self.world.commit(tag_override(self.app, tag), f"build: {tag}")
        with self.world.engine() as engine:
            engine.sync(self.app, wait_timeout=wait)

    def rollout(self) -> ArgoRollout:
        return ArgoRollout(self.cluster, self.namespace, "echo", poll_interval=0.3)

    def images(self) -> list[str]:
        """The image of every pod (not being deleted) of the Rollout, sorted."""
        found = pods(self.cluster, self.namespace, "app.kubernetes.io/name=echo")
        return sorted(str(p["spec"]["containers"][0]["image"]).rsplit(":", 1)[1] for p in found)

    def app_state(self) -> tuple[SyncStatus, HealthStatus]:
        with self.world.engine() as engine:
            status = engine.status(self.app)
        assert status.health is not None
        return status.sync, status.health.status


@pytest.fixture
def rollout_world(tmp_path: Path, sandbox: Sandbox) -> Iterator[Any]:
    opened: list[KubeCluster] = []

    def make(
        steps: tuple[dict[str, Any], ...] = PAUSED_STEPS, analysis: dict[str, Any] | None = None
    ) -> RolloutWorld:
        suffix = uuid.uuid4().hex[:6]
        root = tmp_path / suffix
        bare = root / "deploy.git"
        url = create_repo(bare, rollout_chart_files(IMAGE, "v1", steps=steps, analysis=analysis))
        app, namespace = f"echo-rollout-{suffix}", f"rollout-{suffix}"
        server = sandbox.cluster(ARGO_ROLLOUTS_CLUSTER).server
        manifest = plain_app(app, url, server, namespace, ROLLOUT_CHART_PATH)
        world = write_world(root, sandbox, BareRepo(bare), [manifest], suffix)
        cluster = connect(sandbox, ARGO_ROLLOUTS_CLUSTER)
        opened.append(cluster)
        made = RolloutWorld(world, app, namespace, cluster)
        with world.engine() as engine:
            first = engine.sync(app, wait_timeout=STEP_TIMEOUT)
        assert first.health is not None and first.health.status is HealthStatus.HEALTHY, first.health
        # The first version of a Rollout goes out at once: there is no stable to canary against.
        assert made.rollout().next_pause(STEP_TIMEOUT) is None
        assert made.images() == ["v1"] * 4
        return made

    yield make
    for cluster in opened:
        cluster.close()


def test_two_paused_steps_promoted_through_ferry_then_fully_promoted_and_healthy(rollout_world: Any) -> None:
    world: RolloutWorld = rollout_world()
    world.release("v2")
    rollout = world.rollout()

    first = rollout.next_pause(STEP_TIMEOUT)
    # The controller made the canary ReplicaSet at 25 % of 4 replicas and paused at the pause step.
    assert first == CanaryStep(2, 4, 25, 1, canary_ready=1, stable_replicas=3, stable_ready=3)
    assert world.images() == ["v1", "v1", "v1", "v2"]
    assert world.app_state() == (SyncStatus.SYNCED, HealthStatus.SUSPENDED)
    assert rollout.next_pause(5) == first, "an unanswered step stays where it is"

    rollout.approve(first)
    second = rollout.next_pause(STEP_TIMEOUT)
    assert second == CanaryStep(4, 4, 50, 2, canary_ready=2, stable_replicas=2, stable_ready=2)
    assert world.images() == ["v1", "v1", "v2", "v2"]

    rollout.approve(second)
    assert rollout.next_pause(STEP_TIMEOUT) is None
    done = rollout.progress()
    assert (done.promoted, done.phase, done.canary, done.stable) == (True, "Healthy", (0, 0), (4, 4))
    assert done.health is not None and done.health.status is HealthStatus.HEALTHY
    assert world.images() == ["v2"] * 4
    # The controller writes `resources: {}` into the pod template; Ferry's diff must not call that drift.
    assert world.app_state() == (SyncStatus.SYNCED, HealthStatus.HEALTHY)


def test_reject_at_step_one_aborts_and_the_controller_scales_the_canary_down(rollout_world: Any) -> None:
    world: RolloutWorld = rollout_world()
    world.release("v2")
    rollout = world.rollout()
    step = rollout.next_pause(STEP_TIMEOUT)
    assert step is not None and (step.index, step.traffic, step.replicas) == (2, 25, 1)

    rollout.reject()
    aborted = rollout.wait_aborted(STEP_TIMEOUT)
    assert (aborted.phase, aborted.canary, aborted.stable) == ("Degraded", (0, 0), (4, 4))
    assert aborted.message.startswith("RolloutAborted: Rollout aborted update to revision 2")
    assert aborted.health is not None and aborted.health.status is HealthStatus.DEGRADED
    with pytest.raises(RolloutAborted, match="was aborted: RolloutAborted"):
        rollout.next_pause(5)
    live = world.cluster.get(ARGO_API, "Rollout", "echo", world.namespace)
    health = resource_health(live)
    assert health is not None and health.status is HealthStatus.DEGRADED
    assert world.images() == ["v1"] * 4


def _analysis(metrics: Metrics) -> dict[str, Any]:
    return {
        "address": metrics.url,
        "query": success_rate_query("canary"),
        "successCondition": "result[0] >= 0.95",
        "failureCondition": "result[0] < 0.8",
        "interval": "1s",
        "count": 2,
    }


def test_the_controllers_analysis_step_passes_then_an_inconclusive_one_waits_for_a_human(
    rollout_world: Any, metrics: Metrics
) -> None:
    world: RolloutWorld = rollout_world(ANALYSIS_STEPS, _analysis(metrics))
    rollout = world.rollout()

    metrics.set("canary", success=99, error=1)
    world.release("v2")
    step = rollout.next_pause(STEP_TIMEOUT)
    # The analysis at step 2 passed by itself; the rollout went on to 50 % and the human pause.
    assert step == CanaryStep(4, 4, 50, 2, canary_ready=2, stable_replicas=2, stable_ready=2)
    passed = rollout.analysis()
    assert passed is not None and passed.phase is AnalysisPhase.SUCCESSFUL
    assert passed.source.startswith(f"AnalysisRun {world.namespace}/echo-")
    measurements = passed.metric("success-rate").measurements
    assert [(m.phase, m.value) for m in measurements] == [(AnalysisPhase.SUCCESSFUL, "[0.99]")] * 2
    rollout.approve(step)
    assert rollout.next_pause(STEP_TIMEOUT) is None

    metrics.set("canary", success=90, error=10)
    world.release("v3")
    held = rollout.next_pause(STEP_TIMEOUT)
    # Inconclusive: the controller pauses itself at the analysis step and waits for a promote.
    assert held == CanaryStep(2, 4, 25, 1, canary_ready=1, stable_replicas=3, stable_ready=3)
    assert rollout.progress().pause_reasons == ("InconclusiveAnalysisRun",)
    unsure = rollout.analysis()
    assert unsure is not None and unsure.phase is AnalysisPhase.INCONCLUSIVE
    assert [m.value for m in unsure.metric("success-rate").measurements] == ["[0.9]"]
    assert "inconclusive (1) > inconclusiveLimit (0)" in unsure.message

    rollout.approve(held)  # promote moves past the inconclusive step
    after = rollout.next_pause(STEP_TIMEOUT)
    assert after is not None and (after.index, after.traffic) == (4, 50)
    rollout.approve(after)
    assert rollout.next_pause(STEP_TIMEOUT) is None
    assert world.images() == ["v3"] * 4


def test_a_failed_analysis_step_aborts_with_nothing_promoted(rollout_world: Any, metrics: Metrics) -> None:
    world: RolloutWorld = rollout_world(ANALYSIS_STEPS, _analysis(metrics))
    rollout = world.rollout()
    metrics.set("canary", success=50, error=50)
    world.release("v2")
    with pytest.raises(RolloutAborted, match="Step-based analysis phase error/failed") as caught:
        rollout.next_pause(STEP_TIMEOUT)
    assert caught.value.progress.aborted
    failed = rollout.analysis()
    assert failed is not None and failed.phase is AnalysisPhase.FAILED
    assert [(m.phase, m.value) for m in failed.metric("success-rate").measurements] == [
        (AnalysisPhase.FAILED, "[0.5]")
    ]
    assert failed.message == 'Metric "success-rate" assessed Failed due to failed (1) > failureLimit (0)'
    aborted = rollout.wait_aborted(STEP_TIMEOUT)
    assert (aborted.canary, aborted.stable) == ((0, 0), (4, 4))
    assert world.images() == ["v1"] * 4
