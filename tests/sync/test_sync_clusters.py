"""The sync engine on the real sandbox clusters (apiserver, controllers, kwok) with real helm/kustomize."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from ferry.errors import ClusterError
from ferry.sandbox.cluster import Sandbox
from ferry.sync.model import HealthStatus, SyncStatus
from tests.fixtures.git import BareRepoFactory
from tests.sync.world import REGISTRY, World, override_file, plain_app, seed_world, write_world

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


@pytest.fixture
def suffix() -> str:
    return uuid.uuid4().hex[:6]


@pytest.fixture
def seed(tmp_path: Path, sandbox: Sandbox, sandbox_tools: dict[str, Path], suffix: str) -> World:
    return seed_world(tmp_path, sandbox, suffix)


def deployment_image(kube_client: Any, cluster: str, namespace: str, name: str) -> str | None:
    from kubernetes import client as k8s

    apps = k8s.AppsV1Api(kube_client(cluster))
    try:
        live = apps.read_namespaced_deployment(name, namespace)
    except k8s.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return str(live.spec.template.spec.containers[0].image)


def configmap_exists(kube_client: Any, cluster: str, namespace: str, name: str) -> bool:
    from kubernetes import client as k8s

    try:
        k8s.CoreV1Api(kube_client(cluster)).read_namespaced_config_map(name, namespace)
    except k8s.ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def test_seed_dev_syncs_new_tag_healthy_and_staging_production_stay_untouched(
    seed: World, kube_client: Any
) -> None:
    dev, staging, production = (seed.name(f"app-helm-{env}") for env in ("dev", "staging", "production"))
    seed.commit(
        {
            **override_file(dev, "v3-5a7147"),
            **override_file(staging, "v3-5a7147"),
            **override_file(production, "v3-5a7147"),
        },
        "build: update image tags",
    )
    with seed.engine() as engine:
        result, reason = engine.auto_sync(dev, wait_timeout=90)
        assert result is not None, reason
        assert result.health is not None and result.health.status is HealthStatus.HEALTHY, result.health
        for other in (staging, production):
            skipped, why = engine.auto_sync(other)
            assert skipped is None and "automated is not set" in why
            assert engine.status(other).sync is SyncStatus.OUT_OF_SYNC
        again, why_not = engine.auto_sync(dev)
        assert again is None and "already Synced" in why_not
    namespace = f"app-dev-{seed.suffix}"
    assert (
        deployment_image(kube_client, "dev", namespace, "echo-server")
        == f"{REGISTRY}/cidemo/echo-server:v3-5a7147"
    )
    assert deployment_image(kube_client, "staging", f"app-staging-{seed.suffix}", "echo-server") is None
    # Production renders the echo server as an Argo Rollout; its web server is a Deployment everywhere.
    prod = f"app-production-{seed.suffix}"
    assert deployment_image(kube_client, "production", prod, "echo-web-server") is None

    # The operator syncs Staging by hand, with the CLI.
    synced = seed.ferry("sync", staging, "--timeout", "90")
    assert synced.returncode == 0, synced.stderr
    assert "Healthy" in synced.stdout
    assert deployment_image(kube_client, "staging", f"app-staging-{seed.suffix}", "echo-server") == (
        f"{REGISTRY}/cidemo/echo-server:v3-5a7147"
    )
    listed = seed.ferry("apps", "-o", "json")
    rows = {row["name"]: row for row in yaml.safe_load(listed.stdout)}
    assert rows[staging]["status"] == "Synced" and rows[staging]["health"] == "Healthy"
    assert rows[production]["status"] == "OutOfSync"
    assert rows[dev]["status"] == "Synced"


def test_diff_of_a_changed_tag_and_two_syncs_leave_two_history_entries(seed: World) -> None:
    dev = seed.name("app-helm-dev")
    first_sha = seed.commit(override_file(dev, "v2.0"), "build: v2.0")
    first = seed.ferry("sync", dev)
    assert first.returncode == 0, first.stderr
    clean = seed.ferry("diff", dev)
    assert (clean.returncode, clean.stdout) == (0, "")

    second_sha = seed.commit(override_file(dev, "v3-5a7147"), "build: v3-5a7147")
    changed = seed.ferry("diff", dev)
    assert changed.returncode == 1, changed.stderr
    removed = [line for line in changed.stdout.splitlines() if line.startswith("-") and "image:" in line]
    added = [line for line in changed.stdout.splitlines() if line.startswith("+") and "image:" in line]
    assert removed == [
        f"-      - image: {REGISTRY}/cidemo/echo-server:v2.0",
        f"-      - image: {REGISTRY}/cidemo/echo-web-server:v2.0",
    ]
    assert added == [
        f"+      - image: {REGISTRY}/cidemo/echo-server:v3-5a7147",
        f"+      - image: {REGISTRY}/cidemo/echo-web-server:v3-5a7147",
    ]
    assert "===== apps/Deployment" in changed.stdout

    second = seed.ferry("sync", dev)
    assert second.returncode == 0, second.stderr
    with seed.engine() as engine:
        history = engine.history(dev)
    assert [(e.id, e.revision) for e in history] == [(1, first_sha), (2, second_sha)]
    assert f"{REGISTRY}/cidemo/echo-server:v3-5a7147" in history[1].images
    shown = seed.ferry("history", dev)
    assert shown.returncode == 0 and first_sha[:12] in shown.stdout and second_sha[:12] in shown.stdout


def test_prune_removes_a_deleted_resource_only_when_on(
    tmp_path: Path,
    sandbox: Sandbox,
    bare_repo: BareRepoFactory,
    kube_client: Any,
    suffix: str,
) -> None:
    def configmap(name: str) -> str:
        return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n"

    repo = bare_repo(
        f"plain-{suffix}", {"manifests/a.yaml": configmap("keep"), "manifests/b.yaml": configmap("gone")}
    )
    namespace, name = f"prune-{suffix}", f"plain-{suffix}"
    world = write_world(
        tmp_path,
        sandbox,
        repo,
        [plain_app(name, repo.url, sandbox.cluster("dev").server, namespace, "manifests")],
        suffix,
    )
    with world.engine() as engine:
        engine.sync(name)
        assert configmap_exists(kube_client, "dev", namespace, "gone")
        world.commit({"manifests/b.yaml": None}, "remove gone")
        kept = engine.sync(name)
        assert [(str(o.key), o.action) for o in kept.resources if o.key.name == "gone"] == [
            (f"ConfigMap {namespace}/gone", "prune-skipped")
        ]
        assert configmap_exists(kube_client, "dev", namespace, "gone")
        assert engine.diff(name).status is SyncStatus.OUT_OF_SYNC
        pruned = engine.sync(name, prune=True)
        assert [o.action for o in pruned.resources if o.key.name == "gone"] == ["pruned"]
        assert not configmap_exists(kube_client, "dev", namespace, "gone")
        assert configmap_exists(kube_client, "dev", namespace, "keep")
        assert engine.diff(name).status is SyncStatus.SYNCED


def test_rejected_resource_is_named_nothing_is_applied_and_app_is_out_of_sync(
    tmp_path: Path,
    sandbox: Sandbox,
    bare_repo: BareRepoFactory,
    kube_client: Any,
    suffix: str,
) -> None:
    good = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\ndata:\n  k: v\n"
    bad = (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: broken\nspec:\n  ports:\n  - port: 70000\n"
        "  selector:\n    app: x\n"
    )
    repo = bare_repo(f"bad-{suffix}", {"manifests/good.yaml": good, "manifests/bad.yaml": bad})
    namespace, name = f"bad-{suffix}", f"bad-{suffix}"
    world = write_world(
        tmp_path,
        sandbox,
        repo,
        [plain_app(name, repo.url, sandbox.cluster("dev").server, namespace, "manifests")],
        suffix,
    )
    with world.engine() as engine:
        with pytest.raises(ClusterError) as raised:
            engine.sync(name)
        assert f"Service {namespace}/broken" in str(raised.value)
        assert "70000" in str(raised.value)
        assert not configmap_exists(kube_client, "dev", namespace, "fine"), (
            "the dry run must stop the whole sync"
        )
        status = engine.status(name)
        assert status.sync is SyncStatus.OUT_OF_SYNC
        assert status.last_attempt is not None and not status.last_attempt.succeeded
    printed = world.ferry("diff", name)
    assert printed.returncode == 1 and "rejected by the server-side dry run" in printed.stdout


def test_kustomize_app_with_images_prefix_and_labels(
    tmp_path: Path,
    sandbox: Sandbox,
    sandbox_tools: dict,
    bare_repo: BareRepoFactory,
    kube_client: Any,
    suffix: str,
) -> None:
    deployment = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
"""
    repo = bare_repo(
        f"kust-{suffix}",
        {
            "base/deployment.yaml": deployment,
            "base/kustomization.yaml": "resources:\n- deployment.yaml\n",
            "overlays/dev/kustomization.yaml": "resources:\n- ../../base\n",
        },
    )
    namespace, name = f"kust-{suffix}", f"kust-{suffix}"
    app = plain_app(
        name,
        repo.url,
        sandbox.cluster("dev").server,
        namespace,
        "overlays/dev",
        source={
            "kustomize": {
                "images": [f"nginx={REGISTRY}/nginx:1.27"],
                "namePrefix": "dev-",
                "commonLabels": {"team": "ferry"},
            }
        },
    )
    world = write_world(tmp_path, sandbox, repo, [app], suffix)
    with world.engine() as engine:
        result = engine.sync(name, wait_timeout=90)
    assert result.health is not None and result.health.status is HealthStatus.HEALTHY
    assert deployment_image(kube_client, "dev", namespace, "dev-web") == f"{REGISTRY}/nginx:1.27"
    from kubernetes import client as k8s

    live = k8s.AppsV1Api(kube_client("dev")).read_namespaced_deployment("dev-web", namespace)
    assert live.metadata.labels["team"] == "ferry"


