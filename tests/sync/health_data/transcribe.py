"""Regenerate the health tables from a local copy of argoproj/argo-cd (run by hand, not by pytest).

    python tests/sync/health_data/transcribe.py /path/to/argo-cd > /dev/null

Each upstream fixture becomes one case: its object (without ``managedFields`` and the
``last-applied-configuration`` annotation, which no health rule reads) and the status, and the
message where upstream asserts one. The expectations are read from ``health_test.go`` and the
``health_test.yaml`` files, so a table never holds a result Ferry computed.
"""

from __future__ import annotations

import posixpath
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
# Dropped from each object: no health rule reads them, and they are most of the bytes.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
CUSTOMIZATIONS = (
    "argoproj.io/Rollout",
    "rollouts.kruise.io/Rollout",
    "batch/CronJob",
    "policy/PodDisruptionBudget",
)


def _show(repo: Path, rev: str, path: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={repo}", "show", f"{rev}:{path}"], check=True, capture_output=True, text=True
    ).stdout


class _Loader(yaml.SafeLoader):
    """YAML as sigs.k8s.io/yaml reads it into JSON: timestamps stay strings (CronJob compares them)."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)


def _compact(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.get("metadata") or {}
    for key in ("managedFields", "selfLink", "uid", "resourceVersion"):
        metadata.pop(key, None)
    spec = obj.get("spec") or {}
    if obj.get("kind") != "Pod":
        # Pod templates are what a workload runs, not how its rollout stands.
        spec.pop("template", None)
        spec.pop("jobTemplate", None)
    annotations = metadata.get("annotations") or {}
    annotations.pop(LAST_APPLIED, None)
    if "annotations" in metadata and not annotations:
        del metadata["annotations"]
    return obj


def gitops_engine(repo: Path, rev: str) -> dict[str, Any]:
    test = _show(repo, rev, "gitops-engine/pkg/health/health_test.go")
    cases: list[dict[str, Any]] = []
    for match in re.finditer(r'assertAppHealth\(t, "([^"]+)", HealthStatus(\w+)\)', test):
        cases.append({"fixture": match[1], "expect": {"status": match[2]}})
    for match in re.finditer(r'assert\.Nil\(t, getHealthStatus\(t, "([^"]+)"\)\)', test):
        cases.append({"fixture": match[1], "expect": None})
    for match in re.finditer(
        r'assert\.Equal\(t, "([^"]*)", getHealthStatus\(t, "([^"]+)"\)\.Message\)', test
    ):
        for case in cases:
            if case["fixture"] == match[2]:
                case["expect"]["message"] = match[1]
    for case in cases:
        path = posixpath.normpath(posixpath.join("gitops-engine/pkg/health", case["fixture"]))
        case["fixture"] = path
        case["object"] = _compact(load(_show(repo, rev, path)))
    return {"source": f"argoproj/argo-cd@{rev[:10]} gitops-engine/pkg/health/health_test.go", "cases": cases}


def customizations(repo: Path, rev: str) -> dict[str, Any]:
    cases: list[dict[str, Any]] = []
    for kind in CUSTOMIZATIONS:
        base = f"resource_customizations/{kind}"
        tests = load(_show(repo, rev, f"{base}/health_test.yaml"))["tests"]
        for test in tests:
            expected = test["healthStatus"]
            cases.append(
                {
                    "fixture": f"{base}/{test['inputPath']}",
                    # Argo's harness compares the whole HealthStatus: no message means "".
                    "expect": {"status": expected["status"], "message": expected.get("message", "")},
                    "object": _compact(load(_show(repo, rev, f"{base}/{test['inputPath']}"))),
                }
            )
    return {
        "source": f"argoproj/argo-cd@{rev[:10]} resource_customizations/*/health_test.yaml",
        "cases": cases,
    }


def main() -> None:
    repo = Path(sys.argv[1])
    rev = subprocess.run(
        ["git", f"--git-dir={repo}", "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    for name, table in (
        ("gitops-engine.yaml", gitops_engine(repo, rev)),
        ("argo-cd.yaml", customizations(repo, rev)),
    ):
        header = f"# Transcribed from {table['source']} by transcribe.py (Apache-2.0, The Argo Authors).\n"
        (HERE / name).write_text(header + yaml.safe_dump(table, sort_keys=False, width=200))


if __name__ == "__main__":
    main()
