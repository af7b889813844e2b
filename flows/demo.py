"""The main job on an embedded default: Ferry deployed as a team would run it, carrying one ``git push``.

``scripts/demo.sh`` runs this. It brings up the deployed system on loopback
(:mod:`ferry.devenv.system`): a Prefect server with the ``ferry`` work pool,
every deployment of ``prefect.yaml`` with its schedules and triggers, a worker,
``ferry receive``, a registry that notifies it, four Kubernetes clusters built
from the official sources (dev, staging, and Production's two regions), the echo
server's source repo (whose post-receive hook announces pushes) and the seed's deploy repo. v1 is installed by
deployment runs. Then the demo does what a developer does, and nothing else::

    git push origin HEAD:release-v3

and watches the triggers carry it: ``ci-build`` builds and pushes
``v3-<sha6>``, ``image-updater`` writes it back, ``sync-dev`` syncs Dev, and
``release`` validates Dev and suspends at "Dev verified?" with the worker free.
The demo prints the paused run's link and exits; everything keeps running.

Staging rolls out with Ferry's native canary; Production is two waves, one region
each (``production``, then ``production-2``), each with its gate; there the echo server
is an Argo ``Rollout``, carried out by the real Argo Rollouts controller that the
sandbox starts on both clusters, with a gate at each of its pauses.

``--approve-all`` answers every gate through the REST API (as the UI's Resume
form does) until Staging and Production run the new tag, and prints the release's
fleet view (the ``release-status-echo-server`` artifact); ``--stop-after``
stops everything at the end; ``--down`` stops a running demo.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.syntax import Syntax

from ferry.config import load_config
from ferry.devenv.prefect_api import FINAL_STATES
from ferry.devenv.seed import (
    CHART_PATH,
    MAIN_JOB_PLACES,
    PRODUCTION_ROLLOUT,
    PRODUCTION_WAVES,
    ROLLOUT_CLUSTERS,
)
from ferry.devenv.services import ServiceBook
from ferry.devenv.system import APPS, System, bring_up, install_v1, push_release
from ferry.release.argo import ARGO_API
from ferry.sandbox import cluster as sandbox
from ferry.sandbox import rollouts
from ferry.sandbox.state import Cluster
from ferry.sandbox.versions import ARGO_ROLLOUTS_VERSION
from ferry.sync.engine import SyncEngine

console = Console()
STAGE_TIMEOUT = 900.0  # generous: a first run on a cold machine compiles every module once


def _step(text: str) -> None:
    console.rule(f"[bold cyan]{text}")


def _git(bare: Path, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={bare}", *args], check=True, capture_output=True, text=True
    ).stdout


def _ferry(*args: str) -> str:
    ferry = Path(sys.executable).with_name("ferry")
    return subprocess.run([str(ferry), *args], capture_output=True, text=True, check=False).stdout


def stop_everything(workdir: Path) -> list[str]:
    """Stop every service the demo recorded and its clusters, by PID."""
    stopped = ServiceBook(workdir).stop_all()
    stopped += [f"cluster {name}" for name in sandbox.down(state_root=workdir / "clusters")]
    return stopped


def still_running(workdir: Path) -> list[str]:
    """What is left of a demo after a failed stop, each with the command that stops it."""
    left = [f"{s.name} (PID {s.pid}): {s.how_to_stop()}" for s in ServiceBook(workdir).still_running()]
    for cluster in sandbox.load(workdir / "clusters"):
        for component, alive in cluster.running().items():
            if alive:
                pid = next(p.pid for p in cluster.processes if p.component == component)
                left.append(f"cluster {cluster.name} {component} (PID {pid}): kill -TERM -- -{pid}")
    return left


def _controller(cluster: Cluster) -> str:
    """Where the cluster's Argo Rollouts controller runs, or nothing when it has none."""
    process, ports = rollouts.controller_process(cluster), rollouts.controller_ports(cluster)
    if process is None or ports is None:
        return ""
    return f"  + Argo Rollouts controller {ARGO_ROLLOUTS_VERSION} (PID {process.pid}, {ports.healthz_url})"


