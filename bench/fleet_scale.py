"""Benchmark: 1,000 Applications over 3 deploy repos and 10 images, one cycle across 2 workers (issue 17).

Everything is real and on loopback: PostgreSQL under a Prefect server, a process work pool
with two workers (``--limit 2`` each), CNCF Distribution behind a proxy that timestamps
every request it forwards, bare deploy repos over file://. The cycle is the
``image-update`` flow run as a deployment, as a schedule or the UI starts it:

- ``spread``: the run starts one child run per deploy repository (three), which the two
  workers share; the registry's ``limit:`` is one Prefect rate limit all children take from;
- ``one run``: the same cycle in a single run on one worker, the anchor in the same run.

Rounds: a cold no-op (fresh clones, empty registry cache), an update of every app (each
image gets a newer tag: 1,000 commits, one push per repository), then the anchor's update
(one more tag) and a warm no-op of each kind, and last ``ferry update``'s own cycle (the CLI, in
this process: no Prefect at all) on one more tag and a warm no-op. Per round: the cycle's wall time, the
registry requests and their rate (mean over the cycle, and the most in any one second,
beside the limit), which worker ran each child, and each worker's peak memory (the
worker process and the flow-run processes it started, RSS summed, sampled every 0.1 s).

Usage: ``.venv/bin/python bench/fleet_scale.py [--apps 1000] [--repos 3] [--images 10] [--tags 20]
[--limit 20]``; ``--apps 12 --images 2 --tags 2`` is a smoke run.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Run as a script, the repo root is not on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ferry.config import load_config
from ferry.devenv.fleet import Fleet, start_fleet
from ferry.devenv.postgres import start_server
from ferry.devenv.prefect_api import PrefectApi, parse_time
from ferry.devenv.registry import start_registry
from ferry.devenv.scale import FleetLayout, push_tags, semver_tag, write_fleet
from ferry.devenv.services import ServiceBook
from ferry.ports import NO_PORTS
from ferry.update.outcomes import UpdateStatus
from tests.registry.servers import StampingProxy


def busiest_second(times: list[float]) -> int:
    """The most requests that arrived within any one second (a sliding window over sorted times)."""
    most = 0
    for i, start in enumerate(times):
        most = max(most, bisect.bisect_right(times, start + 1.0 - 1e-9) - i)
    return most


class MemorySampler:
    """Peak RSS of each worker's process tree (the worker and the flow-run processes under it)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.peaks = dict.fromkeys(pids, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @contextmanager
    def sampling(self) -> Iterator[dict[str, int]]:
        self.peaks = dict.fromkeys(self.pids, 0)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        try:
            yield self.peaks
        finally:
            self._stop.set()
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            tree = _process_tree()
            for name, pid in self.pids.items():
                self.peaks[name] = max(self.peaks[name], sum(_rss_kib(p) for p in _descendants(tree, pid)))


def _process_tree() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    return children


