"""Sync from listed state on a real cluster: what is in sync costs no dry run and no GET, drift still shows.

The calls are counted by wrapping the client's methods (the requests still go to
the API server), so an in-sync diff is seen to be made from the labelled LISTs
alone, and each kind of change is seen to reach the dry run and the apply.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ferry.sync.engine import SyncEngine
from ferry.sync.kube import KubeCluster
from ferry.sync.model import SyncStatus
from ferry.sync.plan import APP_LABEL
from tests.fixtures.git import BareRepoFactory
from tests.sync.world import World, plain_app, write_world

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

CONFIGMAP = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  colour: blue\n  size: large\n"
)
SECRET = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: token\nstringData:\n  token: s3cr3t\n"
SERVICE = (
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n"
    "  ports:\n  - port: 80\n    targetPort: 8080\n"
)
DEPLOYMENT = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n"
    "  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n"
    "        app: web\n    spec:\n      containers:\n      - name: c\n        image: registry.test/web:1\n"
)
FILES = {
    "manifests/configmap.yaml": CONFIGMAP,
    "manifests/secret.yaml": SECRET,
    "manifests/service.yaml": SERVICE,
    "manifests/deployment.yaml": DEPLOYMENT,
}


@dataclass
class Calls:
    """The client calls made while counting: GETs by (kind, name), applies by (kind, name, dry run)."""

    gets: list[tuple[str, str]] = field(default_factory=list)
    applies: list[tuple[str, str, bool]] = field(default_factory=list)

    def clear(self) -> None:
        self.gets.clear()
        self.applies.clear()

    def resource_gets(self) -> list[tuple[str, str]]:
        """GETs of the app's own objects (the history ConfigMap and the namespace are per app)."""
        return [(kind, name) for kind, name in self.gets if (kind, name) in APP_OBJECTS]

    def dry_runs(self) -> list[tuple[str, str]]:
        return [(kind, name) for kind, name, dry in self.applies if dry]

    def real_applies(self) -> list[tuple[str, str]]:
        return [(kind, name) for kind, name, dry in self.applies if not dry]


APP_OBJECTS = {("ConfigMap", "settings"), ("Secret", "token"), ("Service", "web"), ("Deployment", "web")}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    seen = Calls()
    get, apply = KubeCluster.get, KubeCluster.apply

    def counting_get(self: KubeCluster, api_version: str, kind: str, name: str, namespace: str | None) -> Any:
        seen.gets.append((kind, name))
        return get(self, api_version, kind, name, namespace)

    def counting_apply(self: KubeCluster, manifest: dict[str, Any], **kwargs: Any) -> Any:
        seen.applies.append((manifest["kind"], manifest["metadata"]["name"], bool(kwargs.get("dry_run"))))
        return apply(self, manifest, **kwargs)

    monkeypatch.setattr(KubeCluster, "get", counting_get)
    monkeypatch.setattr(KubeCluster, "apply", counting_apply)
    yield seen


@dataclass
class Synced:
    """An app synced once, with its engine (open for the test) and its cluster's client."""

    scenario: World
    name: str
    engine: SyncEngine
    cluster: KubeCluster

    @property
    def namespace(self) -> str:
        return self.name  # the app syncs into a namespace of its own name


@pytest.fixture
def synced(tmp_path: Path, sandbox: Any, bare_repo: BareRepoFactory) -> Iterator[Synced]:
    suffix = uuid.uuid4().hex[:6]
    name = f"listed-{suffix}"
    repo = bare_repo(name, FILES)
    app = plain_app(name, repo.url, sandbox.cluster("dev").server, name, "manifests")
    scenario = write_world(tmp_path, sandbox, repo, [app], suffix)
    with scenario.engine() as engine:
        engine.sync(name)
        yield Synced(scenario, name, engine, engine.connect(name))


