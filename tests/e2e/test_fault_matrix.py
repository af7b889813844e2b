"""The fault matrix of issue 10, on the real servers: each cell ends in the right state or a clear error.

========================================  ===================  ==========================================
Fault                                     Where                Expected
========================================  ===================  ==========================================
token revoked before it expires (401)     registry (Bearer)    one fresh token, the read succeeds
registry stalls mid-body                  registry             RegistryUnavailable after retries; recovers
pre-receive hook refuses the push         git (file://)        names the hook; nothing pushed; re-run once
connection cut mid-push                   git http-backend     the retry pushes each commit exactly once
409 on apply (field manager conflict)     apiserver            names the field; live object kept
partial apply (quota after wave 0)        apiserver            names the object; no history; re-sync once
worker killed mid-sync                    apiserver + ferry    the next sync converges, one history entry
========================================  ===================  ==========================================

A git server that goes silent (clone, fetch, push) is ``tests/vcs/test_git_timeouts.py``.
A gate resumed twice and a suspended gate whose worker was killed are cells of the
release pipeline's own suite: ``tests/release/test_gates.py`` (resuming a gate twice
deploys once) and ``tests/release/test_deployments.py`` (a suspended gate resumes
correctly after its worker was killed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from ferry.config import load_config
from ferry.devenv.oci import push_image
from ferry.devenv.registry import start_registry
from ferry.devenv.seed import IMAGES, create_deploy_repo, write_seed
from ferry.errors import ClusterError, RegistryUnavailable
from ferry.registry import RegistryClient
from ferry.sandbox.cluster import Sandbox
from ferry.sync.engine import SyncEngine
from ferry.sync.model import HealthStatus, SyncStatus
from ferry.update.cycle import Updater
from ferry.update.outcomes import UpdateStatus
from tests.e2e.seedenv import NEW_BUILD, OLD_BUILD, build_seed
from tests.fixtures.git import BareRepo, BareRepoFactory, GitHttpServer
from tests.fixtures.registry import RunningRegistry
from tests.fixtures.tcp import FaultyTcpProxy
from tests.registry.servers import BearerGateway, StreamingServer
from tests.sync.world import PROJECT_ROOT, plain_app, write_world
from tests.waiting import wait_for

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
SEED_APPS = ("app-helm-dev", "app-helm-staging", "app-helm-production")


# -- registry ---------------------------------------------------------------------------------------------


@pytest.mark.registry
def test_registry_401_after_a_token_is_revoked_gets_one_fresh_token(
    registry: RunningRegistry, repository: str
) -> None:
    push_image(registry.url, repository, "v1", created=T0)
    with (
        BearerGateway(registry.url, {"bot": "pw"}, expires_in=3600) as gateway,
        RegistryClient(gateway.url, username="bot", password="pw") as client,
    ):
        assert client.list_tags(repository) == ["v1"]
        gateway.revoke_all()  # the token service forgot it long before its expiry
        push_image(registry.url, repository, "v2", created=T0)
        assert sorted(client.list_tags(repository)) == ["v1", "v2"]
    assert len(gateway.token_requests) == 2


@pytest.mark.registry
def test_registry_stalling_mid_body_is_unavailable_then_recovers(
    registry: RunningRegistry, repository: str
) -> None:
    push_image(registry.url, repository, "v1", created=T0)
    with (
        StreamingServer(b'{"name":"x","tags":["v', b"", 0, b'1"]}', stall=True) as stalled,
        RegistryClient(stalled.url, timeout=1.0, max_attempts=2) as client,
        pytest.raises(RegistryUnavailable, match="tags/list") as caught,
    ):
        client.list_tags(repository)
    assert stalled.requests == 2, "each attempt got half a body and timed out"
    assert "gave up after 2 attempts" in str(caught.value)
    with RegistryClient(registry.url, timeout=1.0, max_attempts=2) as client:
        assert client.list_tags(repository) == ["v1"]


# -- git --------------------------------------------------------------------------------------------------


def _commits_since(bare: Path, base: str) -> list[str]:
    out = subprocess.run(
        ["git", f"--git-dir={bare}", "log", "--format=%s", f"{base}..main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.splitlines()


@pytest.mark.registry
def test_git_push_refused_by_a_pre_receive_hook(tmp_path: Path, registry: RunningRegistry) -> None:
    seed = build_seed(tmp_path, registry)
    seed.remove_tag("v3-5a7147")
    seed.push("v3-5a7147", NEW_BUILD)
    hook = seed.bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'deploys are frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = seed.head()

    refused = seed.ferry("update", "--output", "json")

    assert refused.returncode == 1
    outcomes = {o["app"]: o for o in json.loads(refused.stdout)["applications"]}
    for app in SEED_APPS:
        assert outcomes[app]["status"] == "error"
        assert "pre-receive hook declined" in outcomes[app]["error"], outcomes[app]["error"]
    assert seed.head() == before, "nothing was pushed"

    hook.unlink()
    assert seed.ferry("update", "--output", "json").returncode == 0
    assert sorted(_commits_since(seed.bare, before)) == sorted(
        f"build: automatic update of {a}" for a in SEED_APPS
    )
    again = seed.ferry("update", "--output", "json")
    assert {o["status"] for o in json.loads(again.stdout)["applications"]} == {"unchanged"}
    assert len(_commits_since(seed.bare, before)) == 3, "no duplicate commit"


@pytest.fixture
def own_registry(tmp_path: Path) -> Iterator[RunningRegistry]:
    """A registry of this test alone: its newest build must not leak into the session's."""
    server = start_registry(tmp_path / "own-registry")
    try:
        yield server
    finally:
        server.stop()


