"""Gate outcomes: reject, timeout, a double resume, and the notification that links to the paused run."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import StateType
from prefect.exceptions import NotPausedError, PrefectHTTPStatusError

from ferry.devenv.registry import RunningRegistry
from ferry.sandbox.cluster import Sandbox
from flows.release import release
from flows.sync import auto_sync
from tests.release.world import (
    NEW_BUILD,
    Background,
    ReleaseWorld,
    answer,
    artifact,
    build_world,
    paused_run,
)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback receiver that records every POSTed JSON body."""
    received: list[dict[str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            received.append(json.loads(self.rfile.read(length) or b"{}"))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def _updated_dev(world: ReleaseWorld) -> None:
    world.push("v3-5a7147", NEW_BUILD)
    assert world.update_images().images_updated == 4
    assert auto_sync(
        config=str(world.config), cluster="dev", wait_timeout=90, return_state=True
    ).is_completed()
    assert world.image_of("dev", "echo-server").endswith(":v3-5a7147")


def _run_logs(run_id: Any, wanted: str) -> str:
    """The run's log text, once it holds ``wanted`` (logs reach the API in batches)."""
    deadline = time.monotonic() + 15
    while True:
        with get_client(sync_client=True) as client:
            logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
        text = "\n".join(log.message for log in logs)
        if wanted in text or time.monotonic() > deadline:
            return text
        time.sleep(0.5)


def _staging_history(world: ReleaseWorld) -> list[Any]:
    with world.engine() as engine:
        return list(engine.history(world.app("staging")))


def test_reject_at_the_staging_gate_leaves_staging_unchanged_and_notifies(
    tmp_path: Path,
    registry: RunningRegistry,
    sandbox: Sandbox,
    sandbox_tools: dict,
    prefect_harness: str,
    webhook: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = webhook
    block = f"ferry-gates-{tmp_path.name[-8:].lower().replace('_', '-')}"
    CustomWebhookNotificationBlock(
        name="ferry-gates",
        url=url,
        json_data={"subject": "{{subject}}", "body": "{{body}}"},
        allow_private_urls=True,
    ).save(block, overwrite=True)
    world = build_world(
        tmp_path,
        registry,
        sandbox,
        environments=("dev", "staging"),
        release={"notify": block, "ui_url": "http://127.0.0.1:4200"},
    )
    _updated_dev(world)
    before = world.image_of("staging")
    running = Background(lambda: release(app=world.app("dev"), config=str(world.config), return_state=True))
    run = paused_run(world.app("dev"), "verified-dev-*")
    answer(run, True)
    paused_run(world.app("dev"), "sync-staging-*")
    answer(run, False, "bob", "not today")
    state = running.result()

    assert state.type is StateType.CANCELLED, "a rejection is a decision, not a failure"
    assert "rejected at gate 'Sync staging?' by bob: not today" in str(state.message)
    assert world.image_of("staging") == before
    assert len(_staging_history(world)) == 1
    subjects = [r["subject"] for r in received]
    assert subjects == ["Ferry: Dev verified?", "Ferry: Sync staging?"]
    assert f"http://127.0.0.1:4200/runs/flow-run/{run.id}" in received[0]["body"]


def test_a_gate_that_times_out_ends_the_run_failed_with_nothing_synced(
    tmp_path: Path, registry: RunningRegistry, sandbox: Sandbox, sandbox_tools: dict, prefect_harness: str
) -> None:
    world = build_world(
        tmp_path, registry, sandbox, environments=("dev", "staging"), release={"gate_timeout": 3}
    )
    _updated_dev(world)
    before = world.image_of("staging")
    state = release(app=world.app("dev"), config=str(world.config), return_state=True)
    assert state.type is StateType.FAILED
    # Prefect fails the run itself when a pause expires; the gate's record says why, in an artifact
    # and in the run log.
    assert "timed out" in artifact("gate-verified-dev-", state.state_details.flow_run_id)
    wanted = "gate 'Dev verified?' timed out; nothing further was synced"
    assert wanted in _run_logs(state.state_details.flow_run_id, wanted)
    assert world.image_of("staging") == before
    assert len(_staging_history(world)) == 1


def test_resuming_a_gate_twice_deploys_once(
    tmp_path: Path, registry: RunningRegistry, sandbox: Sandbox, sandbox_tools: dict, prefect_harness: str
) -> None:
    world = build_world(tmp_path, registry, sandbox, environments=("dev", "staging"))
    _updated_dev(world)
    running = Background(lambda: release(app=world.app("dev"), config=str(world.config), return_state=True))
    run = paused_run(world.app("dev"), "verified-dev-*")
    answer(run, True)
    paused_run(world.app("dev"), "sync-staging-*")

    # Four approvers press Resume at the same moment.
    approvers = [f"approver-{i}" for i in range(4)]
    start = threading.Barrier(len(approvers))
    outcomes: dict[str, BaseException | None] = {}

    def resume(approver: str) -> None:
        start.wait(timeout=30)
        try:
            answer(run, True, approver)
            outcomes[approver] = None
        except Exception as exc:
            outcomes[approver] = exc

    threads = [threading.Thread(target=resume, args=(a,)) for a in approvers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    accepted = sorted(a for a, error in outcomes.items() if error is None)
    refused = {a: error for a, error in outcomes.items() if error is not None}
    assert len(outcomes) == len(approvers) and accepted, outcomes
    # A resume that lost the race is told so; it never deploys a second time.
    for error in refused.values():
        assert isinstance(error, NotPausedError | RuntimeError | PrefectHTTPStatusError), repr(error)
    with pytest.raises(NotPausedError):
        answer(run, True, "mallory")  # and once it runs again, nobody can resume it

    state = running.result()
    assert state.is_completed(), state.message
    history = _staging_history(world)
    assert len(history) == 2, "one sync for one approval"
    assert world.image_of("staging").endswith(":v3-5a7147")
    record = artifact("gate-sync-staging-", state.state_details.flow_run_id)
    assert [a for a in approvers if a in record] in ([a] for a in accepted), record
