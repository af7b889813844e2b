"""The benchmarks still run: each started as its README/RESULTS.md says (as a script), at a tiny size.

Nothing here bounds time (figures belong in bench/RESULTS.md); a bench that no longer imports,
starts its servers or counts its requests fails here instead of on the next measurement.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.registry

ROOT = Path(__file__).resolve().parents[2]


def _bench(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # as a user runs it
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


def test_the_update_scale_bench_runs_and_counts_one_tags_list_per_cycle() -> None:
    out = _bench("bench/update_scale.py", "--apps", "5", "--tags", "3")
    cycles = re.findall(r"^\s*(first no-op|update \(5 commits\)|repeat no-op):.*?(\d+) tags/list$", out, re.M)
    assert [name for name, _ in cycles] == ["first no-op", "update (5 commits)", "repeat no-op"], out
    assert [count for _, count in cycles] == ["1", "1", "1"], out
    assert "anchor tags/list GET" in out, out


def test_the_registry_bench_runs_beside_its_raw_fetch_anchor() -> None:
    out = _bench(
        "bench/registry_bench.py", "--tags", "20", "--skopeo-sample", "2", "--repeats", "1", "--no-write"
    )
    # Annotated: one tags/list and a manifest per tag, no config blob; warm: the tags/list alone.
    assert re.search(
        r"^ferry cold \(annotated\): [\d.]+s, 21 requests; warm: [\d.]+s, 1 requests$", out, re.M
    ), out
    assert re.search(r"^  ferry's requests \(annotated\): GET manifest 20, GET tags/list 1$", out, re.M), out
    # Unannotated: a manifest and a config per tag.
    assert re.search(
        r"^ferry cold \(unannotated\): [\d.]+s, 41 requests; warm: [\d.]+s, 1 requests$", out, re.M
    ), out
    assert re.search(
        r"^  ferry's requests \(unannotated\): GET blob 20, GET manifest 20, GET tags/list 1$", out, re.M
    ), out
    # Each beside a raw fetch of the same URLs, and skopeo.
    for variant, urls in (("annotated", 21), ("unannotated", 41)):
        assert re.search(
            rf"^raw fetch \({variant}\): {urls} URLs, curl --parallel [\d.]+s, .*ferry/curl = ", out, re.M
        ), out
        assert re.search(rf"^skopeo inspect \({variant}\): \d+ ms/tag, 5 requests/tag", out, re.M), out
    assert "Every run below picked the right tag (`build-00001`)" in out, out


@pytest.mark.cluster
def test_the_sync_bench_runs_and_an_in_sync_app_costs_no_dry_run_and_no_get_per_resource() -> None:
    out = _bench("bench/sync_bench.py", "--rounds", "1", "--per-kind", "1", "--no-results")
    calls = dict(re.findall(r"^\| ((?:diff|sync)[^|]*?) \| (\d+ \| \d+ \| \d+ \| \d+) \|$", out, re.M))
    # get | list | dry run | apply. An in-sync diff: the history GET and one LIST per kind (4 kinds);
    # an unchanged sync adds the namespace GET, the history update's GET and the health LISTs.
    assert calls["diff, in sync"] == "1 | 4 | 0 | 0", out
    assert calls["sync, nothing changed"] == "3 | 8 | 0 | 0", out
    # One ConfigMap changes: it alone is dry-run and applied; the attempt is first recorded as
    # running (one more history GET), so a process killed mid-apply leaves a true record.
    assert calls["sync, 1 of 4 changed"] == "4 | 8 | 1 | 1", out


def test_the_flow_bench_runs_the_flow_beside_the_cli_with_one_detection_task_per_repo(
    prefect_harness: str,
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "bench/flow_scale.py", *"--apps 3 --update-apps 3 --tags 3 --repeat 1".split()],
        cwd=ROOT,
        env={**env, "PREFECT_API_URL": prefect_harness},  # the session's server, not a second one
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    out, logs = done.stdout, done.stdout + done.stderr
    noop = r"^\s+no-op \(3 apps\): flow +[\d.]+s, cli +[\d.]+s, ratio [\d.]+ \(3 unchanged\)$"
    assert re.search(noop, out, re.M), out
    assert re.search(r"^\s+update \(3 commits\): flow .* \(3 updated\)$", out, re.M), out
    # Detection ran as one task for the repository, not one per application.
    batch = r"Task run 'detect 3 apps in file://\S+@main' - Finished in state Completed"
    assert re.search(batch, logs), logs[-3000:]
    assert "Task run 'detect app-" not in logs, logs[-3000:]
