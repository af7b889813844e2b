"""Push → Dev Synced and Healthy at the new tag, on the deployed system, broken down by stage.

The system is the demo's (:mod:`ferry.devenv.system`): a real Prefect server, every deployment of
``prefect.yaml``, a process worker, ``ferry receive``, a notifying registry, three sandbox
clusters. The periodic schedules are paused while measuring, so only the triggers act.

Two starting points:

* ``--from registry``: both images pushed by hand (blobs + manifest PUTs over HTTP); the clock
  starts when the last manifest PUT returns;
* ``--from git``: a commit and ``git push origin HEAD:release-vN`` on the source repo; the clock
  starts when the push returns (the post-receive hook has announced it by then).

The clock stops when both Dev Deployments run the new tag and are available (polled every
0.1 s on the cluster). Three ways to run the hot path:

* ``--worker default``: Prefect's worker defaults (``PREFECT_WORKER_QUERY_SECONDS=10``);
* ``--worker tuned``: the demo's worker (query every 1 s);
* ``--worker warm``: the tuned worker, plus ``flows.hot_path`` (one warm process that runs the
  image updater and Dev's sync as tasks on each ``ferry.image.pushed``) in place of the
  ``image-updater`` and ``sync-dev`` triggers.

Stages, from Prefect's own records (run states, event times, task runs): *trigger* (an event or
the push until the run exists), *pick-up* (created → Pending: the worker's poll), *process
start* (Pending → Running), *build* (ci-build Running → its ``ferry.image.pushed``), *update*
(updater running → ``ferry.image.updated``), *sync* (sync running → Dev available).

    .venv/bin/python -m bench.chain_latency --from registry --worker tuned --pushes 10
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ferry.config import load_config
from ferry.devenv.oci import OciPusher
from ferry.devenv.prefect_api import PrefectApi, parse_time
from ferry.devenv.seed import IMAGES, MAIN_JOB_PLACES, ROLLOUT_CLUSTERS
from ferry.devenv.services import Service, ServiceBook, spawn_service
from ferry.devenv.system import (
    APPS,
    PREFECT_DEFAULTS,
    PROJECT_DIR,
    TUNED,
    System,
    bring_up,
    install_v1,
    push_release,
)
from ferry.sandbox import cluster as sandbox
from ferry.sync.engine import SyncEngine
from ferry.sync.kube import KubeCluster

STAGES = ("trigger", "pick-up", "process start", "build", "update", "sync")


@dataclass
class Sample:
    """One push: seconds from the push to Dev available, and the stages that make it up."""

    tag: str
    total: float
    stages: dict[str, float] = field(default_factory=dict)


def _available(cluster: KubeCluster, namespace: str, tag: str) -> bool:
    for _, (repository, _) in IMAGES.items():
        name = repository.rsplit("/", 1)[-1]
        live = cluster.get("apps/v1", "Deployment", name, namespace) or {}
        spec, status = live.get("spec") or {}, live.get("status") or {}
        image = str(
            ((spec.get("template") or {}).get("spec") or {}).get("containers", [{}])[0].get("image", "")
        )
        wanted = spec.get("replicas", 1)
        if not image.endswith(f":{tag}") or (status.get("observedGeneration") or 0) < (
            live["metadata"].get("generation") or 0
        ):
            return False
        if status.get("updatedReplicas") != wanted or status.get("availableReplicas") != wanted:
            return False
    return True


def wait_dev(system: System, tag: str, timeout: float = 600) -> float:
    """Poll Dev until both Deployments run ``tag`` and are available; return that moment (epoch s)."""
    assert system.config is not None
    with SyncEngine(load_config(system.config)) as engine:
        cluster, namespace = engine.connect(APPS["dev"]), engine.target(APPS["dev"]).namespace
        deadline = time.monotonic() + timeout
        while not _available(cluster, namespace, tag):
            if time.monotonic() > deadline:
                raise TimeoutError(f"Dev never ran {tag} within {timeout:.0f} s")
            time.sleep(0.1)
    return time.time()


def _triggered(api: PrefectApi, deployment_id: str, since: float) -> dict[str, Any] | None:
    runs = [
        r
        for r in api.flow_runs(deployment_id=deployment_id)
        if (r.get("created_by") or {}).get("type") == "AUTOMATION"
        and (parse_time(r["created"]) or 0) >= since
    ]
    return min(runs, key=lambda r: r["created"]) if runs else None


def _run_stages(
    api: PrefectApi, run: dict[str, Any], started_by: float
) -> tuple[dict[str, float], float, float]:
    """(trigger, pick-up, process start) of one run, its Running time and its end."""
    states = api.states(run["id"])
    created = parse_time(run["created"]) or 0.0
    pending = states.get("Pending", created)
    running = states.get("Running", pending)
    return (
        {"trigger": created - started_by, "pick-up": pending - created, "process start": running - pending},
        running,
        parse_time(run.get("end_time")) or running,
    )


def breakdown(system: System, start: float, healthy: float, source: str, warm: bool) -> dict[str, float]:
    """Split ``start`` → ``healthy`` into stages, from run states, events and task runs."""
    totals = dict.fromkeys(STAGES, 0.0)

    def add(parts: dict[str, float]) -> None:
        for key, value in parts.items():
            totals[key] += max(0.0, value)

    with system.api() as api:
        ids = {d["name"]: d["id"] for d in api.deployments()}
        pushed = api.events(["ferry.image.pushed"], start - 1)
        updated = [
            e
            for e in api.events(["ferry.image.updated"], start - 1)
            if "app-helm-dev" in e["resource"]["prefect.resource.id"]
        ]
        pushed_at = parse_time(pushed[0]["occurred"]) if pushed else start
        updated_at = parse_time(updated[0]["occurred"]) if updated else healthy
        assert pushed_at is not None and updated_at is not None
        cursor = start
        if source == "git":
            ci = _triggered(api, ids["ci-build"], start - 1)
            if ci is not None:
                parts, running, _ = _run_stages(api, ci, start)
                add(parts)
                add({"build": pushed_at - running})
            cursor = pushed_at
        if warm:
            tasks = {
                t["name"]: t
                for t in api.task_runs("%", cursor - 1)
                if t["name"].startswith(("image-update on", "auto-sync"))
            }
            update = next((t for n, t in tasks.items() if n.startswith("image-update on")), None)
            sync = next((t for n, t in tasks.items() if n.startswith("auto-sync")), None)
            update_start = parse_time(update["start_time"]) if update else cursor
            sync_start = parse_time(sync["start_time"]) if sync else updated_at
            assert update_start is not None and sync_start is not None
            add(
                {
                    "trigger": update_start - cursor,
                    "update": updated_at - update_start,
                    "sync": healthy - sync_start,
                }
            )
            add({"update": sync_start - updated_at})
            return totals
        updater = _triggered(api, ids["image-updater"], cursor - 1)
        if updater is not None:
            parts, running, _ = _run_stages(api, updater, cursor)
            add(parts)
            add({"update": updated_at - running})
        sync_dev = _triggered(api, ids["sync-dev"], updated_at - 1)
        if sync_dev is not None:
            parts, running, _ = _run_stages(api, sync_dev, updated_at)
            add(parts)
            add({"sync": healthy - running})
    return totals


def push_images(system: System, tag: str) -> float:
    """Push both images at ``tag`` by hand; return when the last manifest PUT returned."""
    with OciPusher(system.registry_url, auth=system.registry_auth) as pusher:
        for repository, _ in IMAGES.values():
            # The seed's strategy is newest-build: an image without a created time never wins.
            pusher.push_image(repository, tag, created=datetime.now(UTC))
    return time.time()


def start_warm(system: System) -> Service:
    """Start ``flows.hot_path`` and turn off the two triggers it stands in for."""
    assert system.config is not None
    with system.api() as api:
        ids = {d["id"]: d["name"] for d in api.deployments()}
        for automation in api.automations():
            targets = {ids.get(a.get("deployment_id")) for a in automation["actions"]}
            if targets & {"image-updater", "sync-dev"}:
                api.set_automation_enabled(automation["id"], False)
    argv = [sys.executable, "-m", "flows.hot_path", "--config", str(system.config)]
    process = spawn_service(argv, system.root / "logs" / "hot-path.log", env=system.env, cwd=PROJECT_DIR)
    service = Service("hot-path", process.pid, "")
    system.book.add(service)
    log = system.root / "logs" / "hot-path.log"
    deadline = time.monotonic() + 300
    while "warm: waiting for" not in (log.read_text() if log.exists() else ""):
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"flows.hot_path did not start; see {log}")
        time.sleep(0.5)
    return service


def measure(system: System, *, source: str, pushes: int, warm: bool, gap: float) -> list[Sample]:
    samples = []
    for index in range(pushes):
        version = f"b{index + 1}"
        if source == "git":
            sha, start = push_release(system, version)
            tag = f"{version}-{sha[:6]}"
        else:
            tag = f"{version}-{os.urandom(3).hex()}"
            start = push_images(system, tag)
        healthy = wait_dev(system, tag)
        sample = Sample(tag, healthy - start, breakdown(system, start, healthy, source, warm))
        print(
            f"{tag}: {sample.total:.2f} s  " + "  ".join(f"{k} {v:.2f}" for k, v in sample.stages.items()),
            flush=True,
        )
        samples.append(sample)
        # A gap past the image-updater trigger's 15 s window, and past the release run each push starts.
        time.sleep(gap)
    return samples


def summary(samples: list[Sample]) -> str:
    totals = [s.total for s in samples]
    lines = [f"push → Dev available: median {statistics.median(totals):.2f} s, max {max(totals):.2f} s"]
    for stage in STAGES:
        values = [s.stages.get(stage, 0.0) for s in samples]
        lines.append(f"  {stage:<14} median {statistics.median(values):.2f} s, max {max(values):.2f} s")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--from", dest="source", choices=("registry", "git"), default="registry")
    parser.add_argument("--worker", choices=("default", "tuned", "warm"), default="tuned")
    parser.add_argument("--pushes", type=int, default=10)
    parser.add_argument("--gap", type=float, default=20.0, help="seconds between pushes")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    # A SIGTERM (timeout(1), a CI cancel) unwinds through the finally below, which stops it all.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="ferry-chain-") as tmp:
        root = Path(tmp)
        clusters = sandbox.up(
            tuple(MAIN_JOB_PLACES), state_root=root / "clusters", argo_rollouts=ROLLOUT_CLUSTERS
        )
        try:
            system = bring_up(
                root / "system", clusters, tuning=PREFECT_DEFAULTS if args.worker == "default" else TUNED
            )
            install_v1(system)
            with system.api() as api:
                for deployment in api.deployments():
                    api.set_schedules_active(deployment, False)
            if args.worker == "warm":
                start_warm(system)
            samples = measure(
                system, source=args.source, pushes=args.pushes, warm=args.worker == "warm", gap=args.gap
            )
        finally:
            ServiceBook(root / "system").stop_all()  # all of it, even after a failure half way
            sandbox.down(state_root=root / "clusters")
    after = os.getloadavg()
    print(
        f"from={args.source} worker={args.worker} pushes={len(samples)} "
        f"load before {load[0]:.1f}, after {after[0]:.1f}"
    )
    print(summary(samples))
    if args.json:
        args.json.write_text(
            json.dumps({"load": [load[0], after[0]], "samples": [asdict(s) for s in samples]}, indent=2)
        )


if __name__ == "__main__":
    main()
