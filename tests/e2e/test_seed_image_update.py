"""The seed scenario, end to end: real registry (open and htpasswd), real bare Git repo, the ferry CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ferry.devenv.seed import ENVIRONMENTS
from tests.e2e.seedenv import NEW_BUILD, SeedEnv, build_seed
from tests.fixtures.registry import RunningRegistry

pytestmark = pytest.mark.registry

EXPECTED = """\
helm:
  parameters:
  - name: image.echoServer.repository
    value: {host}/cidemo/echo-server
    forcestring: true
  - name: image.echoServer.tag
    value: v3-5a7147
    forcestring: true
  - name: image.echoWebServer.repository
    value: {host}/cidemo/echo-web-server
    forcestring: true
  - name: image.echoWebServer.tag
    value: v3-5a7147
    forcestring: true
"""


@pytest.fixture(params=["anonymous", "htpasswd"])
def seed(request: pytest.FixtureRequest, tmp_path: Path) -> SeedEnv:
    registry: RunningRegistry = request.getfixturevalue(
        "registry" if request.param == "anonymous" else "auth_registry"
    )
    env = build_seed(tmp_path, registry)
    env.remove_tag("v3-5a7147")
    return env


def test_seed_scenario_writes_back_image_updater_files(seed: SeedEnv) -> None:
    before = seed.head()
    first = seed.ferry("update", "--output", "json")
    assert first.returncode == 0, first.stderr
    assert seed.head() == before, "no newer build yet, so nothing may be committed"

    seed.push("v3-5a7147", NEW_BUILD)
    result = seed.ferry("update", "--output", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [a["status"] for a in report["applications"]] == ["updated"] * 3
    assert report["summary"]["images_updated"] == 6

    log = (
        seed.git("log", "--format=%H%x00%an <%ae>%x00%B%x01", f"{before}..main").strip("\x01\n").split("\x01")
    )
    assert len(log) == 3, "one commit per application"
    for env in ENVIRONMENTS:
        path = f"manifests/helm/echo-server/.argocd-source-app-helm-{env}.yaml"
        assert seed.show(path) == EXPECTED.format(host=seed.registry.host)
    messages = sorted(entry.split("\x00")[2].strip() for entry in log)
    assert messages[0] == (
        "build: automatic update of app-helm-dev\n\n"
        # No registry host in the message, as Image Updater writes it (gitops-demo a3d65e3).
        "updates image cidemo/echo-server tag 'v1.0' to 'v3-5a7147'\n"
        "updates image cidemo/echo-web-server tag 'v1.0' to 'v3-5a7147'"
    )
    assert (
        f"Successfully updated image '{seed.registry.host}/cidemo/echo-web-server:v1.0' to "
        f"'{seed.registry.host}/cidemo/echo-web-server:v3-5a7147'" in result.stderr
    )
    assert "Committing 2 parameter update(s) for application app-helm-dev" in result.stderr
    commits = {a["app"]: a["commit"] for a in report["applications"]}
    assert set(commits.values()) == {entry.split("\x00")[0].strip() for entry in log}

    after = seed.head()
    again = seed.ferry("update", "--output", "json")
    assert again.returncode == 0, again.stderr
    assert seed.head() == after, "a second run must make no commit"
    assert {a["status"] for a in json.loads(again.stdout)["applications"]} == {"unchanged"}


def test_dry_run_commits_nothing(seed: SeedEnv) -> None:
    seed.push("v3-5a7147", NEW_BUILD)
    before = seed.head()
    result = seed.ferry("update", "--dry-run", "--output", "json")
    assert result.returncode == 0, result.stderr
    assert {a["status"] for a in json.loads(result.stdout)["applications"]} == {"dry-run"}
    assert seed.head() == before


def test_app_filter_updates_only_that_app(seed: SeedEnv) -> None:
    seed.push("v3-5a7147", NEW_BUILD)
    result = seed.ferry("update", "--app", "app-helm-staging", "--output", "json")
    assert result.returncode == 0, result.stderr
    assert [a["app"] for a in json.loads(result.stdout)["applications"]] == ["app-helm-staging"]
    files = seed.git("ls-tree", "-r", "--name-only", "main").split()
    assert [f for f in files if ".argocd-source" in f] == [
        "manifests/helm/echo-server/.argocd-source-app-helm-staging.yaml"
    ]
