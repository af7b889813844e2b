"""The deployed system on PostgreSQL with two process workers on the ``ferry`` pool.

The same chain as ``tests/release/test_deployed_chain.py`` (a ``git push release-vN`` →
``ci-build`` → ``image-updater`` → ``sync-dev`` and ``release``, suspended at "Dev verified?"),
but the server keeps its state in PostgreSQL and two workers share the pool. Which worker
ran a run is what the worker itself announced: its ``prefect.worker.submitted-flow-run``
event, one per submission (a resumed run is submitted again).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ferry.config import load_config
from ferry.devenv.prefect_api import FINAL_STATES, PrefectApi
from ferry.devenv.services import Service, ServiceBook, stop_pid
from ferry.devenv.system import APPS, System, bring_up, install_v1, push_release
from ferry.sandbox.cluster import Sandbox
from ferry.sync.engine import SyncEngine
from ferry.sync.model import SyncStatus

pytestmark = [pytest.mark.postgres, pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(2400)]
SECOND = "ferry-worker-2"


@pytest.fixture(scope="module")
def pg_system(
    tmp_path_factory: pytest.TempPathFactory, sandbox: Sandbox, sandbox_tools: dict
) -> Iterator[tuple[System, dict[str, Service]]]:
    """The deployed system on PostgreSQL, v1 installed, with its workers by name."""
    root = tmp_path_factory.mktemp("deployed-pg")
    try:
        began = time.monotonic()

        def step(what: str) -> None:
            print(f"[{time.monotonic() - began:6.1f}s] {what}")

        system = bring_up(root, sandbox, database="postgres", step=step)
        assert system.worker is not None
        workers = {"ferry-worker": system.worker, SECOND: system.add_worker(SECOND)}
        step("up, two workers; installing v1")
        system.notes.append(install_v1(system))
        step("v1 installed")
        yield system, workers
    finally:
        ServiceBook(root).stop_all()
        left = ServiceBook(root).still_running()
        assert not left, f"still running after the module: {left}"


def _submitters(api: PrefectApi, run_id: str, since: float) -> list[str]:
    """The workers that submitted run ``run_id`` since ``since``, in order (one entry per submission)."""
    names = []
    for event in api.events(["prefect.worker.submitted-flow-run"], since - 5):
        related = {r["prefect.resource.id"] for r in event.get("related") or []}
        if f"prefect.flow-run.{run_id}" in related:
            names.append(str(event["resource"]["prefect.resource.name"]))
    return names


def _image(system: System, env: str) -> str:
    assert system.config is not None
    with SyncEngine(load_config(system.config)) as engine:
        cluster, namespace = engine.connect(APPS[env]), engine.target(APPS[env]).namespace
        live = cluster.get("apps/v1", "Deployment", "echo-server", namespace)
    assert live is not None, f"no echo-server Deployment in {env}"
    return str(live["spec"]["template"]["spec"]["containers"][0]["image"])


def _key(run: dict[str, Any]) -> str:
    return str(((run.get("state") or {}).get("state_details") or {}).get("pause_key") or "")


def test_two_workers_on_postgres_carry_a_push_to_the_gate_and_the_other_one_resumes_it(
    pg_system: tuple[System, dict[str, Service]],
) -> None:
    system, workers = pg_system
    began = time.monotonic()
    sha, pushed_at = push_release(system, "v5")
    tag = f"v5-{sha[:6]}"
    release = system.wait_for_gate("verified-dev-*", after=pushed_at - 1, timeout=900)
    print(f"push → suspended at {_key(release)} in {time.monotonic() - began:.1f} s")
    assert release["name"] == f"release echo-server {tag}" and release["state_name"] == "Suspended"
    assert _image(system, "dev").endswith(f":{tag}"), "sync-dev moved Dev to the new tag"
    assert _image(system, "staging").endswith(f":{system.notes[0]}"), "staging waits for its gate"
    with system.api() as api:
        online = {w["name"] for w in api.workers("ferry") if w.get("status") == "ONLINE"}
        assert online == set(workers), online
        (first,) = _submitters(api, release["id"], pushed_at)
        other = next(name for name in workers if name != first)
        # The worker that ran the release so far goes away, without a clean shutdown: only the
        # other one can take the resumed run.
        stop_pid(workers[first].pid, kill=True)
        answer = api.resume(release["id"], {"decision": "approve", "approver": "alice", "comment": ""})
        assert answer["status"] == "ACCEPT", answer

        def at_next_gate() -> dict[str, Any] | None:
            run = api.flow_run(release["id"])
            done = run["state_type"] in FINAL_STATES
            return run if done or (run["state_type"] == "PAUSED" and _key(run) != _key(release)) else None

        gate = api.wait(at_next_gate, 600, "the resumed release to reach its next gate")
        assert _key(gate).startswith("sync-staging-"), (gate["state_type"], gate["state"]["message"])
        assert _submitters(api, release["id"], pushed_at) == [first, other], "the other worker resumed it"
        print(f"{first} ran the release to 'Dev verified?'; {other} ran it from there to {_key(gate)}")
        workers[first] = system.add_worker(first, service=workers[first].name)
        answer = api.resume(release["id"], {"decision": "reject", "approver": "bob", "comment": "test over"})
        assert answer["status"] == "ACCEPT", answer
        assert api.wait_final(release["id"], 600)["state_type"] == "CANCELLED"
    assert _image(system, "staging").endswith(f":{system.notes[0]}"), "rejected: staging untouched"


def test_a_worker_killed_mid_sync_leaves_the_app_whole(pg_system: tuple[System, dict[str, Service]]) -> None:
    system, workers = pg_system
    before = _image(system, "staging")
    since = time.time()
    with system.api() as api:
        created = api.create_flow_run(api.deployment("sync")["id"], {"app": APPS["staging"]})

        def running() -> dict[str, Any] | None:
            run = api.flow_run(created["id"])
            return run if run["state_type"] in ("RUNNING", *FINAL_STATES) else None

        assert api.wait(running, 300, "the sync to start")["state_type"] == "RUNNING"
        (submitter,) = _submitters(api, created["id"], since)
        # SIGKILL to the worker's PID alone, as an OOM kill or `kill -9 PID` would do it.
        os.kill(workers[submitter].pid, signal.SIGKILL)
        killed_at = time.monotonic()
        try:
            final = api.wait_final(created["id"], 300)
        except Exception:
            print("after 300 s the run is", api.flow_run(created["id"])["state_name"])
            raise
        print(
            f"killed {submitter} mid-run; the run ended {final['state_name']} "
            f"{time.monotonic() - killed_at:.1f} s later: {final['state']['message']}"
        )
        after = _image(system, "staging")
        assert system.config is not None
        with SyncEngine(load_config(system.config)) as engine:
            history = list(engine.history(APPS["staging"]))
            status = engine.diff(APPS["staging"])
        print(f"staging {before} → {after}; last sync {history[-1].revision if history else None}")
        if final["state_type"] == "COMPLETED":
            assert after != before and not [r for r in status.resources if r.status is not SyncStatus.SYNCED]
        else:
            assert after == before
        # The other worker carries on: it takes the next run.
        survivor = next(name for name in workers if name != submitter)
        since = time.time()
        run = system.run_deployment("sync-dev", timeout=600)
        assert run["state_type"] == "COMPLETED", run["state"]
        assert _submitters(api, run["id"], since) == [survivor]