def test_plain_directory_app_recurse_include_exclude(
    tmp_path: Path,
    sandbox: Sandbox,
    bare_repo: BareRepoFactory,
    kube_client: Any,
    suffix: str,
) -> None:
    def configmap(name: str) -> str:
        return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n"

    repo = bare_repo(
        f"dir-{suffix}",
        {
            "manifests/top.yaml": configmap("top"),
            "manifests/nested/deep.yml": configmap("deep"),
            "manifests/nested/skip.yaml": configmap("skip"),
            "manifests/notes.txt": "not a manifest",
        },
    )
    namespace, name = f"dir-{suffix}", f"dir-{suffix}"
    app = plain_app(
        name,
        repo.url,
        sandbox.cluster("dev").server,
        namespace,
        "manifests",
        source={"directory": {"recurse": True, "exclude": "skip.yaml"}},
    )
    world = write_world(tmp_path, sandbox, repo, [app], suffix)
    with world.engine() as engine:
        result = engine.sync(name)
        assert sorted(o.key.name for o in result.resources) == ["deep", "top"]
        assert engine.diff(name).status is SyncStatus.SYNCED
    assert configmap_exists(kube_client, "dev", namespace, "deep")
    assert not configmap_exists(kube_client, "dev", namespace, "skip")


def test_kruise_rollout_status_patch_and_health_on_the_real_crd(
    tmp_path: Path, sandbox: Sandbox, bare_repo: BareRepoFactory, suffix: str, kube_client: Any
) -> None:
    rollout = (
        "apiVersion: rollouts.kruise.io/v1beta1\nkind: Rollout\nmetadata:\n  name: web\nspec:\n"
        "  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n"
    )
    repo = bare_repo(f"kruise-{suffix}", {"manifests/rollout.yaml": rollout})
    namespace, name = f"kruise-{suffix}", f"kruise-{suffix}"
    world = write_world(
        tmp_path,
        sandbox,
        repo,
        [plain_app(name, repo.url, sandbox.cluster("dev").server, namespace, "manifests")],
        suffix,
    )
    with world.engine() as engine:
        engine.sync(name)
        cluster = engine.connect(name)
        live = cluster.get("rollouts.kruise.io/v1beta1", "Rollout", "web", namespace)
        assert live is not None
        status = {
            "observedGeneration": live["metadata"]["generation"],
            "phase": "Progressing",
            "canaryStatus": {"currentStepIndex": 1, "currentStepState": "StepPaused"},
        }
        cluster.patch(
            "rollouts.kruise.io/v1beta1",
            "Rollout",
            "web",
            namespace,
            {"status": status},
            subresource="status",
        )
        # Read back through another client: the status subresource stored it, and a status write
        # is not a spec change (same generation).
        stored = _kruise_rollout(kube_client, namespace)
        assert stored["status"]["canaryStatus"] == status["canaryStatus"]
        assert stored["metadata"]["generation"] == live["metadata"]["generation"]
        assert engine.status(name).health.status is HealthStatus.SUSPENDED
        assert engine.diff(name).status is SyncStatus.SYNCED, "status changes are not drift"

        # The same patch on the main resource is ignored (the CRD has a status subresource), so
        # the write above went where the Kruise controller writes.
        cluster.patch(
            "rollouts.kruise.io/v1beta1", "Rollout", "web", namespace, {"status": {"phase": "Healthy"}}
        )
        assert _kruise_rollout(kube_client, namespace)["status"]["phase"] == "Progressing"
        cluster.patch(
            "rollouts.kruise.io/v1beta1",
            "Rollout",
            "web",
            namespace,
            {"status": {"phase": "Healthy", "canaryStatus": {"currentStepState": "Completed"}}},
            subresource="status",
        )
        assert engine.status(name).health.status is HealthStatus.HEALTHY


def _kruise_rollout(kube_client: Any, namespace: str) -> dict[str, Any]:
    from kubernetes import client as k8s

    api = k8s.CustomObjectsApi(kube_client("dev"))
    found = api.get_namespaced_custom_object("rollouts.kruise.io", "v1beta1", namespace, "rollouts", "web")
    return dict(found)
