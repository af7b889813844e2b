"""``ferry sandbox build`` reuses cached binaries: a warm run builds nothing (its time is in
bench/RESULTS.md, from bench/warm_paths.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ferry.sandbox.build import ensure_binaries, require_binaries
from ferry.sandbox.versions import ETCD_VERSION, HELM_VERSION, KUBERNETES_VERSION, KUSTOMIZE_VERSION, TOOLS


def test_warm_build_reuses_every_binary() -> None:
    require_binaries([tool.name for tool in TOOLS])  # missing ones fail here, loudly
    outcomes = ensure_binaries()
    assert [outcome.name for outcome in outcomes] == [tool.name for tool in TOOLS]
    assert not any(outcome.built for outcome in outcomes)
    assert all(outcome.path.name == f"{outcome.name}-{outcome.version}" for outcome in outcomes)


@pytest.mark.parametrize(
    ("tool", "version_flag", "expected"),
    [
        ("kube-apiserver", "--version", f"Kubernetes {KUBERNETES_VERSION}"),
        ("helm", "version", HELM_VERSION),
        ("kustomize", "version", KUSTOMIZE_VERSION),
        ("etcd", "--version", f"etcd Version: {ETCD_VERSION.removeprefix('v')}"),
    ],
    ids=["kube-apiserver stamped with its release", "helm", "kustomize", "etcd"],
)
def test_built_binaries_report_their_pinned_version(tool: str, version_flag: str, expected: str) -> None:
    binary = require_binaries([tool])[tool]
    result = subprocess.run([str(binary), version_flag], capture_output=True, text=True, timeout=30)
    assert expected in result.stdout + result.stderr


def test_cli_build_prints_what_it_reused() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ferry.sandbox.cli", "build"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(TOOLS)
    for tool, line in zip(TOOLS, lines, strict=True):
        assert line.split()[:3] == [tool.name, tool.version, "reused"], line
