"""The seed's own deploy repo (ivan-cai/gitops-demo) and its three Applications, end to end.

Ground truth is what the real Image Updater committed there: ``a3d65e3`` (app-helm-dev),
``f8fed22`` (staging) and ``94cac33`` (production) each add
``.argocd-source-app-helm-<env>.yaml`` with the bytes of :data:`UPSTREAM_FILE` and the message
of :data:`UPSTREAM_MESSAGE`. The Applications are the seed's, unmodified but for ``repoURL`` and
the destination servers; the registry host they name is mapped to a loopback registry through
``registries:``. The chart is an equivalent written for Ferry (see ``gitops_demo/README.md``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from string import Template
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

from ferry.config import load_config
from ferry.devenv.oci import push_image
from ferry.devenv.registry import RunningRegistry, start_registry
from ferry.devenv.seed import create_repo
from ferry.errors import FerryError
from ferry.sandbox.cluster import Sandbox
from ferry.sandbox.crds import custom_resource_definition, install_crds
from ferry.sync.engine import SyncEngine
from ferry.sync.model import HealthStatus, SyncStatus
from ferry.update.cycle import Updater
from ferry.update.outcomes import UpdateStatus
from flows.image_update import image_update

pytestmark = [pytest.mark.cluster, pytest.mark.registry, pytest.mark.slow]

HERE = Path(__file__).parent / "gitops_demo"
HOST = "demo-test-registry.cn-hangzhou.cr.aliyuncs.com"
CHART = "manifests/helm/echo-server"
ENVS = {"dev": "stable-example", "staging": "stable-example", "production": "test2"}
OLD, V21, WEB21 = (
    datetime(2023, 8, 1, tzinfo=UTC),
    datetime(2023, 8, 29, 3, 0, tzinfo=UTC),
    datetime(2023, 8, 29, 4, 0, tzinfo=UTC),
)

# git cat-file -p a3d65e3:manifests/helm/echo-server/.argocd-source-app-helm-dev.yaml (and f8fed22, 94cac33).
UPSTREAM_FILE = f"""\
helm:
  parameters:
  - name: image.echoServer.repository
    value: {HOST}/cidemo/echo-server
    forcestring: true
  - name: image.echoServer.tag
    value: v2.1
    forcestring: true
  - name: image.echoWebServer.repository
    value: {HOST}/cidemo/echo-web-server
    forcestring: true
  - name: image.echoWebServer.tag
    value: v1.0
    forcestring: true