def production_rollouts(system: System) -> str:
    """Production's echo servers, one per region, as the controllers report them: image, phase, stable and
    current pod hash."""
    assert system.config is not None
    lines = []
    with SyncEngine(load_config(system.config)) as engine:
        for place in ROLLOUT_CLUSTERS:
            target = engine.target(APPS[place])
            live = engine.connect(target).get(ARGO_API, "Rollout", PRODUCTION_ROLLOUT, target.namespace)
            if live is None:
                lines.append(f"{place}: no Rollout {PRODUCTION_ROLLOUT}")
                continue
            status = live.get("status") or {}
            image = live["spec"]["template"]["spec"]["containers"][0]["image"]
            lines.append(
                f"{place} Rollout {PRODUCTION_ROLLOUT}: {image}, phase {status.get('phase')}, "
                f"stableRS {status.get('stableRS')}, currentPodHash {status.get('currentPodHash')}"
            )
    return "\n".join(lines)


def release_status(system: System, run_id: str) -> str:
    """The newest version of the run's fleet view, the ``release-status-<release>`` artifact."""
    with system.api() as api:
        # Newest first: every change to the fleet is a new version of the one key.
        found = [a for a in api.artifacts(run_id) if str(a.get("key") or "").startswith("release-status-")]
    return str(found[0]["data"]) if found else "(no release-status artifact)"


def _done(run: dict[str, Any]) -> bool:
    return run["state_type"] in FINAL_STATES


def _show(system: System, run: dict[str, Any], since: float) -> None:
    message = str((run.get("state") or {}).get("message") or "").splitlines()[:1]
    head = message[0][:90] + ("…" if len(message[0]) > 90 else "") if message else ""
    console.print(
        f"  [bold]{run['name']}[/bold]  {run['state_name']} after {time.time() - since:.0f} s"
        f"{'  ' + head if head else ''}\n  {system.run_link(run['id'])}"
    )


def follow_release(system: System, version: str) -> dict[str, Any]:
    """Push ``release-<version>`` and watch each stage's deployment run; return the paused release run."""
    assert system.source is not None and system.deploy_repo is not None
    sha, pushed_at = push_release(system, version)
    console.print(f"pushed release-{version} at {sha[:7]}; from here on, only triggers act")
    tag = f"{version}-{sha[:6]}"
    stages = [
        ("ci-build", lambda r: _done(r) and tag in str((r.get("state") or {}).get("message"))),
        (
            "image-updater",
            lambda r: _done(r) and r["name"].startswith("image-update ") and "app" in r["name"],
        ),
        ("sync-dev", lambda r: _done(r) and "app-helm-dev@" in r["name"]),
    ]
    for deployment, done in stages:
        run = system.wait_for_run(
            deployment, done, after=pushed_at - 1, timeout=STAGE_TIMEOUT, what=f"{deployment} for {tag}"
        )
        _show(system, run, pushed_at)
        if run["state_type"] != "COMPLETED":
            raise SystemExit(f"{deployment} ended {run['state_name']}: see {system.run_link(run['id'])}")
    release = system.wait_for_gate("verified-dev-*", after=pushed_at - 1, timeout=STAGE_TIMEOUT)
    _show(system, release, pushed_at)
    return release


def approve_every_gate(system: System, run_id: str, timeout: float = 1800.0) -> dict[str, Any]:
    """Play the operator: approve each gate as it opens, through the REST API, until the run ends."""
    deadline = time.monotonic() + timeout
    answered: set[str] = set()
    with system.api() as api:
        while time.monotonic() < deadline:
            run = api.flow_run(run_id)
            if _done(run):
                console.print(f"release finished after {len(answered)} approvals: {run['state_name']}")
                return run
            key = ((run.get("state") or {}).get("state_details") or {}).get("pause_key") or ""
            if run["state_type"] == "PAUSED" and key not in answered:
                answer = {
                    "decision": "approve",
                    "approver": "demo",
                    "comment": "scripts/demo.sh --approve-all",
                }
                result = api.resume(run_id, answer)
                if result.get("status") != "ACCEPT":
                    raise SystemExit(f"the server refused the answer to {key}: {result}")
                answered.add(key)
                console.print(
                    f"approved {key}: {(run.get('state') or {}).get('message', '').splitlines()[0]}"
                )
            time.sleep(0.5)
    raise SystemExit(f"the release did not finish within {timeout:.0f} s")


