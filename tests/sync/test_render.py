"""Rendering: plain-directory selection (pure), and helm/kustomize through the real binaries."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry.argocd.application import parse_application
from ferry.config import parse_config
from ferry.errors import ConfigError, ToolError
from ferry.sync.manifests import directory_files
from ferry.sync.render import render_application
from ferry.tools import Tools
from ferry.vcs import RepoCache
from tests.fixtures.git import BareRepoFactory


@pytest.mark.parametrize(
    ("recurse", "include", "exclude", "expected"),
    [
        (False, None, None, ["a.yaml", "b.json"]),
        (True, None, None, ["a.yaml", "b.json", "sub/c.yml", "sub/d.yaml"]),
        (True, "*.yaml", None, ["a.yaml", "sub/d.yaml"]),
        (True, None, "{b.json,sub/d.yaml}", ["a.yaml", "sub/c.yml"]),
        (True, "sub/*", "d.yaml", ["sub/c.yml"]),
    ],
    ids=["top level only", "recurse", "include glob", "exclude with braces", "include and exclude"],
)
def test_directory_files(
    tmp_path: Path, recurse: bool, include: str | None, exclude: str | None, expected: list[str]
) -> None:
    for name in (
        "a.yaml",
        "b.json",
        "sub/c.yml",
        "sub/d.yaml",
        "notes.md",
        ".argocd-source-x.yaml",
        ".hidden/e.yaml",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    found = [
        p.relative_to(tmp_path).as_posix()
        for p in directory_files(tmp_path, recurse=recurse, include=include, exclude=exclude)
    ]
    assert found == expected


CHART = {
    "chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
    "chart/values.yaml": "flag: false\nname: base\n",
    "chart/values-dev.yaml": "name: dev\n",
    "chart/templates/cm.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
        "  namespace: {{ .Release.Namespace }}\ndata:\n  name: {{ .Values.name | quote }}\n"
        '  flag: {{ kindIs "string" .Values.flag | quote }}\n'
        '  extra: {{ .Values.extra | default "none" | quote }}\n'
    ),
}


def render(tmp_path: Path, repo_url: str, helm: dict, tools: Tools, name: str = "rel") -> dict:
    app = parse_application(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": name},
            "spec": {
                "source": {"repoURL": repo_url, "path": "chart", "targetRevision": "main", "helm": helm},
                "destination": {"namespace": "target"},
            },
        },
        source="t",
    )
    with RepoCache(tmp_path / "cache").open(repo_url) as clone:
        rendered = render_application(app, clone, None, tools)
    assert len(rendered.manifests) == 1
    return rendered.manifests[0]


@pytest.fixture
def tools(sandbox_tools: dict[str, Path]) -> Tools:
    return Tools(helm=sandbox_tools["helm"], kustomize=sandbox_tools["kustomize"])


def test_helm_value_files_values_and_parameters_in_argo_cd_order(
    tmp_path: Path, bare_repo: BareRepoFactory, tools: Tools
) -> None:
    repo = bare_repo("chart", CHART)
    cm = render(
        tmp_path,
        repo.url,
        {
            "releaseName": "custom",
            "valueFiles": ["values-dev.yaml"],
            "valuesObject": {"extra": "inline"},
            "parameters": [{"name": "flag", "value": "true", "forceString": True}],
        },
        tools,
    )
    assert cm["metadata"] == {"name": "custom", "namespace": "target"}
    assert cm["data"] == {"name": "dev", "flag": "true", "extra": "inline"}
    plain = render(tmp_path, repo.url, {"parameters": [{"name": "flag", "value": "true"}]}, tools)
    assert plain["metadata"]["name"] == "rel", "the release name defaults to the app name"
    assert plain["data"]["flag"] == "false", "--set makes a bool, --set-string keeps a string"


def test_override_file_wins_over_the_spec(tmp_path: Path, bare_repo: BareRepoFactory, tools: Tools) -> None:
    repo = bare_repo(
        "chart",
        {
            **CHART,
            "chart/.argocd-source-rel.yaml": (
                "helm:\n  parameters:\n  - name: name\n    value: from-updater\n    forcestring: true\n"
            ),
        },
    )
    cm = render(tmp_path, repo.url, {"parameters": [{"name": "name", "value": "from-spec"}]}, tools)
    assert cm["data"]["name"] == "from-updater"


@pytest.mark.parametrize(
    ("helm", "error", "message"),
    [
        ({"valueFiles": ["missing.yaml"]}, ConfigError, "value file 'missing.yaml' does not exist"),
        ({"valueFiles": ["../../../etc/passwd"]}, ConfigError, "leaves"),
        ({"parameters": [{"name": "a[x]", "value": "1"}]}, ToolError, "helm template rel failed"),
    ],
    ids=["missing value file", "value file outside the repo", "helm refuses a parameter"],
)
def test_render_errors(
    tmp_path: Path, bare_repo: BareRepoFactory, tools: Tools, helm: dict, error: type[Exception], message: str
) -> None:
    repo = bare_repo("chart", CHART)
    with pytest.raises(error, match=message):
        render(tmp_path, repo.url, helm, tools)


def test_missing_value_file_may_be_ignored(tmp_path: Path, bare_repo: BareRepoFactory, tools: Tools) -> None:
    repo = bare_repo("chart", CHART)
    cm = render(tmp_path, repo.url, {"valueFiles": ["missing.yaml"], "ignoreMissingValueFiles": True}, tools)
    assert cm["data"]["name"] == "base"
    assert parse_config({}, source="x", base_dir=tmp_path).clusters == ()
