"""Two updaters racing on one deploy repo: both land, nothing lost, nothing duplicated."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.seedenv import FERRY, NEW_BUILD, build_seed
from tests.fixtures.registry import RunningRegistry

pytestmark = pytest.mark.registry


def test_racing_updaters_both_land(tmp_path: Path, registry: RunningRegistry) -> None:
    seed = build_seed(tmp_path, registry)
    seed.remove_tag("v3-5a7147")
    seed.push("v3-5a7147", NEW_BUILD)
    before = seed.head()

    # Separate caches, so each process has its own clone and the race is on the remote,
    # as between two workers.
    # The third process updates every app, overlapping both others: its changes must not be committed twice.
    runs = []
    for index, args in enumerate((["--app", "app-helm-dev"], ["--app", "app-helm-staging"], [])):
        env = dict(seed.env, FERRY_CACHE_DIR=str(tmp_path / f"cache-{index}"))
        cmd = [*FERRY, "update", *args, "--config", str(seed.layout.config)]
        runs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in runs]
    assert [code for code, _ in results] == [0, 0, 0], results

    commits = seed.git("rev-list", f"{before}..main").split()
    touched = [seed.git("show", "--name-only", "--format=", sha).strip() for sha in commits]
    assert sorted(touched) == sorted(
        f"manifests/helm/echo-server/.argocd-source-app-helm-{env}.yaml"
        for env in ("dev", "staging", "production")
    ), "each application's file is committed exactly once"
    for env in ("dev", "staging", "production"):
        assert "v3-5a7147" in seed.show(f"manifests/helm/echo-server/.argocd-source-app-helm-{env}.yaml")
