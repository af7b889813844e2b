"""README claims about releases, each against the real clusters, registry, Git and Prefect harness.

* a canary step rejected inside the ``release`` flow stops the release: the canary goes, the
  stable Deployment and every later environment stay as they were;
* with ``auto_rollback`` on, that reject also rolls the environment back (and holds it);
* an approved release lifts the environment's rollback hold;
* a quick rollback works while Git is down (the revision is in the cached clone, the hold in
  the cluster).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from prefect.client.schemas.objects import FlowRun

from ferry.devenv.registry import RunningRegistry
from ferry.devenv.seed import CHART_PATH
from ferry.release.canary import canary_name
from ferry.release.holds import Hold, get_hold, place_hold
from ferry.sandbox.cluster import Sandbox
from flows.release import release
from flows.rollback import rollback
from flows.sync import auto_sync
from tests.fixtures.git import BareRepo
from tests.release.kube import kruise_pauses_at_step_1
from tests.release.test_release_flow import KRUISE_TEMPLATE
from tests.release.world import NEW_BUILD, Background, ReleaseWorld, answer, build_world, paused_run

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

# The Kruise Rollout of the promote test, for Staging only: it renders when the values ask for it.
KRUISE_ROLLOUT = "{{- if .Values.kruise }}\n" + KRUISE_TEMPLATE + "{{- end }}\n"


def _dev_at_v3(world: ReleaseWorld, environments: int) -> None:
    world.push("v3-5a7147", NEW_BUILD)
    assert world.update_images().images_updated == 2 * environments  # two images per Application
    state = auto_sync(config=str(world.config), cluster="dev", wait_timeout=90, return_state=True)
    assert state.is_completed(), state.message
    assert world.image_of("dev") == f"{world.image()}:v3-5a7147"


def _release_past_the_sync_gate(world: ReleaseWorld, env: str = "staging") -> tuple[Background, FlowRun]:
    """Start the release and approve "Dev verified?" and "Sync <env>?"."""
    running = Background(lambda: release(app=world.app("dev"), config=str(world.config), return_state=True))
    run = paused_run(world.app("dev"), "verified-dev-*")
    answer(run, True)
    paused_run(world.app("dev"), f"sync-{env}-*")
    answer(run, True, "bob")
    return running, run


def _history(world: ReleaseWorld, env: str) -> list[str]:
    """The revisions of an environment's sync history, oldest first."""
    with world.engine() as engine:
        return [entry.revision for entry in engine.history(world.app(env))]


def test_rejecting_a_canary_step_in_the_release_stops_it_and_removes_the_canary(
    tmp_path: Path, registry: RunningRegistry, sandbox: Sandbox, sandbox_tools: dict, prefect_harness: str
) -> None:
    world = build_world(
        tmp_path, registry, sandbox, release={"staging_canary": {"provider": "native", "steps": [50, 100]}}
    )
    old, new = f"{world.image()}:v1.0", f"{world.image()}:v3-5a7147"
    _dev_at_v3(world, 3)
    running, run = _release_past_the_sync_gate(world)
    paused_run(world.app("dev"), "canary-staging-*-step-1")
    canary = world.deployment("staging", canary_name("echo-server"))
    assert canary is not None and canary["spec"]["template"]["spec"]["containers"][0]["image"] == new
    answer(run, False, "bob", "error rate up")
    state = running.result()

    assert state.is_cancelled(), "a rejection is a decision, not a failure"
    assert (
        "canary" in str(state.message) and "rejected at" in str(state.message) and "bob" in str(state.message)
    )
    assert world.deployment("staging", canary_name("echo-server")) is None, "reject deletes the canary"
    assert world.image_of("staging") == old, "the stable Deployment never moved"
    assert len(_history(world, "staging")) == 1, "the native canary syncs only after its last step"
    assert world.image_of("production") == old and len(_history(world, "production")) == 1


