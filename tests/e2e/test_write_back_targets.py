"""Every write-back target and strategy, on the real registry and a real bare repo, through the Updater."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from ferry.config import parse_config
from ferry.devenv.oci import OciPusher
from ferry.devenv.seed import create_repo
from ferry.update.cycle import Updater
from ferry.update.outcomes import UpdateStatus
from tests.fixtures.registry import RunningRegistry

pytestmark = pytest.mark.registry
P = "argocd-image-updater.argoproj.io/"
T0 = datetime(2024, 1, 1, tzinfo=UTC)

KUSTOMIZATION = """\
# base for the echo server
resources:
  - deployment.yaml
images:
  - name: echo
    newName: {image}
    newTag: v1.0.0  # pinned by hand until Ferry took over
"""
VALUES = """\
# values kept by the team; comments must survive
image:
  repository: {image}
  tag: v1.0.0   # current
"""


def _app(name: str, repo: str, path: str, annotations: dict[str, str], **source: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "annotations": {P + k: v for k, v in annotations.items()}},
        "spec": {
            "source": {"repoURL": repo, "path": path, "targetRevision": "main", **source},
            "destination": {"namespace": name},
        },
    }


def _show(bare: Path, path: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={bare}", "show", f"main:{path}"], check=True, capture_output=True, text=True
    ).stdout


def test_targets_and_strategies(tmp_path: Path, registry: RunningRegistry, repository: str) -> None:
    image = f"{registry.host}/{repository}"
    with OciPusher(registry.url) as pusher:
        for i, tag in enumerate(["v1.0.0", "v1.2.0", "v1.10.0", "v2.0.0-rc.1", "v2.0.0", "latest"]):
            pusher.push_image(repository, tag, created=T0.replace(day=i + 1))
        digest = pusher.push_image(repository, "latest", created=T0.replace(month=6))
    bare = tmp_path / "deploy.git"
    url = create_repo(
        bare,
        {
            "kust/kustomization.yaml": KUSTOMIZATION.format(image=image),
            "kust/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: echo}\n",
            "chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
            "chart/values.yaml": VALUES.format(image=image),
            "chart2/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
            "chart2/values.yaml": VALUES.format(image=image),
            "chart3/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
            "chart3/values.yaml": VALUES.format(image=image),
        },
    )
    apps = [
        # semver with a constraint: ^1 picks v1.10.0 (not v2, not the pre-release); helmvalues keeps comments.
        _app(
            "semver-values",
            url,
            "chart",
            {
                "image-list": f"a={image}:^1",
                "a.helm.image-name": "image.repository",
                "a.helm.image-tag": "image.tag",
                "write-back-target": "helmvalues",
            },
            helm={},
        ),
        # kustomization target, alphabetical strategy with an allow filter.
        _app(
            "kust-file",
            url,
            "kust",
            {
                "image-list": f"e={image}",
                "e.kustomize.image-name": "echo",
                "e.update-strategy": "alphabetical",
                "e.allow-tags": "regexp:^v1\\.",
                "write-back-target": "kustomization",
            },
            kustomize={},
        ),
        # Kustomize app with the default .argocd-source target.
        _app(
            "kust-source",
            url,
            "kust",
            {"image-list": f"e={image}", "e.kustomize.image-name": "echo", "e.update-strategy": "semver"},
            kustomize={},
        ),
        # digest strategy follows 'latest' and writes tag@digest.
        _app(
            "digest",
            url,
            "chart2",
            {
                "image-list": f"a={image}:latest",
                "a.update-strategy": "digest",
                "a.helm.image-name": "image.repository",
                "a.helm.image-tag": "image.tag",
            },
            helm={},
        ),
        # pre-releases only when the constraint asks for them.
        _app(
            "prerelease",
            url,
            "chart3",
            {
                "image-list": f"a={image}:>=2.0.0-0",
                "a.helm.image-name": "image.repository",
                "a.helm.image-tag": "image.tag",
                "a.ignore-tags": "v2.0.0",
            },
            helm={},
        ),
    ]
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "apps.yaml").write_text(yaml.safe_dump_all(apps, sort_keys=False))
    config = parse_config(
        {
            "applications": "apps",
            "cache_dir": "cache",
            "registries": [{"name": "r", "prefix": registry.host, "api_url": registry.url}],
        },
        source="ferry.yaml",
        base_dir=tmp_path,
    )

    with Updater(config) as updater:
        report = updater.run_cycle()
    outcomes = {o.app: o for o in report.outcomes}
    assert {a: o.status for a, o in outcomes.items()} == dict.fromkeys(outcomes, UpdateStatus.UPDATED), (
        outcomes
    )

    values = _show(bare, "chart/values.yaml")
    assert (
        "tag: v1.10.0  # current" in values
    )  # the comment keeps its column and values.startswith("# values kept by the team")
    kustomization = _show(bare, "kust/kustomization.yaml")
    assert (
        "newTag: v1.2.0  # pinned by hand until Ferry took over" in kustomization
    )  # alphabetical: "v1.2" > "v1.10"
    assert (
        _show(bare, "kust/.argocd-source-kust-source.yaml")
        == f"kustomize:\n  images:\n  - echo={image}:v2.0.0\n"
    )
    override = yaml.safe_load(_show(bare, "chart2/.argocd-source-digest.yaml"))
    assert {p["name"]: p["value"] for p in override["helm"]["parameters"]} == {
        "image.repository": image,
        "image.tag": f"latest@{digest}",
    }
    pre = yaml.safe_load(_show(bare, "chart3/.argocd-source-prerelease.yaml"))
    assert pre["helm"]["parameters"][1]["value"] == "v2.0.0-rc.1"

    with Updater(config) as updater:
        again = updater.run_cycle()
    assert {o.status for o in again.outcomes} == {UpdateStatus.UNCHANGED}, again.outcomes