def _descendants(tree: dict[int, list[int]], pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(tree.get(current, []))
    return found


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _counts(api: PrefectApi, run_id: str) -> dict[str, int]:
    tables = [a for a in api.artifacts(run_id) if a.get("key") == "image-updates"]
    if not tables:
        return {}
    counts: dict[str, int] = {}
    for row in json.loads(tables[0]["data"]):
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def _submitter(api: PrefectApi, run_id: str, since: float) -> str:
    for event in api.events(["prefect.worker.submitted-flow-run"], since - 5):
        if f"prefect.flow-run.{run_id}" in {r["prefect.resource.id"] for r in event.get("related") or []}:
            return str(event["resource"]["prefect.resource.name"])
    return "?"


def _duration(run: dict[str, Any]) -> float:
    start, end = parse_time(run.get("start_time")), parse_time(run.get("end_time"))
    return (end - start) if start and end else float("nan")


def round_(
    name: str, fleet: Fleet, layout: FleetLayout, proxy: StampingProxy, sampler: MemorySampler, spread: bool
) -> None:
    since, began = time.time(), time.monotonic()
    seen = len(proxy.stamps)
    with sampler.sampling() as peaks:
        run = fleet.cycle(layout.config, spread=spread)
    wall = time.monotonic() - began
    arrivals = sorted(proxy.stamps[seen:])
    with fleet.api() as api:
        counts = _counts(api, run["id"])
        children = fleet.children(run["id"]) if spread else []
        where = {c["id"]: _submitter(api, c["id"], since) for c in children}
        parent_worker = _submitter(api, run["id"], since)
    states = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    span = (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else 0.0
    rate = len(arrivals) / span if span else float(len(arrivals))
    print(f"\n{name}: {run['state_name']} in {wall:.1f} s wall, run {_duration(run):.1f} s ({states})")
    print(
        f"  registry: {len(arrivals)} requests over {span:.1f} s, {rate:.1f}/s mean, "
        f"busiest second {busiest_second(arrivals)} (limit {layout_limit(layout)}/s)"
    )
    print(f"  parent on {parent_worker}")
    for child in children:
        took = _duration(child)
        print(f"  child {child['name']!r} on {where[child['id']]}: {child['state_name']} in {took:.1f} s")
    print("  peak RSS: " + ", ".join(f"{w} {kib / 1024:.0f} MiB" for w, kib in peaks.items()))
    if run["state_type"] != "COMPLETED":
        message = (run.get("state") or {}).get("message")
        raise SystemExit(f"{name}: the run ended {run['state_name']}: {message}")


def cli_round(name: str, layout: FleetLayout, proxy: StampingProxy) -> None:
    """The anchor: the same cycle as ``ferry update`` runs it, in this process (no Prefect, no worker)."""
    seen, began = len(proxy.stamps), time.monotonic()
    report = NO_PORTS.update_cycle(load_config(layout.config))
    wall = time.monotonic() - began
    counts = ", ".join(f"{report.count(s)} {s.value}" for s in UpdateStatus if report.count(s))
    print(f"\n{name}: {wall:.1f} s ({counts}); registry: {len(proxy.stamps) - seen} requests")


def layout_limit(layout: FleetLayout) -> str:
    import yaml

    registry = yaml.safe_load(layout.config.read_text())["registries"][0]
    return str(registry.get("limit", "none"))


def run(root: Path, apps: int, repos: int, images: int, tags: int, limit: float) -> None:
    book = ServiceBook(root)
    registry = start_registry(root / "registry")
    try:
        api_url, env = start_server(root, book, "postgres")
        env["PREFECT_WORKER_QUERY_SECONDS"] = "1"  # a child waits at most a second for a worker
        with StampingProxy(registry.url) as proxy:
            names = [semver_tag(i) for i in range(tags)]
            pushed = time.monotonic()
            for k in range(images):
                push_tags(registry.url, names, f"fleet/img-{k:02d}")
            print(f"pushed {tags} tags of {images} images in {time.monotonic() - pushed:.1f} s")
            layout = write_fleet(
                root / "fleet",
                registry_host=registry.host,
                registry_api=proxy.url,
                apps=apps,
                repos=repos,
                images=images,
                current_tag=names[-1],
                limit=limit,
            )
            fleet = start_fleet(api_url, env, root, book, workers=2, limit=2)
            sampler = MemorySampler({n: s.pid for n, s in fleet.workers.items()})
            print(f"machine: {os.cpu_count()} cores; /proc/loadavg at start: {loadavg()}")
            print(f"fleet: {apps} apps over {repos} repos and {images} images; registry limit {limit}/s")
            round_("cold no-op, spread", fleet, layout, proxy, sampler, spread=True)
            for repository in layout.repositories:
                push_tags(registry.url, ["v1.1.0"], repository)
            round_("update every app, spread", fleet, layout, proxy, sampler, spread=True)
            round_("warm no-op, spread", fleet, layout, proxy, sampler, spread=True)
            for repository in layout.repositories:
                push_tags(registry.url, ["v1.2.0"], repository)
            round_("update every app, one run", fleet, layout, proxy, sampler, spread=False)
            round_("warm no-op, one run", fleet, layout, proxy, sampler, spread=False)
            for repository in layout.repositories:
                push_tags(registry.url, ["v1.3.0"], repository)
            cli_round("update every app, ferry update (CLI, no Prefect)", layout, proxy)
            cli_round("warm no-op, ferry update (CLI, no Prefect)", layout, proxy)
            print(f"\n/proc/loadavg at end: {loadavg()}")
    finally:
        book.stop_all()
        registry.stop()


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--repos", type=int, default=3)
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--tags", type=int, default=20, help="tags of each image before the update")
    parser.add_argument("--limit", type=float, default=20.0, help="the registry's limit: (requests/s)")
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    with tempfile.TemporaryDirectory(prefix="ferry-fleet-") as tmp:
        run(Path(tmp), args.apps, args.repos, args.images, args.tags, args.limit)


if __name__ == "__main__":
    main()
