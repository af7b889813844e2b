"""The sync flows under the Prefect test harness, against the real clusters (and the real registry for the
seed's write-back)."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, FlowRunFilter, FlowRunFilterId

import flows.image_update as image_update_flow
from ferry.config import load_config
from ferry.errors import ClusterUnavailable
from ferry.sandbox.cluster import Sandbox
from ferry.sync.engine import SyncEngine
from ferry.sync.model import AppDiff
from flows.sync import artifact_key, auto_sync, sync
from tasks.retry import RETRIES
from tasks.sync import sync_app
from tests.e2e.seedenv import NEW_BUILD, build_seed
from tests.fixtures.git import BareRepoFactory
from tests.fixtures.registry import RunningRegistry
from tests.sync.test_sync_clusters import configmap_exists, deployment_image
from tests.sync.world import (
    override_file,
    plain_app,
    seed_world,
    start_apiserver,
    stop_apiserver,
    write_world,
)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


@flow
def sync_with_outage(config: str, app: str, cluster: str, state_root: str) -> dict[str, Any]:
    """The sync task, with the cluster's API server stopped between the dry run and the apply."""
    from ferry.sandbox.cluster import load

    def stop_once(diff: AppDiff) -> None:
        target = next(c for c in load(Path(state_root)) if c.name == cluster)
        if all(target.running().values()):
            stop_apiserver(target)

    with SyncEngine(load_config(Path(config))) as engine:
        return sync_app(engine, app, on_diff=stop_once).as_dict()


def test_apiserver_stopped_mid_sync_retries_then_fails_and_a_rerun_converges(
    tmp_path: Path, sandbox: Sandbox, sandbox_tools: dict, prefect_harness: str, kube_client: Any
) -> None:
    world = seed_world(tmp_path, sandbox, uuid.uuid4().hex[:6])
    app = world.name("app-helm-staging")
    world.commit(override_file(app, "v3-5a7147"))
    state = sync_with_outage(str(world.config), app, "staging", str(sandbox.state_root), return_state=True)
    try:
        assert state.is_failed()
        with pytest.raises(ClusterUnavailable) as raised:
            state.result()
        assert "cluster staging" in str(raised.value) and "unreachable" in str(raised.value)
        with get_client(sync_client=True) as client:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
            )
        assert [r.run_count for r in runs if r.name.startswith("sync ")] == [RETRIES + 1]
    finally:
        start_apiserver(sandbox.cluster("staging"))

    result = sync(app=app, config=str(world.config), wait_timeout=90)
    assert result["health"] == "Healthy"
    assert result["history_id"] == 1
    assert deployment_image(kube_client, "staging", f"app-staging-{world.suffix}", "echo-server").endswith(
        ":v3-5a7147"
    )
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[artifact_key(app)]))
        )
    assert artifacts and "v3-5a7147" in str(artifacts[0].data)


def test_seed_write_back_event_then_dev_is_synced_automatically(
    tmp_path: Path,
    registry: RunningRegistry,
    sandbox: Sandbox,
    sandbox_tools: dict,
    prefect_harness: str,
    kube_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed = build_seed(tmp_path, registry)
    seed.remove_tag("v3-5a7147")
    apps_file = next(seed.layout.applications.glob("*.yaml"))
    apps = list(yaml.safe_load_all(apps_file.read_text()))
    # Its own names: the shared clusters also hold the deployed system's seed apps (app-helm-dev
    # in app-dev), and an app sees every object carrying its name's tracking id as its own.
    sfx = secrets.token_hex(3)
    for app in apps:
        env = app["metadata"]["name"].removeprefix("app-helm-")
        app["metadata"]["name"] = f"app-helm-{env}-{sfx}"
        app["spec"]["destination"]["namespace"] = f"app-{env}-{sfx}"
        app["spec"]["destination"]["server"] = sandbox.cluster(env).server
    apps_file.write_text(yaml.safe_dump_all(apps, sort_keys=False))
    config = yaml.safe_load(seed.layout.config.read_text())
    config["clusters"] = [
        {"name": c.name, "server": c.server, "kubeconfig": str(sandbox.kubeconfig), "context": c.context}
        for c in sandbox.clusters
    ]
    seed.layout.config.write_text(yaml.safe_dump(config, sort_keys=False))

    emitted: list[dict[str, Any]] = []
    real_emit = image_update_flow.emit_event

    def recording_emit(**kwargs: Any) -> Any:
        emitted.append(kwargs)
        return real_emit(**kwargs)

    monkeypatch.setattr(image_update_flow, "emit_event", recording_emit)
    seed.push("v3-5a7147", NEW_BUILD)
    assert image_update_flow.image_update(config=str(seed.layout.config), return_state=True).is_completed()
    assert {e["event"] for e in emitted} == {"ferry.image.updated"}
    assert sorted(e["payload"]["application"] for e in emitted) == [
        f"app-helm-dev-{sfx}",
        f"app-helm-production-{sfx}",
        f"app-helm-staging-{sfx}",
    ]

    # What the sync-dev deployment's trigger runs on that event.
    state = auto_sync(config=str(seed.layout.config), cluster="dev", wait_timeout=90, return_state=True)
    assert state.is_completed(), state.message
    rows = state.result()
    assert [(r["app"], r["synced"], r["health"]) for r in rows] == [(f"app-helm-dev-{sfx}", True, "Healthy")]
    image = deployment_image(kube_client, "dev", f"app-dev-{sfx}", "echo-server")
    assert image == f"{registry.host}/cidemo/echo-server:v3-5a7147"
    assert deployment_image(kube_client, "staging", f"app-staging-{sfx}", "echo-server") is None
    # Production renders the echo server as an Argo Rollout; its web server is a Deployment everywhere.
    assert deployment_image(kube_client, "production", f"app-production-{sfx}", "echo-web-server") is None
    # All three apps are listed by the flow over every cluster, but only automated ones sync.
    everywhere = auto_sync(config=str(seed.layout.config), return_state=True).result()
    assert [(r["app"], r["synced"]) for r in everywhere] == [(f"app-helm-dev-{sfx}", False)]
    with SyncEngine(load_config(seed.layout.config)) as engine:
        assert engine.status(f"app-helm-staging-{sfx}").sync.value == "OutOfSync"
        assert engine.status(f"app-helm-production-{sfx}").sync.value == "OutOfSync"


def test_cluster_from_a_kubernetes_cluster_config_block(
    tmp_path: Path, sandbox: Sandbox, prefect_harness: str, bare_repo: BareRepoFactory, kube_client: Any
) -> None:
    from prefect_kubernetes.credentials import KubernetesClusterConfig

    suffix = uuid.uuid4().hex[:6]
    KubernetesClusterConfig.from_file(sandbox.kubeconfig, context_name="production").save(
        f"production-{suffix}", overwrite=True
    )
    repo = bare_repo(
        f"blk-{suffix}", {"manifests/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"}
    )
    app = plain_app(f"blk-{suffix}", repo.url, "https://production.example", f"blk-{suffix}", "manifests")
    world = write_world(tmp_path, sandbox, repo, [app], suffix)
    config = yaml.safe_load(world.config.read_text())
    config["clusters"] = [
        {"name": "production", "server": "https://production.example", "block": f"production-{suffix}"}
    ]
    world.config.write_text(yaml.safe_dump(config))
    result = sync(app=app["metadata"]["name"], config=str(world.config), wait_timeout=0)
    assert [r["action"] for r in result["resources"]] == ["created"]
    assert configmap_exists(kube_client, "production", f"blk-{suffix}", "c")
