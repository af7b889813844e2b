"""The deployments on a real `prefect server start`: `prefect deploy --all`, and a suspended gate
that survives its worker being killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings

from ferry.devenv.registry import RunningRegistry, free_port
from ferry.devenv.services import Service, start_prefect_server, stop_pid
from ferry.release.holds import auto_sync_unless_held
from ferry.sandbox.cluster import Sandbox
from tests.release.world import NEW_BUILD, answer, build_world, paused_run, read_run

pytestmark = [pytest.mark.slow]
PROJECT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))
DEPLOYMENTS = {
    "image-updater",
    "sync-dev",
    "ci-build",
    "release",
    "promote-staging",
    "promote-production",
    "rollback",
}


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, dict[str, str]]]:
    """A real Prefect server on a free loopback port, with the `ferry` process pool; stopped by PID."""
    home = tmp_path_factory.mktemp("prefect-home")
    server = start_prefect_server(home, free_port())
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"{server.url}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "FERRY_PROJECT_DIR": str(PROJECT),
        "PYTHONPATH": str(PROJECT),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
    }
    try:
        created = subprocess.run(
            [PREFECT, "work-pool", "create", "ferry", "--type", "process"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert created.returncode == 0, created.stdout + created.stderr
        yield server, env
    finally:
        stop_pid(server.pid)


@pytest.fixture(scope="module")
def deployed(prefect_server: tuple[Service, dict[str, str]]) -> subprocess.CompletedProcess[str]:
    _, env = prefect_server
    return subprocess.run(
        [PREFECT, "--no-prompt", "deploy", "--all"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_prefect_deploy_all_registers_every_deployment_with_its_triggers(
    prefect_server: tuple[Service, dict[str, str]], deployed: subprocess.CompletedProcess[str]
) -> None:
    server, _ = prefect_server
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    with temporary_settings({PREFECT_API_URL: f"{server.url}/api"}), get_client(sync_client=True) as client:
        deployments = {d.name: d for d in client.read_deployments()}
        automations = client.read_automations()
    assert DEPLOYMENTS <= set(deployments)
    release = deployments["release"]
    assert release.entrypoint == "flows/release.py:release" and release.work_pool_name == "ferry"
    assert release.parameters["suspend"] is True
    assert deployments["promote-staging"].parameters["app"] == "app-helm-staging"
    assert deployments["promote-production"].parameters["app"] == "app-helm-production"
    assert not deployments["rollback"].schedules and not deployments["promote-production"].schedules
    release_triggers = [
        a
        for a in automations
        if any(getattr(action, "deployment_id", None) == release.id for action in a.actions)
    ]
    assert len(release_triggers) == 1
    trigger: Any = release_triggers[0].trigger
    assert trigger.expect == {"ferry.image.updated"}
    action: Any = release_triggers[0].actions[0]
    assert action.parameters["app"] == "{{ event.payload.application }}"


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [PREFECT, "worker", "start", "--pool", "ferry", "--type", "process"],
        cwd=PROJECT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@pytest.mark.cluster
def test_a_suspended_gate_resumes_correctly_after_its_worker_was_killed(
    tmp_path: Path,
    registry: RunningRegistry,
    sandbox: Sandbox,
    sandbox_tools: dict,
    prefect_server: tuple[Service, dict[str, str]],
    deployed: subprocess.CompletedProcess[str],
) -> None:
    server, env = prefect_server
    assert deployed.returncode == 0, deployed.stderr[-2000:]
    world = build_world(tmp_path, registry, sandbox, environments=("dev", "staging"))
    world.push("v3-5a7147", NEW_BUILD)
    assert world.update_images().images_updated == 4
    with world.engine() as engine:
        auto_sync_unless_held(engine, world.app("dev"), wait_timeout=90)
    old, new = f"{world.image()}:v1.0", f"{world.image()}:v3-5a7147"
    log = tmp_path / "worker.log"

    with temporary_settings({PREFECT_API_URL: f"{server.url}/api"}):
        with get_client(sync_client=True) as client:
            for scheduled in ("image-update/image-updater", "auto-sync/sync-dev", "ci-build/ci-build"):
                # Their interval runs would only compete for this test's worker.
                client.pause_deployment(client.read_deployment_by_name(scheduled).id)
            deployment = client.read_deployment_by_name("release/release")
            created = client.create_flow_run_from_deployment(
                deployment.id,
                parameters={"app": world.app("dev"), "config": str(world.config), "suspend": True},
            )
        worker = _worker(env, log)
        try:
            run = paused_run(world.app("dev"), "verified-dev-*")
            assert run.id == created.id and run.state.name == "Suspended"
        finally:
            # The worker goes away while the run waits for a human (SIGKILL: no clean shutdown).
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(30)
        answer(run, True, "alice")
        worker = _worker(env, log)
        try:
            paused_run(world.app("dev"), "sync-staging-*", timeout=240)
            assert world.image_of("staging") == old
            answer(run, True, "bob")
            deadline = time.monotonic() + 240
            while not (state := read_run(run.id).state).is_final() and time.monotonic() < deadline:
                time.sleep(1)
        finally:
            stop_pid(worker.pid)
    assert state.is_completed(), f"{state.name}: {state.message}\n{log.read_text()[-4000:]}"
    assert world.image_of("staging") == new
    with world.engine() as engine:
        assert len(engine.history(world.app("staging"))) == 2, "the resumed run synced staging exactly once"


def test_the_release_deployment_trigger_is_the_image_updated_event() -> None:
    spec = yaml.safe_load((PROJECT / "prefect.yaml").read_text())
    release = next(d for d in spec["deployments"] if d["name"] == "release")
    (trigger,) = release["triggers"]
    assert trigger["expect"] == ["ferry.image.updated"]
    assert trigger["match"] == {"prefect.resource.id": "ferry.application.*"}
    assert trigger["parameters"]["app"] == "{{ event.payload.application }}"
