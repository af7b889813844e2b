"""The deployments of ``prefect.yaml`` as ``prefect --no-prompt deploy --all`` registers them, read back
through the REST API of a real ``prefect server start`` (the session's deployed system)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ferry.devenv.system import POOL, System

# The session's deployed system takes minutes to come up on a loaded machine (the first test that
# asks for it pays), and every gate of a release is a new Python process.
pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(1800)]
PROJECT = Path(__file__).resolve().parents[2]
DEPLOYMENTS = {
    "image-updater",
    "sync-dev",
    "ci-build",
    "release",
    "promote-staging",
    "promote-production",
    "rollback",
    "sync",
}
PERIODIC = {"image-updater": 120, "sync-dev": 180, "ci-build": 180}


def test_deploy_all_registers_every_deployment_with_its_schedules_triggers_and_worker(
    deployed_system: System,
) -> None:
    with deployed_system.api() as api:
        deployments = {d["name"]: d for d in api.deployments()}
        automations = api.automations()
        workers = api.workers(POOL)
    assert DEPLOYMENTS <= set(deployments)
    for name, interval in PERIODIC.items():
        schedules = deployments[name]["schedules"]
        assert [s["schedule"]["interval"] for s in schedules if s["active"]] == [interval], name
    for name in DEPLOYMENTS - set(PERIODIC):
        assert not deployments[name]["schedules"], f"{name} runs only when triggered or by hand"
    release = deployments["release"]
    assert release["entrypoint"] == "flows/release.py:release" and release["work_pool_name"] == POOL
    assert release["parameters"]["suspend"] is True
    assert release["parameters"]["config"] == str(deployed_system.config), "FERRY_CONFIG at deploy time"
    assert deployments["promote-production"]["parameters"]["app"] == "app-helm-production"

    def triggers_of(name: str) -> list[dict[str, object]]:
        wanted = deployments[name]["id"]
        return [
            a for a in automations if any(action.get("deployment_id") == wanted for action in a["actions"])
        ]

    (release_trigger,) = triggers_of("release")
    assert release_trigger["trigger"]["expect"] == ["ferry.image.updated"]
    assert release_trigger["trigger"]["match"]["ferry.release.environment"] == "dev"
    assert "event.payload.application" in json.dumps(release_trigger["actions"][0]["parameters"]["app"])
    assert [t["trigger"]["expect"] for t in triggers_of("ci-build")] == [["ferry.source.pushed"]]
    assert [t["trigger"]["expect"] for t in triggers_of("image-updater")] == [["ferry.image.pushed"]]
    (sync_dev,) = triggers_of("sync-dev")
    assert sync_dev["trigger"]["match"]["ferry.cluster"] == "dev"
    assert [w["name"] for w in workers if w.get("last_heartbeat_time")], "a worker has polled the pool"


def test_the_release_trigger_is_a_write_back_to_a_release_dev_app() -> None:
    spec = yaml.safe_load((PROJECT / "prefect.yaml").read_text())
    release = next(d for d in spec["deployments"] if d["name"] == "release")
    (trigger,) = release["triggers"]
    assert trigger["expect"] == ["ferry.image.updated"]
    assert trigger["match"] == {
        "prefect.resource.id": "ferry.application.*",
        "ferry.release.environment": "dev",
    }
    assert trigger["parameters"]["app"] == "{{ event.payload.application }}"
    assert trigger["parameters"]["images"] == "{{ event.payload.images }}"