def test_in_sync_diff_and_sync_make_no_dry_run_and_no_get_and_still_write_history(
    synced: Synced, calls: Calls
) -> None:
    engine, name = synced.engine, synced.name
    calls.clear()
    diff = engine.diff(name)
    assert diff.status is SyncStatus.SYNCED, diff.unified()
    assert calls.dry_runs() == [], "an in-sync diff is made from the listed state"
    assert calls.resource_gets() == [], "the labelled LISTs hold every object"
    before = len(engine.history(name))
    calls.clear()
    result = engine.sync(name)
    assert calls.applies == [], "nothing differs, so nothing is dry-run or applied"
    assert calls.resource_gets() == []
    assert {o.action for o in result.resources} == {"unchanged"}, result.resources
    assert len(engine.history(name)) == before + 1, "an unchanged sync is recorded in the history"
    assert result.history_id == engine.history(name)[-1].id


def test_a_third_party_edit_of_a_managed_field_is_drift_and_is_reverted(synced: Synced, calls: Calls) -> None:
    engine, name, cluster = synced.engine, synced.name, synced.cluster
    # Another field manager, as `kubectl edit` or a controller would be.
    metadata = {"name": "settings", "namespace": synced.namespace}
    edit = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"colour": "red"}}
    cluster.apply(edit, field_manager="kubectl-edit", force=True)
    calls.clear()
    diff = engine.diff(name)
    assert [str(r.key) for r in diff.out_of_sync] == [f"ConfigMap {synced.namespace}/settings"], (
        diff.unified()
    )
    assert calls.dry_runs() == [("ConfigMap", "settings")], "only the drifted object is dry-run"
    assert "-  colour: red\n+  colour: blue" in diff.unified()
    engine.sync(name)
    live = cluster.get("v1", "ConfigMap", "settings", synced.namespace)
    assert live is not None and live["data"]["colour"] == "blue"
    assert engine.diff(name).status is SyncStatus.SYNCED


def test_a_field_removed_from_git_is_detected_and_removed_by_the_sync(synced: Synced) -> None:
    engine, name = synced.engine, synced.name
    # The live object still holds every field of the new manifest: only the hash tells.
    synced.scenario.commit({"manifests/configmap.yaml": CONFIGMAP.replace("  size: large\n", "")})
    diff = engine.diff(name)
    assert [r.key.kind for r in diff.out_of_sync] == ["ConfigMap"], diff.unified()
    assert "-  size: large" in diff.unified()
    engine.sync(name)
    live = synced.cluster.get("v1", "ConfigMap", "settings", synced.namespace)
    assert live is not None and live["data"] == {"colour": "blue"}
    assert engine.diff(name).status is SyncStatus.SYNCED


def test_a_deleted_live_object_is_recreated(synced: Synced) -> None:
    engine, name, cluster = synced.engine, synced.name, synced.cluster
    assert cluster.delete("v1", "Service", "web", synced.namespace)
    diff = engine.diff(name)
    missing = list(diff.out_of_sync)
    assert [(r.key.kind, r.action) for r in missing] == [("Service", "create")], diff.unified()
    assert missing[0].desired is not None, "the diff shows what the sync will create"
    result = engine.sync(name)
    assert [o.action for o in result.resources if o.key.kind == "Service"] == ["created"]
    assert cluster.get("v1", "Service", "web", synced.namespace) is not None
    assert engine.diff(name).status is SyncStatus.SYNCED


def test_an_object_that_lost_its_label_is_fetched_and_relabelled(synced: Synced, calls: Calls) -> None:
    engine, name, cluster = synced.engine, synced.name, synced.cluster
    cluster.patch("v1", "Secret", "token", synced.namespace, {"metadata": {"labels": {APP_LABEL: None}}})
    calls.clear()
    diff = engine.diff(name)
    assert [(r.key.kind, r.action) for r in diff.out_of_sync] == [("Secret", "update")], diff.unified()
    assert calls.resource_gets() == [("Secret", "token")], "only what the LISTs missed is fetched"
    engine.sync(name)
    live = cluster.get("v1", "Secret", "token", synced.namespace)
    assert live is not None and live["metadata"]["labels"][APP_LABEL] == name