"""
UPSTREAM_MESSAGE = (
    "build: automatic update of app-helm-{env}\n\nupdates image cidemo/echo-server tag 'v1.0' to 'v2.1'\n"
)


@pytest.fixture(scope="module")
def demo_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    """A registry of its own: the seed's image names must hold exactly the tags this test pushes."""
    server = start_registry(tmp_path_factory.mktemp("gitops-demo-registry"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def seed_namespaces(sandbox: Sandbox) -> Iterator[None]:
    """Delete the seed's own namespaces (``app-helm-<env>``) from the shared clusters afterwards.

    This test keeps the seed's app names, because the upstream files and messages it compares
    name them; what it syncs carries their tracking ids. Left behind, Dev's would be pruning
    work of any later ``app-helm-dev`` (the deployed system's), which would never be Synced.
    """
    yield
    clients = {
        env: k8s_config.new_client_from_config(
            config_file=str(sandbox.kubeconfig), context=sandbox.context(env)
        )
        for env in ENVS
    }
    try:
        for env, api_client in clients.items():
            try:
                k8s_client.CoreV1Api(api_client).delete_namespace(f"app-helm-{env}")
            except ApiException as exc:
                if exc.status != 404:
                    raise
        deadline = time.monotonic() + 120
        for env, api_client in clients.items():
            core = k8s_client.CoreV1Api(api_client)
            while [n for n in core.list_namespace().items if n.metadata.name == f"app-helm-{env}"]:
                assert time.monotonic() < deadline, f"namespace app-helm-{env} was not deleted in 120 s"
                time.sleep(0.5)
    finally:
        for api_client in clients.values():
            api_client.close()


def external_secret_crd() -> dict[str, Any]:
    return custom_resource_definition("alibabacloud.com", "ExternalSecret", ("v1alpha1",))


def _deploy_repo(root: Path) -> tuple[Path, str]:
    files = {
        f"{CHART}/{p.relative_to(HERE / 'chart')}": p.read_text()
        for p in (HERE / "chart").rglob("*")
        if p.is_file()
    }
    bare = root / "gitops-demo.git"
    url = create_repo(bare, files, branch="stable-example", message="echo-server chart")
    subprocess.run(["git", f"--git-dir={bare}", "branch", "test2", "stable-example"], check=True)
    return bare, url


def _write_config(root: Path, url: str, registry: RunningRegistry, sandbox: Sandbox) -> Path:
    servers = {f"{env.upper()}_SERVER": sandbox.cluster(env).server for env in ENVS}
    text = Template((HERE / "applications.yaml").read_text()).substitute(REPO_URL=url, **servers)
    (root / "applications").mkdir()
    (root / "applications" / "apps.yaml").write_text(text)
    config = {
        "applications": "applications",
        "registries": [
            {"name": "acr", "prefix": HOST, "api_url": registry.url, "insecure": True, "default": True}
        ],
        "repositories": [{"url": url}],
        "cache_dir": str(root / "cache"),
        "clusters": [
            {"name": c.name, "server": c.server, "kubeconfig": str(sandbox.kubeconfig), "context": c.context}
            for c in sandbox.clusters
        ],
    }
    (root / "ferry.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root / "ferry.yaml"


def _git(bare: Path, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={bare}", *args], check=True, capture_output=True, text=True
    ).stdout


def _artifact_rows(state: Any) -> list[dict[str, str]]:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["image-updates"]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
            )
        )
    assert found, "no image-updates artifact"
    data = found[0].data
    return list(json.loads(data) if isinstance(data, str) else data)


def test_seed_deploy_repo_end_to_end(
    tmp_path: Path,
    demo_registry: RunningRegistry,
    sandbox: Sandbox,
    sandbox_tools: dict,
    prefect_harness: str,
    seed_namespaces: None,
) -> None:
    bare, url = _deploy_repo(tmp_path)
    config = _write_config(tmp_path, url, demo_registry, sandbox)
    for env in ("dev", "staging"):
        with sandbox.cluster(env).admin_api() as api:
            install_crds(api, [external_secret_crd()])
    push_image(demo_registry.url, "cidemo/echo-server", "v1.0", created=OLD)
    push_image(demo_registry.url, "cidemo/echo-server", "v2.1", created=V21)
    push_image(demo_registry.url, "cidemo/echo-web-server", "v1.0", created=OLD)
    heads = {branch: _git(bare, "rev-parse", branch).strip() for branch in set(ENVS.values())}

    # 1. What the real Image Updater committed: the same files and messages, byte for byte.
    first = image_update(config=str(config), return_state=True)
    assert first.is_completed(), first.message
    outcomes = {o["app"]: o for o in first.result()}
    for env, branch in ENVS.items():
        app = f"app-helm-{env}"
        assert outcomes[app]["status"] == "updated" and outcomes[app]["warnings"] == [], outcomes[app]
        sha = outcomes[app]["commit"]
        assert _git(bare, "show", f"{sha}:{CHART}/.argocd-source-{app}.yaml") == UPSTREAM_FILE
        assert _git(bare, "cat-file", "commit", sha).split("\n\n", 1)[1] == UPSTREAM_MESSAGE.format(env=env)
        assert sha in _git(bare, "rev-list", f"{heads[branch]}..{branch}")
    assert len(_git(bare, "rev-list", f"{heads['stable-example']}..stable-example").split()) == 2
    assert not [r for r in _artifact_rows(first) if r.get("warning")]

    # 2. A new echo-web-server: its write-back changes nothing that renders (the chart reads
    #    image.echoServerForTest); the commit is kept, as Image Updater keeps it, with a warning.
    push_image(demo_registry.url, "cidemo/echo-web-server", "v2.1", created=WEB21)
    second = image_update(config=str(config), return_state=True)
    assert second.is_completed(), second.message
    for outcome in second.result():
        assert outcome["status"] == "updated", outcome
        assert [c["renders_unchanged"] for c in outcome["changes"]] == [True]
        assert outcome["warnings"] == [
            f"{HOST}/cidemo/echo-web-server:v2.1: the write-back changes nothing {outcome['app']} renders "
            "(no manifest reads the values the annotations name)"
        ]
        message = _git(bare, "cat-file", "commit", outcome["commit"]).split("\n\n", 1)[1]
        assert message.endswith("updates image cidemo/echo-web-server tag 'v1.0' to 'v2.1'\n")
    rows = _artifact_rows(second)
    assert {r["app"] for r in rows if r["warning"] == "changes nothing that renders"} == {
        f"app-helm-{env}" for env in ENVS
    }

    # 2b. With commit.skip_without_effect, such a change is left out: nothing is committed.
    push_image(demo_registry.url, "cidemo/echo-web-server", "v2.2", created=datetime(2023, 8, 30, tzinfo=UTC))
    settings = yaml.safe_load(config.read_text())
    skipping = tmp_path / "ferry-skip.yaml"
    skipping.write_text(yaml.safe_dump({**settings, "commit": {"skip_without_effect": True}}))
    heads = {branch: _git(bare, "rev-parse", branch).strip() for branch in set(ENVS.values())}
    with Updater(load_config(skipping)) as updater:
        report = updater.run_cycle()
    assert {o.status for o in report.outcomes} == {UpdateStatus.UNCHANGED}, report
    assert heads == {branch: _git(bare, "rev-parse", branch).strip() for branch in heads}

    with SyncEngine(load_config(config)) as engine:
        # 3. Dev syncs (the ExternalSecret CRD is installed there): echo-server at v2.1,
        #    echo-web-server unchanged, as Argo CD renders it.
        result = engine.sync("app-helm-dev", wait_timeout=90)
        assert result.health.status is HealthStatus.HEALTHY, result.health
        dev, namespace = engine.connect("app-helm-dev"), engine.target("app-helm-dev").namespace
        images = {
            name: dev.get("apps/v1", "Deployment", f"app-helm-dev-{name}", namespace)["spec"]["template"][
                "spec"
            ]["containers"][0]["image"]
            for name in ("echo-server", "echo-web-server")
        }
        assert images == {
            "echo-server": f"{HOST}/cidemo/echo-server:v2.1",
            "echo-web-server": f"{HOST}/cidemo/echo-web-server:v1.0",
        }
        assert dev.get("alibabacloud.com/v1alpha1", "ExternalSecret", "db-cred-dev", namespace) is not None

        # 4. Staging's diff shows the Kruise v1alpha1 Rollout the seed approves by hand.
        diff = engine.diff("app-helm-staging")
        rollout = [r for r in diff.resources if r.key.kind == "Rollout"]
        assert [(r.key.group, r.key.name, r.status) for r in rollout] == [
            ("rollouts.kruise.io", "rollouts-demo", SyncStatus.OUT_OF_SYNC)
        ]
        assert not diff.errors, diff.errors

        # 5. Production has no ExternalSecret CRD: the sync fails, naming it, and applies nothing.
        with pytest.raises(FerryError, match="ExternalSecret"):
            engine.sync("app-helm-production", wait_timeout=0)
        production, prod_ns = (
            engine.connect("app-helm-production"),
            engine.target("app-helm-production").namespace,
        )
        assert production.get("apps/v1", "Deployment", "app-helm-production-echo-server", prod_ns) is None

    shown = subprocess.run(
        [sys.executable, "-m", "ferry.cli", "diff", "app-helm-staging", "--config", str(config)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        timeout=300,
    )
    assert shown.returncode == 1, shown.stderr
    assert "rollouts-demo" in shown.stdout
