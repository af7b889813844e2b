"""``ferry.image.updated`` survives a run that dies after a push (issue 10, finding 10).

The event used to be emitted only after every repository was pushed and the artifact
written. A worker killed in between left the commit in Git and no event: a re-run found
the repo up to date ("unchanged"), and the release never started. Here a real image-update
run (a subprocess against the harness's API) pushes the seed repo, then hangs in a second
repo's pre-receive hook and is killed with SIGKILL; the first repo's events must be on the
server, once each, also after a re-run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from ferry.devenv.seed import application, create_deploy_repo
from tests.e2e.seedenv import NEW_BUILD, build_seed
from tests.fixtures.registry import RunningRegistry
from tests.waiting import wait_for

pytestmark = pytest.mark.registry
ROOT = Path(__file__).resolve().parents[2]
SEED_APPS = ("app-helm-dev", "app-helm-staging", "app-helm-production")


def _updated_events(api: str, since: datetime) -> list[dict[str, Any]]:
    body = {
        "filter": {
            "occurred": {"since": since.isoformat()},
            "event": {"name": ["ferry.image.updated"]},
            "order": "ASC",
        },
        "limit": 50,
    }
    response = httpx.post(f"{api}/events/filter", json=body, timeout=10)
    response.raise_for_status()
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def _events_until(
    api: str, since: datetime, done: Callable[[list[dict[str, Any]]], bool], what: str
) -> list[dict[str, Any]]:
    """The stored events once ``done`` holds for them (the server persists in batches)."""
    found: list[dict[str, Any]] = []

    def check() -> bool:
        found[:] = _updated_events(api, since)
        return done(found)

    wait_for(check, 30, what)
    return found


def _run_flow(config: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    code = f"from flows.image_update import image_update; image_update(config={str(config)!r})"
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_events_of_a_pushed_repo_survive_a_killed_run(
    tmp_path: Path, registry: RunningRegistry, prefect_harness: str
) -> None:
    seed = build_seed(tmp_path, registry)
    seed.remove_tag("v3-5a7147")
    # A second deploy repo whose push hangs in its pre-receive hook until the run is killed.
    other_bare = tmp_path / "other.git"
    other_url = create_deploy_repo(other_bare, registry.host)
    marker = tmp_path / "push-reached-hook"
    hook = other_bare / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\ntouch '{marker}'\nsleep 600\n")
    hook.chmod(0o755)
    other = application("dev", other_url, registry.host, "https://127.0.0.1/dev")
    other["metadata"]["name"] = "zz-other"  # type: ignore[index]
    (seed.layout.applications / "zz-other.yaml").write_text(yaml.safe_dump(other))
    seed.push("v3-5a7147", NEW_BUILD)
    env = {**seed.env, "PREFECT_API_URL": prefect_harness, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    since = datetime.now(UTC)

    run = _run_flow(seed.layout.config, env)
    try:
        wait_for(lambda: marker.exists() or run.poll() is not None, 180, "the second push to reach its hook")
        assert run.poll() is None, run.stderr.read().decode()[-3000:] if run.stderr else ""
    finally:
        os.killpg(run.pid, signal.SIGKILL)  # the worker dies mid-run: git push and hook included
        run.wait(timeout=30)

    pushed = {line.split("\t")[1] for line in seed.git("log", "--format=%H%x09%s", "main").splitlines()[:3]}
    assert pushed == {f"build: automatic update of {app}" for app in SEED_APPS}, "the seed repo was pushed"
    events = _events_until(prefect_harness, since, lambda found: len(found) >= 3, "three events")
    apps = sorted(e["payload"]["application"] for e in events)
    assert apps == sorted(SEED_APPS), "every commit that reached the remote was announced"
    commits = set(seed.git("rev-list", "-3", "main").split())
    assert {e["payload"]["commit"] for e in events} == commits

    # A re-run (hook gone) announces the other repo's commit, and nothing twice.
    hook.unlink()
    rerun = _run_flow(seed.layout.config, env)
    assert rerun.wait(timeout=240) == 0, rerun.stderr.read().decode()[-3000:] if rerun.stderr else ""
    # zz-other's event is the re-run's last: once it is stored, anything emitted before it is too.
    final = _events_until(
        prefect_harness,
        since,
        lambda found: any(e["payload"]["application"] == "zz-other" for e in found),
        "the event of zz-other",
    )
    assert sorted(e["payload"]["application"] for e in final) == sorted([*SEED_APPS, "zz-other"])
