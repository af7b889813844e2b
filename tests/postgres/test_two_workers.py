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
from pathlib import Path
from typing import Any

import pytest
import yaml

from ferry.config import load_config
from ferry.devenv.prefect_api import FINAL_STATES, PrefectApi, parse_time
from ferry.devenv.seed import CHART_PATH
from ferry.devenv.services import Service, ServiceBook, stop_pid
from ferry.devenv.system import APPS, System, bring_up, install_v1, push_release
from ferry.sandbox.cluster import Sandbox
from ferry.sync.engine import SyncEngine
from ferry.sync.model import SyncStatus
from tasks.locks import limit_name
from tests.fixtures.git import BareRepo

pytestmark = [pytest.mark.postgres, pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(2400)]
SECOND = "ferry-worker-2"


@pytest.fixture(scope="module")
def pg_system(
    tmp_path_factory: pytest.TempPathFactory, sandbox: Sandbox, second_region: Sandbox, sandbox_tools: dict
) -> Iterator[tuple[System, dict[str, Service]]]:
    """The deployed system on PostgreSQL, v1 installed, with its workers by name."""
    root = tmp_path_factory.mktemp("deployed-pg")
    try:
        began = time.monotonic()

        def step(what: str) -> None:
            print(f"[{time.monotonic() - began:6.1f}s] {what}")

        system = bring_up(root, sandbox, also=(second_region,), database="postgres", step=step)
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


def _live(system: System, env: str) -> dict[str, Any]:
    assert system.config is not None
    with SyncEngine(load_config(system.config)) as engine:
        cluster, namespace = engine.connect(APPS[env]), engine.target(APPS[env]).namespace
        live = cluster.get("apps/v1", "Deployment", "echo-server", namespace)
    assert live is not None, f"no echo-server Deployment in {env}"
    return live


def _image(system: System, env: str) -> str:
    return str(_live(system, env)["spec"]["template"]["spec"]["containers"][0]["image"])


def _shape(system: System, env: str) -> tuple[str, int]:
    """The Deployment's image and replicas: what the kill test's sync changes."""
    live = _live(system, env)
    return str(live["spec"]["template"]["spec"]["containers"][0]["image"]), int(live["spec"]["replicas"])


def _key(run: dict[str, Any]) -> str:
    return str(((run.get("state") or {}).get("state_details") or {}).get("pause_key") or "")


def _both_running(system: System, workers: dict[str, Service]) -> None:
    """Start again any of the two workers a test killed: each test that kills one needs both.

    The tests run in random order; a killed worker left dead made the next killing test stop the
    last one, and its resumed release waited for a worker that no longer existed (CI saw it).
    """
    for name, worker in list(workers.items()):
        if not _alive(worker.pid):
            workers[name] = system.add_worker(name, service=worker.name)


def test_two_workers_on_postgres_carry_a_push_to_the_gate_and_the_other_one_resumes_it(
    pg_system: tuple[System, dict[str, Service]],
) -> None:
    system, workers = pg_system
    _both_running(system, workers)
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
    _both_running(system, workers)
    try:
        _kill_mid_sync(system, workers)
    finally:
        _both_running(system, workers)


def _kill_mid_sync(system: System, workers: dict[str, Service]) -> None:
    before = _shape(system, "staging")
    # Whatever ran before (tests run in random order), Git gets a change for Staging to sync.
    values = f"{CHART_PATH}/values-staging.yaml"
    assert system.deploy_repo is not None
    deploy = BareRepo(system.deploy_repo)
    replicas = int(yaml.safe_load(deploy.read(values) or b"{}").get("replicaCount", 1))
    deploy.commit({values: f"replicaCount: {replicas + 1}\n"}, "staging: one more replica")
    assert system.config is not None
    with SyncEngine(load_config(system.config)) as engine:
        assert engine.diff(APPS["staging"]).status is SyncStatus.OUT_OF_SYNC, "the sync has work to do"
    since = time.time()
    with system.api() as api:
        created = api.create_flow_run(api.deployment("sync")["id"], {"app": APPS["staging"]})

        def applying() -> dict[str, Any] | None:
            # The moment the apply has changed the Deployment: the sync now waits for health, and
            # its history record is still to come. That is the kill that could leave it half done.
            run = api.flow_run(created["id"])
            if run["state_type"] in FINAL_STATES or _shape(system, "staging") != before:
                return run
            return None

        assert api.wait(applying, 300, "the sync to apply", interval=0.05)["state_type"] == "RUNNING"
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
        after = _shape(system, "staging")
        assert system.config is not None
        with SyncEngine(load_config(system.config)) as engine:
            history = list(engine.history(APPS["staging"]))
            status = engine.status(APPS["staging"])
        attempt = status.last_attempt
        print(
            f"staging {before} → {after}; last sync {history[-1].revision[:12] if history else None}; "
            f"last attempt {attempt.phase if attempt else None}: {attempt.message if attempt else ''}"
        )
        # Whatever the kill cut short, the record agrees with the cluster. The apply changed the
        # Deployment before the kill (that is when it was sent), so either the process still
        # recorded the sync before it died (Succeeded at the revision now live, even in a Crashed
        # run), or the record says a sync to that revision began and never ended (Running). What
        # must never be: the new revision live and the record naming the previous sync's success.
        assert after != before and attempt is not None
        assert attempt.revision == status.revision, (attempt, status.revision)
        if attempt.phase == "Succeeded":
            assert status.sync is SyncStatus.SYNCED and history[-1].revision == status.revision, history
        else:
            assert attempt.phase == "Running", attempt
            assert final["state_type"] != "COMPLETED", "a completed run ended its attempt"
        # Retried by hand (a manual app waits for a human): the sync ends and is recorded.
        since = time.time()
        again = system.run_deployment("sync", {"app": APPS["staging"]}, timeout=600)
        assert again["state_type"] == "COMPLETED", again["state"]
        with SyncEngine(load_config(system.config)) as engine:
            status = engine.status(APPS["staging"])
        assert status.sync is SyncStatus.SYNCED and status.last_attempt is not None
        assert status.last_attempt.phase == "Succeeded", status.last_attempt
        # The other worker carries on: it takes the next run.
        survivor = next(name for name in workers if name != submitter)
        assert _submitters(api, again["id"], since) == [survivor]
        since = time.time()
        run = system.run_deployment("sync-dev", timeout=600)
        assert run["state_type"] == "COMPLETED", run["state"]
        assert _submitters(api, run["id"], since) == [survivor]


