"""A promotion's gates in-process: a Kruise Rollout with a gate per step.

The seed's whole step 5 (every gate, native canaries, as deployments on a worker) is
``tests/release/test_deployed_chain.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ferry.devenv.registry import RunningRegistry
from ferry.devenv.seed import CHART_PATH
from ferry.release.canary import KRUISE_API
from ferry.sandbox.cluster import Sandbox
from flows.release import promote
from tests.fixtures.git import BareRepo
from tests.release.kube import kruise_pauses_at_step_1, set_status
from tests.release.world import (
    Background,
    answer,
    build_world,
    paused_run,
)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


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
        cluster, ns = engine.connect(app), engine.target(app).namespace
        kruise_pauses_at_step_1(cluster, "echo-server", ns)  # the test is the Kruise controller
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
