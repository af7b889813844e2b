"""Benchmark: the ``image-update`` flow beside ``ferry update`` on the same fixture, same run (issue 14).

The goal is the flow within 1.5x of the CLI's cycle. Both run in this process on the
scenario of ``bench/update_scale.py`` (a real registry on loopback, a bare deploy repo
over file://, Helm Applications on one image):

- a no-op at ``--apps`` applications (every app already on the newest tag), after one
  untimed CLI cycle has cloned the repo and filled the registry cache and one flow run
  (timed and shown apart) has imported the flow and opened Prefect's clients, so both
  sides start warm; then ``--repeat`` runs of each side, medians compared;
- an update at ``--update-apps`` applications, on a second image and repo of its own:
  a newer tag is pushed, the CLI moves every app to it, another newer tag is pushed
  and the flow does the same, so each side makes the same number of commits and one push.

The flow is the deployed flow function called in-process, as a worker's subprocess
calls it, against a Prefect server: the one at ``PREFECT_API_URL`` when that is set
(the test suite's session harness), else Prefect's test harness started here, whose
start-up is not timed.

Usage: ``.venv/bin/python bench/flow_scale.py [--apps 300] [--update-apps 40] [--tags 20]
[--profile 25] [--repeat 3]``; ``--apps 3 --update-apps 3 --tags 3 --repeat 1`` is a smoke run.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# Run as a script, the repo root is not on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ferry.config import load_config
from ferry.devenv.registry import start_registry
from ferry.devenv.scale import ScaleLayout, push_tags, semver_tag, write_scale
from ferry.ports import NO_PORTS
from ferry.update.outcomes import UpdateStatus

NOOP_REPOSITORY = "scale/echo"
UPDATE_REPOSITORY = "scale/moving"


@contextlib.contextmanager
def prefect_server() -> Iterator[str]:
    """The server the flow reports to; heartbeats off, as in the test suite (each costs a join per run)."""
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        if os.environ.get("PREFECT_API_URL"):
            yield os.environ["PREFECT_API_URL"]
            return
        from prefect.testing.utilities import prefect_test_harness

        with prefect_test_harness(server_startup_timeout=240):
            yield str(PREFECT_API_URL.value())


def cli_cycle(layout: ScaleLayout) -> dict[str, int]:
    """``ferry update``'s code path; the statuses counted."""
    report = NO_PORTS.update_cycle(load_config(layout.config))
    return {s.value: report.count(s) for s in UpdateStatus if report.count(s)}


def flow_cycle(layout: ScaleLayout) -> dict[str, int]:
    """The ``image-update`` flow's run; the statuses of its per-application results counted."""
    from flows.image_update import image_update

    state = image_update(config=str(layout.config), return_state=True)
    results: list[dict[str, Any]] = state.result(raise_on_failure=False)
    counts: dict[str, int] = {}
    for row in results:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def timed(call: Callable[[], dict[str, int]]) -> tuple[float, dict[str, int]]:
    started = time.monotonic()
    counts = call()
    return time.monotonic() - started, counts


def expect(what: str, counts: dict[str, int], status: UpdateStatus, apps: int) -> None:
    if counts != {status.value: apps}:
        raise SystemExit(f"{what}: expected {apps} {status.value}, got {counts}")


def profiled(call: Callable[[], dict[str, int]], top: int) -> dict[str, int]:
    profiler = cProfile.Profile()
    counts = profiler.runcall(call)
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return counts


def report(name: str, flow: float, cli: float, counts: dict[str, int]) -> None:
    states = ", ".join(f"{n} {s}" for s, n in counts.items())
    print(f"{name:>24}: flow {flow:6.2f}s, cli {cli:6.2f}s, ratio {flow / cli:4.2f} ({states})")


def run(root: Path, apps: int, update_apps: int, tags: int, profile: int, repeat: int) -> None:
    registry = start_registry(root / "registry")
    try:
        names = [semver_tag(i) for i in range(tags)]
        push_tags(registry.url, names, NOOP_REPOSITORY)
        push_tags(registry.url, names, UPDATE_REPOSITORY)
        noop, moving = (
            write_scale(
                root / name,
                registry_host=registry.host,
                registry_api=registry.url,
                apps=count,
                current_tag=names[-1],
                repository=repository,
            )
            for name, count, repository in (
                ("noop", apps, NOOP_REPOSITORY),
                ("update", update_apps, UPDATE_REPOSITORY),
            )
        )
        with prefect_server():
            print(f"machine: {os.cpu_count()} cores; /proc/loadavg at start: {loadavg()}")
            os.chdir(noop.config.parent)  # the config's cache_dir is relative
            expect("warm-up cli no-op", cli_cycle(noop), UpdateStatus.UNCHANGED, apps)
            # The first flow run in a process also imports the flow module and opens Prefect's
            # clients; a worker pays that once per flow-run process, so it is shown on its own.
            first, counts = timed(lambda: flow_cycle(noop))
            expect("first flow no-op", counts, UpdateStatus.UNCHANGED, apps)
            print(f"{'first flow run':>24}: flow {first:6.2f}s (imports and clients included)")
            clis, flows = [], []
            for _ in range(repeat):
                cli, counts = timed(lambda: cli_cycle(noop))
                expect("cli no-op", counts, UpdateStatus.UNCHANGED, apps)
                flow, counts = timed(lambda: flow_cycle(noop))
                expect("flow no-op", counts, UpdateStatus.UNCHANGED, apps)
                clis.append(cli)
                flows.append(flow)
            report(f"no-op ({apps} apps)", statistics.median(flows), statistics.median(clis), counts)
            print(f"{'':>24}  medians of {repeat}; flow {fmt(flows)}, cli {fmt(clis)}")

            os.chdir(moving.config.parent)
            expect("warm-up cli no-op", cli_cycle(moving), UpdateStatus.UNCHANGED, update_apps)
            push_tags(registry.url, ["v1.1.0"], UPDATE_REPOSITORY)
            cli, counts = timed(lambda: cli_cycle(moving))
            expect("cli update", counts, UpdateStatus.UPDATED, update_apps)
            push_tags(registry.url, ["v1.2.0"], UPDATE_REPOSITORY)
            flow, counts = timed(lambda: flow_cycle(moving))
            expect("flow update", counts, UpdateStatus.UPDATED, update_apps)
            report(f"update ({update_apps} commits)", flow, cli, counts)
            print(f"/proc/loadavg at end: {loadavg()}")

            if profile:  # after the figures, so the profiler's overhead stays out of them
                os.chdir(noop.config.parent)
                expect(
                    "profiled flow no-op",
                    profiled(lambda: flow_cycle(noop), profile),
                    UpdateStatus.UNCHANGED,
                    apps,
                )
    finally:
        registry.stop()


def fmt(times: list[float]) -> str:
    return " ".join(f"{t:.2f}" for t in times)


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=300, help="Applications in the no-op's deploy repo")
    parser.add_argument("--update-apps", type=int, default=40, help="Applications the update moves")
    parser.add_argument("--tags", type=int, default=20, help="tags of each image before the update")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="profile one more flow no-op; print the top N"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed no-op runs per side (median shown)")
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    cwd = os.getcwd()
    try:
        with tempfile.TemporaryDirectory(prefix="ferry-flow-scale-") as tmp:
            run(Path(tmp), args.apps, args.update_apps, args.tags, args.profile, args.repeat)
    finally:
        os.chdir(cwd)


if __name__ == "__main__":
    main()
