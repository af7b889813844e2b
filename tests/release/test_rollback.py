"""Rollback on the real clusters, registry and Git: quick with a hold, and end to end with git revert."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ferry.config import load_config
from ferry.devenv.registry import RunningRegistry
from ferry.release.holds import auto_sync_unless_held, get_hold
from ferry.sandbox.cluster import Sandbox
from ferry.update.cycle import Updater
from ferry.update.outcomes import UpdateStatus
from flows.rollback import rollback
from tests.release.world import NEW_BUILD, NEWER_BUILD, ReleaseWorld, build_world

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
PROJECT = Path(__file__).resolve().parents[2]


def ferry(world: ReleaseWorld, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ferry.cli", *args, "--config", str(world.config)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
        timeout=300,
        check=False,
    )


def auto_sync_dev(world: ReleaseWorld) -> str:
    with world.engine() as engine:
        _, reason = auto_sync_unless_held(engine, world.app("dev"), wait_timeout=90)
    return reason


def dev_at_v3(world: ReleaseWorld) -> None:
    world.push("v3-5a7147", NEW_BUILD)
    assert world.update_images().images_updated == 2
    auto_sync_dev(world)
    assert world.image_of("dev") == f"{world.image()}:v3-5a7147"


def test_quick_rollback_restores_images_and_holds_until_released(
    tmp_path: Path, registry: RunningRegistry, sandbox: Sandbox, sandbox_tools: dict, prefect_harness: str
) -> None:
    world = build_world(tmp_path, registry, sandbox, environments=("dev",))
    dev_at_v3(world)

    state = rollback(app=world.app("dev"), config=str(world.config), return_state=True)
    assert state.is_completed(), state.message
    assert state.result()["history_id"] == 1
    assert world.image_of("dev") == f"{world.image()}:v1.0"
    assert world.image_of("dev", "echo-web-server") == f"{world.image('webserver')}:v1.0"
    listed = json.loads(ferry(world, "hold", "list", "-o", "json").stdout)
    assert [(h["app"], h["sync"]) for h in listed] == [(world.app("dev"), True)]
    assert f"{world.image()}:v3-5a7147" in listed[0]["tags"]

    # A newer image is pushed and written back: the held app stays where the rollback put it.
    world.push("v4", NEWER_BUILD)
    assert world.update_images().images_updated == 2
    assert "on hold" in auto_sync_dev(world)
    assert world.image_of("dev") == f"{world.image()}:v1.0"

    released = ferry(world, "hold", "release", world.app("dev"))
    assert released.returncode == 0 and "hold released" in released.stdout
    assert json.loads(ferry(world, "hold", "list", "-o", "json").stdout) == []
    assert "OutOfSync" in auto_sync_dev(world)
    assert world.image_of("dev") == f"{world.image()}:v4"


def test_git_revert_makes_a_revert_commit_and_the_updater_skips_the_reverted_tag(
    tmp_path: Path, registry: RunningRegistry, sandbox: Sandbox, sandbox_tools: dict
) -> None:
    world = build_world(tmp_path, registry, sandbox, environments=("dev",))
    dev_at_v3(world)
    head_before = _git(world, "rev-parse", "main")

    done = ferry(world, "rollback", world.app("dev"), "--git-revert")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["revert_commit"] and len(result["reverted"]) == 1
    assert _git(world, "rev-parse", "main^") == head_before
    message = _git(world, "log", "-1", "--format=%B", "main")
    assert f"This reverts commit {result['reverted'][0]}" in message
    grep = subprocess.run(["git", f"--git-dir={world.bare}", "grep", "-q", "v3-5a7147", "main"], check=False)
    assert grep.returncode == 1, "the reverted tag is nowhere in the deploy repo"
    with world.engine() as engine:
        hold = get_hold(engine, world.app("dev"))
    assert hold is not None and hold.sync is False
    assert set(hold.tags) == {f"{world.image()}:v3-5a7147", f"{world.image('webserver')}:v3-5a7147"}

    # Without the hold the updater would write v3 straight back (image-updater #1249) ...
    with Updater(load_config(world.config)) as plain:
        again = plain.run_cycle(dry_run=True)
    assert [c.new_tag for o in again.outcomes for c in o.changes] == ["v3-5a7147", "v3-5a7147"]
    # ... the hold-aware updater skips the held tag, and the normal pipeline carries the revert.
    report = world.update_images()
    assert [o.status for o in report.outcomes] == [UpdateStatus.UNCHANGED]
    assert _git(world, "rev-parse", "main") == result["revert_commit"]
    assert "OutOfSync" in auto_sync_dev(world)
    assert world.image_of("dev") == f"{world.image()}:v1.0"


def _git(world: ReleaseWorld, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={world.bare}", *args], check=True, capture_output=True, text=True
    ).stdout.strip()