def _held(api: PrefectApi, run_id: str, limit: str) -> tuple[float, float]:
    """When run ``run_id`` took and gave back the slot of ``limit``, from its own log lines.

    Log lines reach the server in batches, a little after the run ended: they are waited for.
    """

    def spans() -> tuple[list[float], list[float]] | None:
        lines = [(parse_time(line["timestamp"]) or 0.0, str(line["message"])) for line in api.logs(run_id)]
        took = [t for t, message in lines if message.startswith("holding ") and limit in message]
        gave = [t for t, message in lines if message.startswith("letting go of ") and limit in message]
        return (took, gave) if gave else None

    took, gave = api.wait(spans, 60, f"run {run_id}'s log lines about {limit}")
    assert len(took) == len(gave) == 1, (took, gave)
    return took[0], gave[0]


def _alive(pid: int) -> bool:
    """Running, not a zombie its parent has not reaped yet (a zombie still answers kill 0)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_two_syncs_of_one_app_at_once_take_turns_across_the_workers(
    pg_system: tuple[System, dict[str, Service]],
) -> None:
    system, workers = pg_system
    _both_running(system, workers)
    app = APPS["staging"]
    since = time.time()
    with system.api() as api:
        for name, service in list(workers.items()):  # the kill test leaves one worker: two are needed
            if not _alive(service.pid):
                workers[name] = system.add_worker(name, service=service.name)
        deployment = api.deployment("sync")["id"]
        runs = [api.create_flow_run(deployment, {"app": app, "wait_timeout": 120}) for _ in range(2)]
        finals = [api.wait_final(r["id"], 900) for r in runs]
        assert [f["state_type"] for f in finals] == ["COMPLETED", "COMPLETED"], [f["state"] for f in finals]
        by = {r["id"]: _submitters(api, r["id"], since) for r in runs}
        limit = limit_name("app", app)
        spans = sorted(_held(api, r["id"], limit) for r in runs)
        made = api.concurrency_limit(limit)
    print(f"two syncs of {app}, run by {by}: slots held {spans}")
    assert made is not None and made["limit"] == 1, made
    (_, first_gave), (second_took, _) = spans
    assert second_took >= first_gave, f"the second sync applied while the first held {limit}: {spans}"


def test_a_sync_waits_while_another_holder_has_the_apps_slot(
    pg_system: tuple[System, dict[str, Service]],
) -> None:
    """Deterministic where two racing runs are not: the test holds the slot, as a first sync would."""
    system, _ = pg_system
    app = APPS["staging"]
    limit = limit_name("app", app)
    with system.api() as api:
        if api.concurrency_limit(limit) is None:  # no sync of the app ran before this test
            api.create_concurrency_limit(limit, 1)
        lease = api.take_slots([limit])
        held_at = time.time()
        created = api.create_flow_run(api.deployment("sync")["id"], {"app": app})
        try:

            def waiting() -> dict[str, Any] | None:
                tasks = api.task_runs(f"sync {app}%", held_at)
                mine = [t for t in tasks if t["flow_run_id"] == created["id"]]
                return mine[0] if mine and mine[0]["state_type"] == "RUNNING" else None

            api.wait(waiting, 300, "the sync task to start")
            time.sleep(5)
            run = api.flow_run(created["id"])
            assert run["state_type"] == "RUNNING", run["state"]
            assert not [
                line for line in api.logs(created["id"]) if str(line["message"]).startswith("holding ")
            ]
        finally:
            released_at = time.time()
            api.give_back(lease)
        final = api.wait_final(created["id"], 600)
        assert final["state_type"] == "COMPLETED", final["state"]
        took, gave = _held(api, created["id"], limit)
    assert took >= released_at - 1, (took, released_at)  # the server's clock and ours: same machine
    assert gave >= took
