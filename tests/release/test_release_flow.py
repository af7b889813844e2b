"""The seed's step 5 end to end, with the human gates answered through resume_flow_run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ferry.devenv.registry import RunningRegistry
from ferry.devenv.seed import CHART_PATH, SMOKE_JOB
from ferry.release.canary import KRUISE_API, canary_name
from ferry.sandbox.cluster import Sandbox
from flows.release import promote, release
from flows.sync import auto_sync
from tests.fixtures.git import BareRepo
from tests.release.kube import set_status
from tests.release.world import (
    NEW_BUILD,
    Background,
    answer,
    artifact,
    build_world,
    http_endpoint,
    paused_run,
    read_run,
)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

JOB = SMOKE_JOB


def test_seed_step_5_end_to_end_with_gates_and_native_canaries(
    tmp_path: Path, registry: RunningRegistry, sandbox: Sandbox, sandbox_tools: dict, prefect_harness: str
) -> None:
    with http_endpoint() as url:
        world = build_world(
            tmp_path,
            registry,
            sandbox,
            release={
                "validation": [
                    {"name": "healthz", "http": {"url": url, "expect_body": "ok"}, "retries": 1},
                    {"name": "smoke-job", "job": {"manifest": JOB}, "timeout": 60},
                ],
                "staging_canary": {"provider": "native", "steps": [50]},
                "production_canary": {"provider": "native", "steps": [50]},
            },
        )
        old, new = f"{world.image()}:v1.0", f"{world.image()}:v3-5a7147"
        world.push("v3-5a7147", NEW_BUILD)
        report = world.update_images()
        assert report.images_updated == 6, report
        dev = auto_sync(config=str(world.config), cluster="dev", wait_timeout=90, return_state=True)
        assert dev.is_completed(), dev.message
        assert world.image_of("dev") == new

        running = Background(
            lambda: release(app=world.app("dev"), config=str(world.config), return_state=True)
        )
        run = paused_run(world.app("dev"), "verified-dev-*")
        assert world.image_of("staging") == old and world.image_of("production") == old
        answer(run, True, "alice", "dev looks good")

        paused_run(world.app("dev"), "sync-staging-*")
        assert world.image_of("staging") == old
        assert "v3-5a7147" in artifact("release-diff-staging-", run.id)
        answer(run, True, "bob")

        paused_run(world.app("dev"), "canary-staging-*-step-1")
        canary = world.deployment("staging", canary_name("echo-server"))
        assert canary is not None and canary["spec"]["replicas"] == 1
        assert canary["spec"]["template"]["spec"]["containers"][0]["image"] == new
        assert world.image_of("staging") == old, "the stable Deployment changes only after the last step"
        answer(run, True, "bob")

        paused_run(world.app("dev"), "sync-production-*")
        assert world.image_of("staging") == new
        assert world.deployment("staging", canary_name("echo-server")) is None
        assert world.image_of("production") == old
        answer(run, True, "carol")

        paused_run(world.app("dev"), "canary-production-*-step-1")
        assert world.image_of("production") == old
        answer(run, True, "carol")

        state = running.result()
    assert state.is_completed(), state.message
    assert world.image_of("production") == new
    assert world.deployment("production", "echo-server")["spec"]["replicas"] == 3
    assert world.deployment("production", canary_name("echo-server")) is None
    record = artifact("gate-verified-dev-", state.state_details.flow_run_id)
    assert "approved" in record and "alice" in record and "dev looks good" in record
    assert read_run(run.id).state.is_completed()


KRUISE_TEMPLATE = """apiVersion: rollouts.kruise.io/v1beta1
kind: Rollout
metadata:
  name: echo-server
spec:
  workloadRef:
    apiVersion: apps/v1
    kind: Deployment
    name: echo-server
  strategy:
    canary:
      steps:
        - traffic: 20%
          replicas: 1
        - traffic: 100%
          replicas: 100%
"""


def test_promote_flow_drives_a_kruise_rollout_with_a_gate_per_step(
    tmp_path: Path, registry: RunningRegistry, sandbox: Sandbox, sandbox_tools: dict, prefect_harness: str
) -> None:
    world = build_world(
        tmp_path,
        registry,
        sandbox,
        environments=("dev", "staging"),
        release={"staging_canary": {"provider": "kruise", "resource": "echo-server", "step_timeout": 120}},
    )
    app = world.app("staging")
    BareRepo(world.bare).commit(
        {f"{CHART_PATH}/templates/rollout.yaml": KRUISE_TEMPLATE}, "add a Kruise Rollout"
    )
    running = Background(lambda: promote(app=app, config=str(world.config), return_state=True))
    run = paused_run(app, "sync-staging-*")
    answer(run, True, "bob")

    with world.engine() as engine:
        _, cluster, ns = engine.destination(engine.application(app))
        deadline = time.monotonic() + 60
        while cluster.get(KRUISE_API, "Rollout", "echo-server", ns) is None:
            assert time.monotonic() < deadline, "the sync never created the Rollout"
            time.sleep(0.5)
        # The test is the Kruise controller: the rollout pauses at step 1.
        set_status(
            cluster,
            KRUISE_API,
            "Rollout",
            "echo-server",
            ns,
            {
                "phase": "Progressing",
                "canaryStatus": {"currentStepIndex": 1, "currentStepState": "StepPaused"},
            },
        )
        paused_run(app, "canary-staging-*-step-1")
        answer(run, True, "bob")
        deadline = time.monotonic() + 60
        while (
            state := cluster.get(KRUISE_API, "Rollout", "echo-server", ns)["status"]["canaryStatus"][
                "currentStepState"
            ]
        ) != "StepReady":
            assert time.monotonic() < deadline, f"approve never reached the Rollout (state {state})"
            time.sleep(0.5)
        set_status(
            cluster,
            KRUISE_API,
            "Rollout",
            "echo-server",
            ns,
            {"phase": "Healthy", "canaryStatus": {"currentStepIndex": 2, "currentStepState": "Completed"}},
        )
        result = running.result()
    assert result.is_completed(), result.message
    with world.engine() as engine:
        assert len(engine.history(app)) == 2