def run(workdir: Path, *, approve_all: bool = False, stop_after: bool = False) -> None:
    stop_everything(workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)

    _step(
        f"Kubernetes clusters {', '.join(MAIN_JOB_PLACES)} (kube-apiserver, etcd, kwok), "
        f"Argo Rollouts on {', '.join(ROLLOUT_CLUSTERS)}"
    )
    clusters = sandbox.up(
        tuple(MAIN_JOB_PLACES), state_root=workdir / "clusters", argo_rollouts=ROLLOUT_CLUSTERS
    )
    for c in clusters.clusters:
        console.print(f"{c.name:<12} {c.server}{_controller(c)}")

    system = bring_up(workdir, clusters, step=_step)
    assert system.config is not None and system.deploy_repo is not None
    console.print(f"Prefect UI: [link={system.ui_url}]{system.ui_url}[/link]   config {system.config}")

    _step("git push origin HEAD:release-v1, then v1 installed by deployment runs (sync-dev, sync)")
    tag = install_v1(system)
    console.print(f"every environment runs {tag}\n{production_rollouts(system)}")

    _step("A new commit and git push origin HEAD:release-v3: the triggers do the rest")
    release = follow_release(system, "v3")
    path = f"{CHART_PATH}/.argocd-source-app-helm-dev.yaml"
    console.print(_git(system.deploy_repo, "log", "--stat", "--format=%n%h %s%n%b", "-3"))
    console.print(f"[bold]{path}[/bold]")
    console.print(Syntax(_git(system.deploy_repo, "show", f"main:{path}"), "yaml"))
    console.print(_ferry("apps", "-c", str(system.config)))
    state = release.get("state") or {}
    waves = "; ".join(
        f'"Sync production wave {n} ({region})?" for {app}'
        for n, (region, app) in enumerate(PRODUCTION_WAVES, 1)
    )
    console.print(
        f"The release is [bold]{release['state_name']}[/bold] at [bold]Dev verified?[/bold] "
        f"(its process has exited; the worker is free):\n{state.get('message', '')}\n\n"
        f"  {system.run_link(release['id'])}\n\n"
        "Open it, press Resume, choose approve or reject, give your name, submit: each approval "
        "opens the next gate. Staging's native canary asks at steps 1/2 and 2/2. Production goes in "
        f"{len(PRODUCTION_WAVES)} waves, each asked first ({waves}); in each, the region's Argo Rollout "
        "asks at each pause its controller makes, step 2/4 (25 %) and 4/4 (50 %)."
    )
    if approve_all:
        _step("--approve-all: every gate approved through the REST API")
        final = approve_every_gate(system, str(release["id"]))
        console.print(_ferry("apps", "-c", str(system.config)))
        console.print(production_rollouts(system))
        # A markdown table is read whole: soft_wrap keeps rich from cropping rows at the terminal's width.
        console.print(
            release_status(system, str(release["id"])), markup=False, highlight=False, soft_wrap=True
        )
        if final["state_type"] != "COMPLETED":
            raise SystemExit(f"the release ended {final['state_name']}: {system.run_link(final['id'])}")
    console.print(
        f"\nRuns: {system.ui_url}/runs   Deployments: {system.ui_url}/deployments   "
        f"Work pools: {system.ui_url}/work-pools\n"
        f"Apps: .venv/bin/ferry apps -c {system.config}"
        + ("" if stop_after else "\nStop everything with: scripts/demo.sh --down")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/demo.sh", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "ferry" / "demo")
    parser.add_argument("--down", action="store_true", help="stop the demo's background services and exit")
    parser.add_argument("--stop-after", action="store_true", help="stop everything when done")
    parser.add_argument("--approve-all", action="store_true", help="answer every gate with approve")
    args = parser.parse_args(argv)
    if args.down:
        stopped = stop_everything(args.workdir)
        console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
        return _report_left(args.workdir)
    try:
        run(args.workdir, approve_all=args.approve_all, stop_after=args.stop_after)
    except BaseException as exc:
        console.print(f"[red]the demo failed:[/red] {exc}")
        console.print(f"stopping what it started: {', '.join(stop_everything(args.workdir)) or 'nothing'}")
        _report_left(args.workdir)
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            return 1
        raise
    finally:
        if args.stop_after:
            console.print(f"--stop-after: stopped {', '.join(stop_everything(args.workdir)) or 'nothing'}")
    return _report_left(args.workdir) if args.stop_after else 0


def _report_left(workdir: Path) -> int:
    left = still_running(workdir)
    if left:
        console.print("[red]still running[/red] (stop each with the command shown):\n  " + "\n  ".join(left))
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
