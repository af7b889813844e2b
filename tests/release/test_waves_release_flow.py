"""The ``release`` flow with Production as three waves over three real sandbox clusters.

Must show for issue 16: approve wave 1, reject wave 2, and wave 3's cluster is
untouched (its Deployment's resourceVersion, its image and its sync history are
what they were); then a new release where all three waves complete. And an
analysis that fails in wave 1 leaves waves 2 and 3 unchanged.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ferry.devenv.exporter import success_rate_query
from ferry.devenv.registry import RunningRegistry
from ferry.sandbox.cluster import Sandbox
from flows.release import release
from flows.sync import auto_sync
from tests.fixtures.prometheus import Metrics
from tests.release.test_release_claims import _dev_at_v3
from tests.release.wave_world import REGIONS, WaveWorld, build_wave_world
from tests.release.world import Background, answer, artifact, paused_run

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

NEWER_TAG = "v3-7c1e22"


def _start(world: WaveWorld) -> tuple[Background, Any]:
    w = world.world
    running = Background(lambda: release(app=w.app("dev"), config=str(w.config), return_state=True))
    run = paused_run(w.app("dev"), "verified-dev-*")
    # The fleet view is on the run from its first gate: every region still pending.
    first = artifact("release-status-", run.id)
    for n, cluster in enumerate(REGIONS, start=1):
        assert f"| production | {n} | {cluster} | `{world.region_app(cluster)}` | pending |" in first, first
    answer(run, True)
    return running, run


def _frozen(world: WaveWorld, cluster: str) -> tuple[str, str, list[str]]:
    """What must not move in an untouched wave: resourceVersion, image, sync history."""
    live = world.deployment(cluster)
    assert live is not None
    return str(live["metadata"]["resourceVersion"]), world.image(cluster), world.history(cluster)


@pytest.fixture
def make_world(
    tmp_path: Path, registry: RunningRegistry, sandbox: Sandbox, wave_sandbox: Sandbox, sandbox_tools: dict
) -> Any:
    """Build the wave world (five clusters in use) with an optional Production canary."""
    return lambda canary=None: build_wave_world(tmp_path, registry, sandbox, wave_sandbox, canary=canary)


def test_three_waves_approve_one_reject_two_leave_three_untouched_then_all_complete(
    make_world: Any, prefect_harness: str
) -> None:
    world = make_world()
    w = world.world
    old, new = f"{w.image()}:v1.0", f"{w.image()}:v3-5a7147"
    _dev_at_v3(w, 4)
    before = {c: _frozen(world, c) for c in ("prod-b", "prod-c")}
    running, run = _start(world)
    paused_run(w.app("dev"), "sync-production-wave-1-*")
    answer(run, True, "alice")
    gate = paused_run(w.app("dev"), "sync-production-wave-2-*")
    assert gate.state is not None and "wave 2 (prod-b)" in str(gate.state.message)
    assert world.image("prod-a") == new, "wave 1 synced before wave 2 was asked"
    answer(run, False, "bob", "beijing is busy")
    state = running.result()

    assert state.is_cancelled(), state.message
    assert "bob" in str(state.message)
    assert _frozen(world, "prod-b") == before["prod-b"] and _frozen(world, "prod-c") == before["prod-c"]
    status = artifact("release-status-", run.id)
    assert f"| production | 1 | prod-a | `{world.region_app('prod-a')}` | released |" in status
    assert f"| production | 2 | prod-b | `{world.region_app('prod-b')}` | stopped |" in status
    assert f"| production | 3 | prod-c | `{world.region_app('prod-c')}` | untouched |" in status

    # A new release: the next gate shows what wave 1 did, and all three waves complete.
    w.push(NEWER_TAG, datetime(2023, 7, 20, tzinfo=UTC))
    assert w.update_images().images_updated == 8  # both images of each of the four apps
    _synced_dev(world)
    running, run = _start(world)
    for n in (1, 2, 3):
        paused_run(w.app("dev"), f"sync-production-wave-{n}-*")
        answer(run, True, "alice")
    state = running.result()
    assert state.is_completed(), state.message
    assert {c: world.image(c) for c in REGIONS} == dict.fromkeys(REGIONS, f"{w.image()}:{NEWER_TAG}")
    assert old not in artifact("release-status-", run.id)
    assert artifact("release-status-", run.id).count("| released |") == 4  # Dev and three regions

    # The same fleet from the terminal, read from the clusters.
    command = ["release", "status", f"echo-server-{w.sfx}", "-c", str(w.config), "-o", "json"]
    shown = subprocess.run(
        [sys.executable, "-m", "ferry.cli", *command],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    rows = {r["app"]: r for r in json.loads(shown.stdout)}
    head = rows[world.region_app("prod-c")]["revision"]
    assert {
        (r["wave"], r["cluster"], r["state"], r["health"]) for a, r in rows.items() if a != w.app("dev")
    } == {
        ("1", "prod-a", "Synced", "Healthy"),
        ("2", "prod-b", "Synced", "Healthy"),
        ("3", "prod-c", "Synced", "Healthy"),
    }
    assert len({r["revision"] for r in rows.values()}) == 1 and len(head) == 12


def _synced_dev(world: WaveWorld) -> None:
    w = world.world
    state = auto_sync(config=str(w.config), cluster="dev", wait_timeout=90, return_state=True)
    assert state.is_completed(), state.message


def test_a_failed_analysis_in_wave_one_changes_nothing_in_waves_two_and_three(
    make_world: Any, prefect_harness: str, metrics: Metrics
) -> None:
    metric = {
        "name": "success-rate",
        "provider": {"prometheus": {"query": success_rate_query("canary")}},
        "successCondition": "result[0] >= 0.95",
        "failureCondition": "result[0] < 0.5",
    }
    canary = {
        "provider": "native",
        "steps": [50, 100],
        "analysis": {"address": metrics.url, "metrics": [metric]},
        "auto_approve": True,
    }
    metrics.set("canary", success=40, error=60)
    world = make_world(canary)
    w = world.world
    _dev_at_v3(w, 4)
    before = {c: _frozen(world, c) for c in REGIONS}
    running, run = _start(world)
    paused_run(w.app("dev"), "sync-production-wave-1-*")
    answer(run, True, "alice")
    state = running.result()

    assert state.is_cancelled(), state.message
    assert "analysis failed" in str(state.message) and "[0.4]" in str(state.message)
    # Waves 2 and 3 never moved. Wave 1's native canary was aborted before its sync: the stable
    # Deployment kept its image and history and got its replicas back (the canary had taken half).
    assert {c: _frozen(world, c) for c in ("prod-b", "prod-c")} == {
        c: before[c] for c in ("prod-b", "prod-c")
    }
    assert _frozen(world, "prod-a")[1:] == before["prod-a"][1:]
    stable = world.deployment("prod-a")
    assert stable is not None and stable["spec"]["replicas"] == 2  # values-staging.yaml
    assert "| untouched |" in artifact("release-status-", run.id)
