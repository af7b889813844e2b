"""The ``ci_build`` flow under the Prefect test harness: artifacts, state messages, failure."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.ci.conftest import CiSetup

pytestmark = pytest.mark.usefixtures("buildah")


def _artifacts(key: str) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        return list(client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))))


def test_flow_builds_pushes_and_shows_the_digest(prefect_harness: str, ci_setup: CiSetup) -> None:
    from flows.ci_build import ci_build

    sha = ci_setup.source.release("v3")
    state = ci_build(config=str(ci_setup.write_config()), return_state=True)
    assert state.is_completed(), state.message
    rows = state.result()
    (row,) = rows
    assert row["status"] == "built" and row["image"].endswith(f"/cidemo/echo-server:v3-{sha[:6]}")
    assert row["digest"].startswith("sha256:")
    assert row["digest"] in (state.message or "")
    (log,) = [a for a in _artifacts("ci-build-log-echo-server") if row["digest"] in (a.data or "")]
    assert "Successfully tagged" in log.data or "Writing manifest" in log.data

    again = ci_build(config=str(ci_setup.write_config()), return_state=True)
    assert again.is_completed() and "nothing new to build" in (again.message or "")
    assert [r["status"] for r in again.result()] == ["up-to-date"]


def test_flow_fails_clearly_on_a_bad_dockerfile(prefect_harness: str, ci_setup: CiSetup) -> None:
    from flows.ci_build import ci_build

    sha = ci_setup.source.break_dockerfile()
    ci_setup.source.release("v7")
    state = ci_build(config=str(ci_setup.write_config()), return_state=True)
    assert state.is_failed()
    assert "1 build(s) failed" in (state.message or "") and f"v7-{sha[:6]}" in (state.message or "")
    logs = [a for a in _artifacts("ci-build-log-echo-server") if sha in (a.data or "")]
    assert logs and "Build failed" in logs[-1].data and "this-file-does-not-exist" in logs[-1].data
    tags = httpx.get(f"{ci_setup.registry.url}/v2/cidemo/echo-server/tags/list", timeout=5)
    assert tags.status_code == 404 or f"v7-{sha[:6]}" not in (tags.json().get("tags") or [])