@dataclass
class BehindProxy:
    """The seed config and a pushable deploy repo, reached through a proxy with Basic auth."""

    tmp_path: Path
    registry: RunningRegistry
    server: GitHttpServer
    repos: BareRepoFactory
    monkeypatch: pytest.MonkeyPatch

    def deploy_repo(self, name: str) -> Path:
        bare = self.repos.root / f"{name}.git"
        create_deploy_repo(bare, self.registry.host)
        subprocess.run(["git", f"--git-dir={bare}", "config", "http.receivepack", "true"], check=True)
        return bare

    def seed(self, proxy: FaultyTcpProxy, bare: Path) -> Path:
        server, registry = self.server, self.registry
        url = server.url_for(BareRepo(bare)).replace(str(server.port), str(proxy.port))
        self.monkeypatch.setenv("FERRY_TEST_GIT_CREDS", f"{server.username}:{server.password}")
        layout = write_seed(
            self.tmp_path / "config", repo_url=url, registry_prefix=registry.host, registry_api=registry.url
        )
        config_data = yaml.safe_load(layout.config.read_text())
        config_data["repositories"] = [{"url": url, "credentials": "env:FERRY_TEST_GIT_CREDS"}]
        layout.config.write_text(yaml.safe_dump(config_data))
        return layout.config


