"""``sync-dev`` runs because ``ferry.image.updated`` happened: the deployment trigger of prefect.yaml,
served for real under the harness (whose server runs the triggers service), not a test calling auto_sync."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prefect.events.worker import EventsWorker

from ferry.sandbox.cluster import Sandbox
from ferry.update.cycle import AppOutcome, UpdateStatus
from ferry.update.message import ImageChange
from flows.image_update import emit_image_updated
from tests.fixtures.wait import wait_until
from tests.sync.test_sync_clusters import deployment_image
from tests.sync.world import override_file, seed_world

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def prefect_yaml_trigger(deployment: str) -> dict[str, Any]:
    """The first trigger ``prefect.yaml`` declares for ``deployment``, as DeploymentEventTrigger kwargs."""
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    (found,) = [d for d in spec["deployments"] if d["name"] == deployment]
    trigger = dict(found["triggers"][0])
    assert trigger.pop("type") == "event"
    return trigger


def test_image_updated_event_triggers_sync_dev(
    tmp_path: Path, sandbox: Sandbox, sandbox_tools: dict, prefect_harness: str, kube_client: Any
) -> None:
    world = seed_world(tmp_path, sandbox, uuid.uuid4().hex[:6])
    dev = world.name("app-helm-dev")
    commit = world.commit(override_file(dev, "v3-5a7147"), "build: automatic update of " + dev)
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_harness,
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "PYTHONPATH": str(ROOT),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.sync.serve_sync_dev", str(world.config)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    api = prefect_harness.rstrip("/")
    try:

        def served() -> str | None:
            ids = [
                d["id"]
                for d in httpx.post(f"{api}/deployments/filter", json={}, timeout=30).json()
                if d["name"] == "sync-dev"
            ]
            automations = httpx.post(f"{api}/automations/filter", json={}, timeout=30).json()
            return ids[0] if ids and any(ids[0] in str(a.get("actions")) for a in automations) else None

        deployment_id = wait_until(served, 120, "sync-dev to be served with its trigger", interval=0.5)
        change = ImageChange("echoserver", "127.0.0.1:5000/cidemo/echo-server", "v1.0", "v3-5a7147")
        body = {"deployments": {"id": {"any_": [deployment_id]}}}

        def runs() -> list[dict[str, Any]]:
            return list(httpx.post(f"{api}/flow_runs/filter", json=body, timeout=30).json())

        # The triggers service loads a new automation shortly after it is stored, and no API
        # says when: announce the write-back until an announcement starts a run. (A second
        # run of an already synced revision changes nothing.)
        deadline = time.monotonic() + 120
        while True:
            emit_image_updated(
                AppOutcome(dev, UpdateStatus.UPDATED, (change,), world.repo.url, "main", None, commit)
            )
            EventsWorker.drain_all()
            try:
                wait_until(runs, 5, "a sync-dev run", interval=0.2)
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise

        def finished_run() -> dict[str, Any] | None:
            done = [r for r in runs() if r["state_type"] in ("COMPLETED", "FAILED", "CRASHED")]
            return done[0] if done else None

        run = wait_until(finished_run, 240, "the triggered sync-dev run to finish", interval=0.5)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    assert run["state_type"] == "COMPLETED", (run["state"], (tmp_path / "serve.log").read_text()[-3000:])
    image = deployment_image(kube_client, "dev", f"app-dev-{world.suffix}", "echo-server")
    assert image is not None and image.endswith(":v3-5a7147")
    assert deployment_image(kube_client, "staging", f"app-staging-{world.suffix}", "echo-server") is None
