"""A release waits on a CRD object whose health only a user's Lua check (argocd-cm style) can tell."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ferry.devenv.registry import RunningRegistry
from ferry.devenv.seed import CHART_PATH
from ferry.sandbox.cluster import Sandbox
from ferry.sandbox.crds import custom_resource_definition, install_crds
from ferry.sync.apply import app_health
from ferry.sync.model import Health, HealthStatus
from flows.release import release
from tests.fixtures.git import BareRepo
from tests.release.kube import connect, set_status
from tests.release.world import Background, ReleaseWorld, answer, build_world, paused_run

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

WIDGET_API = "ferry-test.example.com/v1"
WIDGET_CHECK = """
hs = {status = "Progressing", message = "waiting for the widget controller"}
if obj.status ~= nil and obj.status.ready then
  hs.status = "Healthy"
  hs.message = "widget " .. obj.metadata.name .. " is ready"
end
return hs
"""
WIDGET_TEMPLATE = """apiVersion: ferry-test.example.com/v1
kind: Widget
metadata:
  name: gadget
spec:
  size: 3
"""


def widget_health(world: ReleaseWorld) -> Health | None:
    """The Widget's own verdict, as the sync engine computes it with the users' checks."""
    with world.engine() as engine:
        app = engine.application(world.app("dev"))
        cluster = engine.connect(app)
        manifests = engine.desired(app, engine.render(app))
        _, per_resource = app_health(cluster, manifests, engine.health_checks)
    return next(health for key, health in per_resource.items() if key.kind == "Widget")


def test_release_waits_for_a_crd_healthy_by_the_users_lua_check(
    tmp_path: Path, registry: RunningRegistry, sandbox: Sandbox, sandbox_tools: dict, prefect_harness: str
) -> None:
    with sandbox.cluster("dev").admin_api() as api:
        widget = custom_resource_definition(
            "ferry-test.example.com", "Widget", ("v1",), subresources={"status": {}}
        )
        install_crds(api, [widget])
    world = build_world(tmp_path, registry, sandbox, environments=("dev",), release={"dev_timeout": 4})
    # The team's argocd-cm, kept next to ferry.yaml, holds the check for its CRD.
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-cm", "namespace": "argocd"},
        "data": {"resource.customizations.health.ferry-test.example.com_Widget": WIDGET_CHECK},
    }
    (tmp_path / "argocd-cm.yaml").write_text(yaml.safe_dump(configmap))
    config = yaml.safe_load(world.config.read_text())
    config["argocd_cm"] = "argocd-cm.yaml"
    world.config.write_text(yaml.safe_dump(config, sort_keys=False))

    BareRepo(world.bare).commit({f"{CHART_PATH}/templates/widget.yaml": WIDGET_TEMPLATE}, "add a Widget")
    with world.engine() as engine:
        engine.sync(world.app("dev"))
        status = engine.status(world.app("dev"))
    assert status.health == Health(HealthStatus.PROGRESSING, "waiting for the widget controller")
    assert widget_health(world) == status.health

    # With the widget not ready, the release does not get past Dev.
    blocked = release(app=world.app("dev"), config=str(world.config), return_state=True)
    assert blocked.is_failed()
    assert "Progressing" in str(blocked.message)

    config["releases"][0]["dev_timeout"] = 120
    world.config.write_text(yaml.safe_dump(config, sort_keys=False))
    running = Background(lambda: release(app=world.app("dev"), config=str(world.config), return_state=True))
    dev = connect(sandbox, "dev")
    try:
        set_status(dev, WIDGET_API, "Widget", "gadget", world.namespace("dev"), {"ready": True})
    finally:
        dev.close()
    run = paused_run(world.app("dev"), "verified-dev-*")
    assert widget_health(world) == Health(HealthStatus.HEALTHY, "widget gadget is ready")
    answer(run, False, "alice", "enough")
    assert running.result().is_cancelled()
