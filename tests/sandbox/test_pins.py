"""The pins in versions.py, the tools module's go.mod and the build rules agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ferry.errors import ToolError
from ferry.sandbox.build import binary_path, require_binaries
from ferry.sandbox.versions import (
    ARGO_ROLLOUTS_VERSION,
    ARGO_TOOLS_MODULE,
    ETCD_VERSION,
    KUBE_TOOLS_MODULE,
    KUBERNETES_VERSION,
    TOOLS,
    TOOLS_BY_NAME,
)
from ferry.tools import find_tools

GO_MOD = (KUBE_TOOLS_MODULE / "go.mod").read_text()


def _required(module: str) -> str:
    match = re.search(rf"^\s*{re.escape(module)} (v\S+)", GO_MOD, re.MULTILINE)
    assert match, f"{module} is not required in {KUBE_TOOLS_MODULE}/go.mod"
    return match.group(1)


def test_go_mod_requires_the_pinned_kubernetes() -> None:
    assert _required("k8s.io/kubernetes") == KUBERNETES_VERSION


def test_go_mod_requires_the_pinned_etcd() -> None:
    assert _required("go.etcd.io/etcd/server/v3") == ETCD_VERSION


def test_every_staging_replace_matches_the_kubernetes_release() -> None:
    staging_version = "v0." + KUBERNETES_VERSION.removeprefix("v1.")
    replaces = re.findall(r"^\s*(k8s\.io/\S+) => (k8s\.io/\S+) (v\S+)$", GO_MOD, re.MULTILINE)
    assert len(replaces) >= 25, "the staging replace block went missing"
    for source, target, version in replaces:
        assert source == target
        assert version == staging_version, f"{source} is replaced at {version}, not {staging_version}"


def test_go_sum_is_committed_with_the_module() -> None:
    assert (KUBE_TOOLS_MODULE / "go.sum").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("name", "expected_file"),
    [
        ("kube-apiserver", f"kube-apiserver-{KUBERNETES_VERSION}"),
        ("etcd", f"etcd-{ETCD_VERSION}"),
        ("kustomize", f"kustomize-{TOOLS_BY_NAME['kustomize'].version}"),
    ],
    ids=["control plane named by Kubernetes version", "etcd named by etcd version", "kustomize"],
)
def test_cache_file_is_name_dash_version(name: str, expected_file: str, tmp_path: Path) -> None:
    assert binary_path(name, tmp_path) == tmp_path / expected_file


def test_every_tool_has_a_version_tag_and_main_package() -> None:
    assert {tool.name for tool in TOOLS} == {
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kwok",
        "helm",
        "kustomize",
        "rollouts-controller",
    }
    for tool in TOOLS:
        assert re.fullmatch(r"v\d+\.\d+\.\d+", tool.version), tool


def test_missing_binaries_fail_with_every_name_and_the_fix(tmp_path: Path) -> None:
    (tmp_path / f"helm-{TOOLS_BY_NAME['helm'].version}").write_text("not executable")
    with pytest.raises(ToolError) as caught:
        require_binaries(["etcd", "helm", "kwok"], tmp_path)
    message = str(caught.value)
    for name in ("etcd", "helm", "kwok"):
        assert name in message
    assert "ferry sandbox build" in message


def test_unknown_tool_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="unknown sandbox tool"):
        binary_path("kubelet", tmp_path)


def test_argo_tools_module_requires_the_pinned_controller() -> None:
    go_mod = (ARGO_TOOLS_MODULE / "go.mod").read_text()
    assert f"github.com/argoproj/argo-rollouts {ARGO_ROLLOUTS_VERSION}" in go_mod
    assert TOOLS_BY_NAME["rollouts-controller"].module_dir == ARGO_TOOLS_MODULE
    expected = Path(f"/b/rollouts-controller-{ARGO_ROLLOUTS_VERSION}")
    assert binary_path("rollouts-controller", Path("/b")) == expected


@pytest.mark.parametrize("name", ["helm", "kustomize"])
def test_the_renderers_find_the_binary_the_sandbox_builds(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sync engine reads the pins from ferry.tools, not from the sandbox: both must name one file.
    monkeypatch.setenv("FERRY_BIN_DIR", str(tmp_path))
    monkeypatch.delenv(f"FERRY_{name.upper()}", raising=False)
    built = binary_path(name)
    built.write_text("#!/bin/sh\n")
    assert getattr(find_tools(), name) == built == tmp_path / f"{name}-{TOOLS_BY_NAME[name].version}"
