"""Updaters racing on one deploy repo: a push is really rejected, and still every change lands
once, nothing lost, nothing duplicated."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.seedenv import FERRY, NEW_BUILD, build_seed
from tests.fixtures.registry import RunningRegistry

pytestmark = pytest.mark.registry

# A pre-receive hook that holds the first push until a second one arrives. Both were computed
# from the same remote head (the first has not landed yet), so git can update the branch for
# only one of them: the other is rejected, every time, not only when the scheduler allows.
HOLD_FIRST_PUSH = """#!/bin/sh
gate="$(dirname "$0")/../race"
mkdir -p "$gate"
echo "$$" >> "$gate/arrivals"
if mkdir "$gate/first" 2>/dev/null; then
  i=0
  while [ ! -d "$gate/second" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done
  exit 0
fi
mkdir "$gate/second" 2>/dev/null
exit 0
"""


def test_racing_updaters_both_land(tmp_path: Path, registry: RunningRegistry) -> None:
    seed = build_seed(tmp_path, registry)
    seed.remove_tag("v3-5a7147")
    seed.push("v3-5a7147", NEW_BUILD)
    before = seed.head()
    hook = seed.bare / "hooks" / "pre-receive"
    hook.write_text(HOLD_FIRST_PUSH)
    hook.chmod(0o755)

    # Separate caches, so each process has its own clone and the race is on the remote,
    # as between two workers.
    runs = []

    def start(index: int, args: list[str]) -> None:
        env = dict(seed.env, FERRY_CACHE_DIR=str(tmp_path / f"cache-{index}"))
        cmd = [*FERRY, "update", *args, "-v", "--config", str(seed.layout.config)]
        log = tmp_path / f"updater-{index}.log"  # a file, not a pipe: -v output would fill a pipe
        with log.open("wb") as sink:
            runs.append((subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=sink), log))

    start(0, ["--app", "app-helm-dev"])
    start(1, ["--app", "app-helm-staging"])
    # The third process updates every app, overlapping the loser's retry: its changes must not be
    # committed twice. It starts once both others have pushed, so the push held back (and then
    # rejected) is always one that wrote an app the winner did not, and must be pushed again; had
    # the all-apps updater won, the loser would rightly find nothing left to push.
    arrivals_file = seed.bare / "race" / "arrivals"
    for _ in range(1200):
        if arrivals_file.exists() and len(arrivals_file.read_text().split()) >= 2:
            break
        if any(process.poll() is not None for process, _ in runs):
            break  # an updater ended before pushing: its log, checked below, says why
        time.sleep(0.1)
    start(2, [])
    results = [(process.wait(timeout=300), log.read_text()) for process, log in runs]
    assert [code for code, _ in results] == [0, 0, 0], results
    logs = "\n".join(log for _, log in results)
    # The race happened: a push was refused by the remote, and that updater fetched and retried.
    assert "rejected (attempt 1/" in logs, logs[-3000:]
    assert "(attempt 2)" in logs, logs[-3000:]
    arrivals = (seed.bare / "race" / "arrivals").read_text().split()
    assert len(arrivals) > len(runs), "a rejected push is pushed again"

    commits = seed.git("rev-list", f"{before}..main").split()
    touched = [seed.git("show", "--name-only", "--format=", sha).strip() for sha in commits]
    assert sorted(touched) == sorted(
        f"manifests/helm/echo-server/.argocd-source-app-helm-{env}.yaml"
        for env in ("dev", "staging", "production")
    ), "each application's file is committed exactly once"
    for env in ("dev", "staging", "production"):
        assert "v3-5a7147" in seed.show(f"manifests/helm/echo-server/.argocd-source-app-helm-{env}.yaml")