def test_auto_rollback_rolls_back_and_holds_an_environment_whose_canary_was_rejected(
    tmp_path: Path, registry: RunningRegistry, sandbox: Sandbox, sandbox_tools: dict, prefect_harness: str
) -> None:
    world = build_world(
        tmp_path,
        registry,
        sandbox,
        environments=("dev", "staging"),
        release={
            "auto_rollback": True,
            "staging_canary": {"provider": "kruise", "resource": "echo-server", "step_timeout": 120},
        },
    )
    old, new = f"{world.image()}:v1.0", f"{world.image()}:v3-5a7147"
    BareRepo(world.bare).commit(
        {
            f"{CHART_PATH}/templates/rollout.yaml": KRUISE_ROLLOUT,
            f"{CHART_PATH}/values-staging.yaml": "# staging overrides\nreplicaCount: 2\nkruise: true\n",
        },
        "Staging rolls out through a Kruise Rollout",
    )
    _dev_at_v3(world, 2)
    running, run = _release_past_the_sync_gate(world)

    with world.engine() as engine:
        cluster, ns = engine.connect(world.app("staging")), engine.target(world.app("staging")).namespace
        kruise_pauses_at_step_1(cluster, "echo-server", ns)  # the test is the Kruise controller
        assert world.image_of("staging") == new
        paused_run(world.app("dev"), "canary-staging-*-step-1")
        answer(run, False, "carol", "latency")
        state = running.result()

    assert state.is_cancelled() and "rejected at" in str(state.message), state.message
    assert world.image_of("staging") == old, "auto_rollback put the previous revision back"
    history = _history(world, "staging")
    assert len(history) == 3 and history[-1] == history[0], history
    with world.engine() as engine:
        hold = get_hold(engine, world.app("staging"))
    assert hold is not None and hold.sync, "the rollback holds staging against auto-sync"
    assert f"{world.image()}:v3-5a7147" in hold.tags


def test_an_approved_release_lifts_the_rollback_hold(
    tmp_path: Path, registry: RunningRegistry, sandbox: Sandbox, sandbox_tools: dict, prefect_harness: str
) -> None:
    world = build_world(tmp_path, registry, sandbox, environments=("dev", "staging"))
    with world.engine() as engine:
        # What a quick rollback of staging leaves behind.
        place_hold(
            engine,
            Hold(world.app("staging"), "rolled back to history entry 1", "alice", sync=True, tags=()),
        )
        assert get_hold(engine, world.app("staging")) is not None
    _dev_at_v3(world, 2)
    running = Background(lambda: release(app=world.app("dev"), config=str(world.config), return_state=True))
    run = paused_run(world.app("dev"), "verified-dev-*")
    answer(run, True)
    paused_run(world.app("dev"), "sync-staging-*")
    with world.engine() as engine:
        assert get_hold(engine, world.app("staging")) is not None, "a release waiting at its gate holds"
    answer(run, True, "bob")
    state = running.result()

    assert state.is_completed(), state.message
    assert world.image_of("staging") == f"{world.image()}:v3-5a7147"
    with world.engine() as engine:
        assert get_hold(engine, world.app("staging")) is None, "the approved release released the hold"


def test_quick_rollback_works_while_git_is_down(
    tmp_path: Path, registry: RunningRegistry, sandbox: Sandbox, sandbox_tools: dict, prefect_harness: str
) -> None:
    world = build_world(tmp_path, registry, sandbox, environments=("dev",))
    _dev_at_v3(world, 1)
    down = world.bare.with_name("gitops-demo.git-unreachable")
    world.bare.rename(down)  # the deploy repo's remote is gone
    try:
        state = rollback(app=world.app("dev"), config=str(world.config), return_state=True)
        assert state.is_completed(), state.message
        assert world.image_of("dev") == f"{world.image()}:v1.0"
        with world.engine() as engine:
            hold = get_hold(engine, world.app("dev"))
        assert hold is not None and hold.sync and f"{world.image()}:v3-5a7147" in hold.tags
        assert not world.bare.exists(), "Git stayed down throughout"
    finally:
        if not world.bare.exists():
            shutil.move(down, world.bare)