@pytest.fixture
def behind(
    tmp_path: Path,
    own_registry: RunningRegistry,
    bare_repo: BareRepoFactory,
    git_http_server: GitHttpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> BehindProxy:
    return BehindProxy(tmp_path, own_registry, git_http_server, bare_repo, monkeypatch)


def _each_app_updated_once(report: Any, bare: Path, base: str) -> None:
    statuses = {o.app: o.status for o in report.outcomes}
    assert statuses == {app: UpdateStatus.UPDATED for app in SEED_APPS}, report.outcomes
    commits = _commits_since(bare, base)
    assert sorted(commits) == sorted(f"build: automatic update of {a}" for a in SEED_APPS), commits


@pytest.mark.registry
def test_git_connection_cut_mid_push_is_retried_and_pushes_each_commit_once(behind: BehindProxy) -> None:
    registry, git_http_server = behind.registry, behind.server
    bare = behind.deploy_repo("gitops-cut")
    with FaultyTcpProxy(
        ("127.0.0.1", git_http_server.port),
        mode="cut",
        cut_after=200,
        cut_marker=b"git-receive-pack HTTP",
        cuts=1,
    ) as proxy:
        config = behind.seed(proxy, bare)
        for alias_repo, _ in IMAGES.values():
            push_image(registry.url, alias_repo, "v1.0", created=OLD_BUILD)
            push_image(registry.url, alias_repo, "v3-cut", created=NEW_BUILD)
        base = BareRepo(bare).head()
        with Updater(load_config(config)) as updater:
            report = updater.run_cycle()
        assert proxy.cut_count == 1, "the first push was cut halfway"
    _each_app_updated_once(report, bare, base)


@pytest.mark.registry
def test_git_connection_cut_mid_fetch_is_retried_within_the_cycle(behind: BehindProxy) -> None:
    """CI saw a reset on the fetch before a push: one blink must not cost the apps their cycle."""
    registry, git_http_server = behind.registry, behind.server
    bare = behind.deploy_repo("gitops-fetchcut")
    with FaultyTcpProxy(("127.0.0.1", git_http_server.port), mode="forward") as proxy:
        config = behind.seed(proxy, bare)
        for alias_repo, _ in IMAGES.values():
            push_image(registry.url, alias_repo, "v1.0", created=OLD_BUILD)
        base = BareRepo(bare).head()
        # The first run clones (nothing new); from then on one upload-pack request is cut, so
        # what is cut in the second run is a fetch into the cached clone.
        with Updater(load_config(config)) as updater:
            assert {o.status for o in updater.run_cycle().outcomes} == {UpdateStatus.UNCHANGED}
        for alias_repo, _ in IMAGES.values():
            push_image(registry.url, alias_repo, "v3-fetchcut", created=NEW_BUILD)
        proxy.cut_after, proxy.cut_marker, proxy.cuts_left = 20, b"git-upload-pack HTTP", 1
        proxy.mode = "cut"
        with Updater(load_config(config)) as updater:
            report = updater.run_cycle()
        assert proxy.cut_count == 1, "one fetch was cut"
    _each_app_updated_once(report, bare, base)


# -- apiserver --------------------------------------------------------------------------------------------


def _world(
    tmp_path: Path, sandbox: Sandbox, bare_repo: BareRepoFactory, files: dict[str, str], **cluster: Any
) -> tuple[Any, str]:
    suffix = uuid.uuid4().hex[:6]
    repo = bare_repo(f"fault-{suffix}", files)
    name = f"fault-{suffix}"
    world = write_world(
        tmp_path, sandbox, repo, [plain_app(name, repo.url, sandbox.cluster("dev").server, name, "m")], suffix
    )
    if cluster:
        config = yaml.safe_load(world.config.read_text())
        for entry in config["clusters"]:
            entry.update(cluster)
        world.config.write_text(yaml.safe_dump(config))
    return world, name


@pytest.mark.cluster
def test_apply_conflict_409_names_the_field_and_keeps_the_live_object(
    tmp_path: Path, sandbox: Sandbox, bare_repo: BareRepoFactory, kube_client: Any
) -> None:
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: owned\ndata:\n  k: from-git\n"
    world, name = _world(tmp_path, sandbox, bare_repo, {"m/cm.yaml": cm}, force_conflicts=False)
    core = k8s.CoreV1Api(kube_client("dev"))
    core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_config_map(
        name, {"metadata": {"name": "owned"}, "data": {"k": "by-hand"}}, field_manager="kubectl"
    )
    with SyncEngine(load_config(world.config)) as engine:
        with pytest.raises(ClusterError, match="conflict") as caught:
            engine.sync(name)
        assert "data.k" in str(caught.value) or ".data.k" in str(caught.value)
        assert engine.history(name) == ()
    assert core.read_namespaced_config_map("owned", name).data == {"k": "by-hand"}


@pytest.mark.cluster
def test_partial_apply_names_the_refused_object_and_a_later_sync_converges(
    tmp_path: Path, sandbox: Sandbox, bare_repo: BareRepoFactory, kube_client: Any
) -> None:
    def service(svc: str, wave: int) -> str:
        return (
            f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {svc}\n  annotations:\n"
            f"    argocd.argoproj.io/sync-wave: '{wave}'\n"
            "spec:\n  ports: [{port: 80}]\n  selector: {app: x}\n"
        )

    world, name = _world(
        tmp_path, sandbox, bare_repo, {"m/a.yaml": service("first", 0), "m/b.yaml": service("second", 1)}
    )
    core = k8s.CoreV1Api(kube_client("dev"))
    core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_resource_quota(
        name, {"metadata": {"name": "one"}, "spec": {"hard": {"services": "1"}}}
    )
    # The quota admits nothing until the controller has counted the namespace.
    wait_for(
        lambda: (core.read_namespaced_resource_quota("one", name).status.used or {}).get("services") == "0",
        60,
        "quota status",
    )
    with SyncEngine(load_config(world.config)) as engine:
        # Each object alone passes the dry run; the second one exceeds the quota for real.
        with pytest.raises(ClusterError, match="second") as caught:
            engine.sync(name)
        assert "quota" in str(caught.value)
        assert [s.metadata.name for s in core.list_namespaced_service(name).items] == ["first"]
        assert engine.history(name) == ()
        assert engine.status(name).sync is SyncStatus.OUT_OF_SYNC
        core.patch_namespaced_resource_quota("one", name, {"spec": {"hard": {"services": "2"}}})
        wait_for(
            lambda: core.read_namespaced_resource_quota("one", name).status.hard.get("services") == "2",
            60,
            "quota",
        )
        result = engine.sync(name)
        assert result.diff.status is SyncStatus.OUT_OF_SYNC and engine.status(name).sync is SyncStatus.SYNCED
        assert len(engine.history(name)) == 1
    assert sorted(s.metadata.name for s in core.list_namespaced_service(name).items) == ["first", "second"]


@pytest.mark.cluster
def test_a_worker_killed_mid_sync_converges_on_the_next_sync(
    tmp_path: Path, sandbox: Sandbox, bare_repo: BareRepoFactory, kube_client: Any
) -> None:
    deployment = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations:\n"
        "    argocd.argoproj.io/sync-wave: '0'\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n"
        "  template:\n    metadata: {labels: {app: web}}\n    spec:\n"
        "      containers: [{name: c, image: r/web:v1}]\n"
        "      nodeSelector: {ferry.test/never: 'true'}\n"  # never scheduled: the sync waits for health
    )
    late = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: late\n  annotations:\n"
        "    argocd.argoproj.io/sync-wave: '1'\n"
    )
    world, name = _world(tmp_path, sandbox, bare_repo, {"m/web.yaml": deployment, "m/late.yaml": late})
    apps = k8s.AppsV1Api(kube_client("dev"))
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "ferry.cli", "sync", name, "--config", str(world.config)],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def applied() -> bool:
            try:
                apps.read_namespaced_deployment("web", name)
            except k8s.ApiException:
                return False
            return True

        wait_for(applied, 120, "the first wave to be applied")
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    # Heal the cause, then sync again as the next worker would.
    patched = deployment.replace("      nodeSelector: {ferry.test/never: 'true'}\n", "")
    world.commit({"m/web.yaml": patched}, "schedulable")
    with SyncEngine(load_config(world.config)) as engine:
        assert engine.history(name) == (), "the killed sync recorded nothing"
        result = engine.sync(name, wait_timeout=120)
        assert result.health is not None and result.health.status is HealthStatus.HEALTHY
        assert len(engine.history(name)) == 1
        assert engine.status(name).sync is SyncStatus.SYNCED
