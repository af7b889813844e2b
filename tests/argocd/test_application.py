"""Loading Argo CD Application manifests: multi-document files, errors that name file and app."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry.argocd.application import load_applications, parse_application
from ferry.errors import ConfigError

GOOD = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: app-helm-dev
  annotations:
    argocd-image-updater.argoproj.io/image-list: echoserver=127.0.0.1:5000/cidemo/echo-server
spec:
  destination: {namespace: app-helm-dev, server: "https://127.0.0.1:6443"}
  source:
    path: manifests/helm/echo-server
    repoURL: 'git@github.com:ivan-cai/gitops-demo.git'
    targetRevision: stable-example
    helm:
      valueFiles: [values-dev.yaml]
  project: default
  syncPolicy:
    automated: {}
    syncOptions: [CreateNamespace=true]
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / name).write_text(text)
    return tmp_path


def test_seed_application_fields_are_parsed(tmp_path: Path) -> None:
    apps, errors = load_applications(_write(tmp_path, "dev.yaml", GOOD))
    assert errors == []
    (app,) = apps
    assert app.name == "app-helm-dev"
    assert app.source.helm is not None and app.source.helm.value_files == ("values-dev.yaml",)
    assert app.spec.destination.server == "https://127.0.0.1:6443"
    assert app.is_automated
    assert app.spec.sync_policy.option("CreateNamespace") == "true"
    assert app.source.target_revision == "stable-example"


def test_multi_document_files_and_other_kinds(tmp_path: Path) -> None:
    other = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
    staging = GOOD.replace("app-helm-dev", "app-helm-staging").replace("    automated: {}\n", "")
    apps, errors = load_applications(_write(tmp_path, "all.yaml", GOOD + "---\n" + other + "---\n" + staging))
    assert errors == []
    assert [a.name for a in apps] == ["app-helm-dev", "app-helm-staging"]
    assert not apps[1].is_automated


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("repoURL: 'git@github.com:ivan-cai/gitops-demo.git'", "repoURL: ''"), "repoURL"),
        (GOOD.replace("argoproj.io/v1alpha1", "argoproj.io/v2"), "apiVersion"),
        (GOOD.replace("name: app-helm-dev", "name: ../evil"), "metadata.name"),
        (GOOD.replace("name: app-helm-dev", "name: App_Dev"), "metadata.name"),
        ("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\n", "spec"),
    ],
    ids=["empty-repo-url", "wrong-api-version", "dotdot-name", "uppercase-name", "missing-spec"],
)
def test_invalid_application_names_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    apps, errors = load_applications(_write(tmp_path, "bad.yaml", text))
    assert apps == []
    (error,) = errors
    assert "bad.yaml" in str(error)
    assert message in str(error)


def test_one_broken_file_does_not_hide_the_others(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", "key: [unclosed\n")
    apps, errors = load_applications(_write(tmp_path, "b.yaml", GOOD))
    assert [a.name for a in apps] == ["app-helm-dev"]
    assert len(errors) == 1 and "a.yaml" in str(errors[0])


def test_duplicate_names_are_reported(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", GOOD)
    apps, errors = load_applications(_write(tmp_path, "b.yaml", GOOD))
    assert len(apps) == 1
    assert "duplicate" in str(errors[0]) and "app-helm-dev" in str(errors[0])


def test_missing_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_applications(tmp_path / "nope")


def test_parse_application_error_names_application() -> None:
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "x"},
        "spec": {"source": {"path": "p"}},
    }
    with pytest.raises(ConfigError) as info:
        parse_application(doc, source="f.yaml")
    assert str(info.value).startswith("f.yaml: application 'x'")
