"""Benchmark: one deploy repo with N Helm Applications on one image, three update cycles (issue 14).

Everything is real: a CNCF Distribution registry on loopback holding ``--tags`` tags
of one image, a bare deploy repo over file:// and ``ferry update``'s own code path
(``NO_PORTS.update_cycle``, in-process, held tags included). A counting proxy sits
in front of the registry so each cycle's requests can be reported; it forwards
everything unchanged.

The cycles, each in a fresh updater as each ``ferry update`` is:

1. first no-op: cold cache (clone, tag lists), every app already on the newest tag;
2. update: one newer tag is pushed, every app moves to it (N commits, one push);
3. repeat no-op: nothing new.

Beside them, anchors from the same run show what the machine does meanwhile: one
``git ls-tree -r`` plus ``git cat-file --batch`` of every blob of the repo, and one raw
``tags/list`` GET.

Usage: ``.venv/bin/python -m bench.update_scale [--apps 300] [--tags 20] [--profile 15]
[--profile-update 15]``;
``--apps 5 --tags 3`` is a smoke run.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

# Run as a script (``python bench/update_scale.py``), the repo root is not on the path; the
# counting proxy lives with the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ferry.config import load_config
from ferry.devenv.registry import start_registry
from ferry.devenv.scale import REPOSITORY, ScaleLayout, push_tags, semver_tag, write_scale
from ferry.ports import NO_PORTS
from ferry.update.outcomes import CycleReport, UpdateStatus
from tests.registry.servers import LoopbackProxy


def _timed(call: Callable[[], CycleReport]) -> tuple[float, CycleReport]:
    started = time.monotonic()
    report = call()
    return time.monotonic() - started, report


def _anchor_git(bare: Path) -> float:
    """One read of the whole tree: list it, then every blob through one ``cat-file --batch``."""
    started = time.monotonic()
    listing = subprocess.run(
        ["git", f"--git-dir={bare}", "ls-tree", "-r", "main"], check=True, capture_output=True, text=True
    ).stdout
    blobs = "".join(line.split()[2] + "\n" for line in listing.splitlines())
    subprocess.run(
        ["git", f"--git-dir={bare}", "cat-file", "--batch"],
        input=blobs.encode(),
        check=True,
        capture_output=True,
    )
    return time.monotonic() - started


def _anchor_tags(registry_url: str) -> float:
    started = time.monotonic()
    httpx.get(f"{registry_url}/v2/{REPOSITORY}/tags/list").raise_for_status()
    return time.monotonic() - started


class Counter:
    """Requests the proxy saw since the last :meth:`take`: all of them, and the ``tags/list`` ones."""

    def __init__(self, proxy: LoopbackProxy) -> None:
        self._proxy = proxy
        self._seen = 0

    def take(self) -> tuple[int, int]:
        new = self._proxy.seen[self._seen :]
        self._seen = len(self._proxy.seen)
        return len(new), sum(1 for method, path, _ in new if method == "GET" and "/tags/list" in path)


def _cycle(layout: ScaleLayout, profile: int) -> CycleReport:
    config = load_config(layout.config)
    if not profile:
        return NO_PORTS.update_cycle(config)
    profiler = cProfile.Profile()
    report = profiler.runcall(NO_PORTS.update_cycle, config)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(profile)
    return report


def _expect(report: CycleReport, status: UpdateStatus, apps: int) -> None:
    counts = {s.value: report.count(s) for s in UpdateStatus if report.count(s)}
    if report.count(status) != apps:
        errors = [o.error for o in report.outcomes if o.error][:3]
        raise SystemExit(f"expected {apps} {status.value}, got {counts}; first errors: {errors}")


def run(root: Path, apps: int, tags: int, profile: int, profile_update: int) -> None:
    registry = start_registry(root / "registry")
    try:
        names = [semver_tag(i) for i in range(tags)]
        push_tags(registry.url, names)
        with LoopbackProxy(registry.url) as proxy:
            counter = Counter(proxy)
            layout = write_scale(
                root / "scenario",
                registry_host=registry.host,
                registry_api=proxy.url,
                apps=apps,
                current_tag=names[-1],
            )
            os.chdir(root / "scenario")  # the config's cache_dir is relative
            print(f"{apps} applications, {tags} tags, load average {os.getloadavg()[0]:.2f}")
            cycles = []
            seconds, report = _timed(lambda: _cycle(layout, 0))
            _expect(report, UpdateStatus.UNCHANGED, apps)
            cycles.append(("first no-op", seconds, *counter.take()))
            push_tags(registry.url, ["v1.1.0"])
            seconds, report = _timed(lambda: _cycle(layout, profile_update))
            _expect(report, UpdateStatus.UPDATED, apps)
            cycles.append((f"update ({apps} commits)", seconds, *counter.take()))
            seconds, report = _timed(lambda: _cycle(layout, 0))
            _expect(report, UpdateStatus.UNCHANGED, apps)
            cycles.append(("repeat no-op", seconds, *counter.take()))
            if profile:  # once more, profiled: the profiler's overhead stays out of the figures
                _expect(_cycle(layout, profile), UpdateStatus.UNCHANGED, apps)
                counter.take()
            for name, seconds, requests, listed in cycles:
                per_app = seconds / apps * 1000
                print(
                    f"{name:>22}: {seconds:6.2f}s ({per_app:5.1f} ms/app), "
                    f"{requests} registry requests, {listed} tags/list"
                )
            tree = _anchor_git(layout.bare)
            print(f"{'anchor git tree read':>22}: {tree:6.3f}s (ls-tree -r + cat-file --batch)")
            print(f"{'anchor tags/list GET':>22}: {_anchor_tags(registry.url):6.3f}s")
            print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        registry.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=300, help="Applications in the deploy repo")
    parser.add_argument("--tags", type=int, default=20, help="tags of the image before the update")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="profile a second repeat no-op; print the top N"
    )
    parser.add_argument(
        "--profile-update", type=int, default=0, metavar="N", help="profile the update cycle; print the top N"
    )
    args = parser.parse_args()
    cwd = os.getcwd()
    try:
        with tempfile.TemporaryDirectory(prefix="ferry-scale-") as tmp:
            run(Path(tmp), args.apps, args.tags, args.profile, args.profile_update)
    finally:
        os.chdir(cwd)


if __name__ == "__main__":
    main()
