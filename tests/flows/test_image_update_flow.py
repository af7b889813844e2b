"""The image_update flow under the Prefect harness: results per app, artifact, events, isolation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import anyio
import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.events.clients import AssertingEventsClient
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker

from ferry.devenv.seed import application
from flows.image_update import image_update
from tests.e2e.seedenv import NEW_BUILD, build_seed
from tests.fixtures.registry import RunningRegistry

pytestmark = pytest.mark.registry

ENVS = ("dev", "staging", "production")


@pytest.fixture
def captured_events(prefect_harness: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[EventsWorker]:
    """Capture emitted events in memory with Prefect's own asserting client."""
    worker = EventsWorker.instance(AssertingEventsClient)
    monkeypatch.setattr(EventsWorker, "instance", lambda *_: worker)
    yield worker
    worker.drain()


def emitted(worker: EventsWorker, name: str) -> list[Any]:
    worker.drain()
    return [e for e in worker._client.events if e.event == name]  # type: ignore[attr-defined]


async def _artifact(key: str, flow_run_id: UUID) -> Any:
    """The artifact ``key`` of one flow run (the harness is shared, so filter by run)."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[key]), flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])
            )
        )
    assert len(found) == 1
    return found[0]


def test_flow_reports_each_app_emits_events_and_publishes_artifact(
    tmp_path: Path, registry: RunningRegistry, prefect_harness: str, captured_events: EventsWorker
) -> None:
    seed = build_seed(tmp_path, registry)
    seed.remove_tag("v3-5a7147")
    broken = application("dev", seed.layout.repo_url, registry.host, "https://127.0.0.1/dev")
    broken["metadata"]["name"] = "broken"  # type: ignore[index]
    broken["metadata"]["annotations"]["argocd-image-updater.argoproj.io/echoserver.update-strategy"] = "bogus"  # type: ignore[index]
    (seed.layout.applications / "broken.yaml").write_text(yaml.safe_dump(broken))
    seed.push("v3-5a7147", NEW_BUILD)

    state = image_update(config=str(seed.layout.config), return_state=True)

    assert state.is_failed(), "one application failed, so the run is Failed — after the others were updated"
    results = {r["app"]: r for r in state.result(raise_on_failure=False)}
    assert results["broken"]["status"] == "error" and "bogus" in results["broken"]["error"]
    assert {results[f"app-helm-{e}"]["status"] for e in ("dev", "staging", "production")} == {"updated"}

    updated = emitted(captured_events, "ferry.image.updated")
    assert sorted(e.resource.id for e in updated) == [
        "ferry.application.app-helm-dev",
        "ferry.application.app-helm-production",
        "ferry.application.app-helm-staging",
    ]
    dev = next(e for e in updated if e.resource.id.endswith("dev"))
    assert dev.payload["commit"] == results["app-helm-dev"]["commit"]
    assert [i["new_tag"] for i in dev.payload["images"]] == ["v3-5a7147", "v3-5a7147"]

    artifact = anyio.run(_artifact, "image-updates", state.state_details.flow_run_id)
    rows = json.loads(artifact.data)  # a table artifact's data reads back as a JSON string
    assert {(r["app"], r["new"]) for r in rows if r["status"] == "updated"} >= {("app-helm-dev", "v3-5a7147")}
    assert any(r["app"] == "broken" and r["status"] == "error" for r in rows)

    # Detection is one task for the repository revision all four apps read; the broken
    # app's error is permanent, so no per-app task retried it (ferry.update.batch).
    # Task runs reach the server as events; the fixture keeps them in memory.
    captured_events.drain()
    names = sorted(
        {
            e.resource["prefect.resource.name"]
            for e in captured_events._client.events  # type: ignore[attr-defined]
            if e.event in ("prefect.task-run.Completed", "prefect.task-run.Failed")
        }
    )
    assert names == [f"detect 4 apps in {seed.layout.repo_url}@main", f"write back to {seed.layout.repo_url}"]
    assert len(rows) >= 4 and {r["app"] for r in rows} == {"broken", *(f"app-helm-{e}" for e in ENVS)}

    # The core's own log lines reach the run's log in the UI, not only the console.
    APILogWorker.drain_all()
    with get_client(sync_client=True) as client:
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[state.state_details.flow_run_id]))
        )
    messages = [entry.message for entry in logs]
    assert any(m.startswith("Successfully updated image") for m in messages), messages[:20]
    assert any(
        m.startswith("Committing 2 parameter update(s) for application app-helm-dev") for m in messages
    )
