"""The seed chart through the real helm: Production's echo server is an Argo Rollout, Dev's and Staging's a
Deployment, and Image Updater's write-back reaches the Rollout's image like a Deployment's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ferry.argocd.application import parse_application
from ferry.devenv.rollout_chart import PAUSED_STEPS
from ferry.devenv.seed import ENVIRONMENTS, PRODUCTION_ROLLOUT, application, create_deploy_repo, workload
from ferry.sync.render import render_application
from ferry.tools import Tools
from ferry.vcs import RepoCache
from tests.fixtures.git import BareRepo
from tests.sync.world import REGISTRY, override_file

TAG = "v3-5a7147"


@pytest.fixture
def rendered(tmp_path: Path, sandbox_tools: dict[str, Path]) -> dict[str, dict[str, dict[str, Any]]]:
    """Environment → object name → the rendered workload, after Production's write-back of :data:`TAG`."""
    bare = tmp_path / "deploy.git"
    url = create_deploy_repo(bare, REGISTRY)
    BareRepo(bare).commit(override_file("app-helm-production", TAG), "build: automatic update")
    tools = Tools(helm=sandbox_tools["helm"], kustomize=sandbox_tools["kustomize"])
    found: dict[str, dict[str, dict[str, Any]]] = {}
    with RepoCache(tmp_path / "cache").open(url) as clone:
        for env in ENVIRONMENTS:
            app = parse_application(application(env, url, REGISTRY, f"https://{env}.example"), source="t")
            manifests = render_application(app, clone, None, tools).manifests
            found[env] = {m["metadata"]["name"]: m for m in manifests if m["kind"] != "Service"}
    return found


def _deployment(name: str, release: str, replicas: int, image: str) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {**labels, "app.kubernetes.io/instance": release}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": image, "ports": [{"containerPort": 8080}]}]},
            },
        },
    }


def test_production_renders_the_echo_server_as_a_rollout_with_the_written_back_image(
    rendered: dict[str, dict[str, dict[str, Any]]],
) -> None:
    rollout = rendered["production"][PRODUCTION_ROLLOUT]
    assert (rollout["apiVersion"], rollout["kind"]) == workload("production", PRODUCTION_ROLLOUT)
    assert (rollout["apiVersion"], rollout["kind"]) == ("argoproj.io/v1alpha1", "Rollout")
    assert rollout["spec"]["strategy"] == {"canary": {"steps": [dict(s) for s in PAUSED_STEPS]}}
    assert rollout["spec"]["replicas"] == 3
    # The helm parameter Image Updater wrote for Production is what the Rollout's pods run.
    image = rollout["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"{REGISTRY}/cidemo/echo-server:{TAG}"
    web = rendered["production"]["echo-web-server"]
    assert (web["kind"], web["spec"]["template"]["spec"]["containers"][0]["image"]) == (
        "Deployment",
        f"{REGISTRY}/cidemo/echo-web-server:{TAG}",
    ), "only the echo server is a Rollout"


@pytest.mark.parametrize(("env", "replicas"), [("dev", 1), ("staging", 2)])
def test_dev_and_staging_render_the_plain_deployment(
    rendered: dict[str, dict[str, dict[str, Any]]], env: str, replicas: int
) -> None:
    echo = rendered[env]["echo-server"]
    expected = _deployment("echo-server", f"app-helm-{env}", replicas, f"{REGISTRY}/cidemo/echo-server:v1.0")
    assert echo == expected, "no strategy, no Rollout fields: the switch leaves the Deployment as it was"
    assert workload(env, "echo-server") == ("apps/v1", "Deployment")
