"""The main job on an embedded default: the seed pipeline, end to end, on this machine.

``scripts/demo.sh`` runs this. It starts real services — a Prefect server (its
UI shows every run), a CNCF Distribution registry with htpasswd auth, three
Kubernetes clusters built from the official sources (dev, staging, production),
bare Git repos for the source and the deploy repo — and then runs the seed's
pipeline with Ferry's flows:

1. a developer pushes ``release-v1`` to the echo server's source repo; the
   ``ci-build`` flow builds both images with buildah and pushes ``v1-<sha6>``;
2. the deploy repo (the seed's Helm chart) starts at that tag; ``auto-sync``
   deploys it to Dev (``syncPolicy.automated``), and Staging and Production are
   installed by hand (``sync``), as an operator would have;
3. the developer pushes ``release-v3``: ``ci-build`` pushes ``v3-<sha6>``;
4. ``image-update`` writes the new tag back: one commit per Application, in Argo
   CD Image Updater's exact format, and a ``ferry.image.updated`` event each;
5. ``auto-sync`` rolls Dev to the new tag; Staging and Production are OutOfSync
   and untouched, as the seed requires;
6. the ``release`` flow runs the smoke-test Job in Dev and stops at its first gate,
   "Dev verified?": resume it from the Prefect UI (the link is printed). Each
   approval leads to the next gate: "Sync staging?", each canary step, then
   Production the same way.

The Prefect server, the clusters and the paused release keep running;
``scripts/demo.sh --down`` stops everything. ``--approve-all`` answers every gate
itself (approve, "demo") and waits for the release to finish.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import yaml
from rich.console import Console
from rich.syntax import Syntax

from ferry.devenv.registry import start_registry
from ferry.devenv.seed import CHART_PATH, IMAGES, SMOKE_JOB, create_deploy_repo, write_seed
from ferry.devenv.services import Service, ServiceBook, start_prefect_server
from ferry.devenv.source import build_rule, create_source_repo
from ferry.sandbox import cluster as sandbox

console = Console()


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
    stopped = ServiceBook(workdir).stop_all()
    stopped += [f"cluster {name}" for name in sandbox.down(state_root=workdir / "clusters")]
    return stopped


def run(workdir: Path, *, approve_all: bool = False) -> None:
    stop_everything(workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    book = ServiceBook(workdir)

    _step("Prefect server")
    server = start_prefect_server(workdir / "prefect")
    book.add(server)
    os.environ["PREFECT_API_URL"] = f"{server.url}/api"
    console.print(f"Prefect UI: [link={server.url}]{server.url}[/link]  (PID {server.pid})")

    _step("Kubernetes clusters: dev, staging, production (kube-apiserver, etcd, kwok)")
    clusters = sandbox.up(state_root=workdir / "clusters")
    for c in clusters.clusters:
        console.print(f"{c.name:<11} {c.server}")
    console.print(f"kubeconfig {clusters.kubeconfig}")

    _step("Registry (CNCF Distribution, htpasswd)")
    password = secrets.token_urlsafe(16)
    registry = start_registry(workdir / "registry", auth=("ferry-demo", password))
    os.environ["FERRY_DEMO_REGISTRY_CREDS"] = f"ferry-demo:{password}"
    console.print(
        f"registry {registry.url} (PID {registry.pid}); credentials via env:FERRY_DEMO_REGISTRY_CREDS"
    )
    try:
        cluster_entries = [
            {"name": c.name, "server": c.server, "kubeconfig": str(clusters.kubeconfig), "context": c.context}
            for c in clusters.clusters
        ]
        config, commit = _run_pipeline(workdir, registry.url, registry.host, cluster_entries)
        _step("release: the first gate")
        run_id = start_release(workdir, book, config, commit)
        console.print(
            "The release is paused at [bold]Dev verified?[/bold]: open\n"
            f"  {server.url}/runs/flow-run/{run_id}\n"
            "press Resume, tick 'approved' (add a comment) and submit; each approval leads to the next gate."
        )
        if approve_all:
            approve_every_gate(run_id)
    finally:
        registry.stop()
    console.print(
        f"\nRuns: {server.url}/runs   Apps: .venv/bin/ferry apps -c {workdir / 'config' / 'ferry.yaml'}\n"
        "Stop everything with: scripts/demo.sh --down"
    )


def _run_pipeline(
    workdir: Path, registry_url: str, host: str, clusters: list[dict[str, str]]
) -> tuple[str, str]:
    # Imported late: PREFECT_API_URL must be set before Prefect reads its settings.
    from flows.ci_build import ci_build
    from flows.image_update import image_update
    from flows.sync import auto_sync, sync

    _step("Source repo, deploy repo and the seed's Applications")
    source = create_source_repo(workdir / "git" / "echo-server.git")
    rules: list[dict[str, Any]] = []
    for alias, (repository, _) in IMAGES.items():
        rule = build_rule(source.url, host, name=alias)
        rules.append(
            {**rule, "image": f"{host}/{repository}", "credentials": "env:FERRY_DEMO_REGISTRY_CREDS"}
        )
    bare = workdir / "git" / "gitops-demo.git"
    layout = write_seed(
        workdir / "config",
        repo_url=bare.resolve().as_uri(),
        registry_prefix=host,
        registry_api=registry_url,
        registry_credentials="env:FERRY_DEMO_REGISTRY_CREDS",
        clusters=clusters,
        builds=rules,
    )
    _add_release(layout.config)
    config = str(layout.config)
    console.print(f"source repo {source.url}\nconfig {layout.config}")

    _step("git push origin HEAD:release-v1  →  ci-build")
    first = source.release("v1")
    ci_build(config=config)
    initial = f"v1-{first[:6]}"
    create_deploy_repo(bare, host, initial_tag=initial)
    console.print(f"deploy repo {layout.repo_url} starts at {initial}")

    _step("auto-sync: Dev follows Git; Staging and Production are installed by hand (ferry sync)")
    auto_sync(config=config, cluster="dev")
    for app in ("app-helm-staging", "app-helm-production"):
        sync(app=app, config=config)

    _step("A new commit, git push origin HEAD:release-v3  →  ci-build")
    source.commit({"VERSION": "3\n"}, "echo server v3")
    source.release("v3")
    ci_build(config=config)

    _step("image-update: write-back")
    image_update(config=config)
    console.print(_git(bare, "log", "--stat", "--format=%n%h %s%n%b", "-3"))
    path = f"{CHART_PATH}/.argocd-source-app-helm-dev.yaml"
    console.print(f"[bold]{path}[/bold]")
    console.print(Syntax(_git(bare, "show", f"main:{path}"), "yaml"))

    _step("auto-sync: Dev rolls to the new tag; Staging and Production wait")
    auto_sync(config=config, cluster="dev")
    console.print(_ferry("apps", "-c", config))
    commit = _git(bare, "rev-parse", "main").strip()
    return config, commit


def _add_release(config_path: Path) -> None:
    """The echo server's release: native canaries in Staging (50 %, 100 %) and Production (25/50/100 %)."""
    config = yaml.safe_load(config_path.read_text())
    config["releases"] = [
        {
            "name": "echo-server",
            "environments": {
                "dev": {"app": "app-helm-dev"},
                "staging": {"app": "app-helm-staging", "canary": {"provider": "native", "steps": [50, 100]}},
                "production": {
                    "app": "app-helm-production",
                    "canary": {"provider": "native", "steps": [25, 50, 100]},
                },
            },
            "validation": [{"name": "smoke-job", "job": {"manifest": SMOKE_JOB}, "timeout": 60}],
            "gate_timeout": 24 * 3600,
        }
    ]
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))


def start_release(workdir: Path, book: ServiceBook, config: str, commit: str) -> str:
    """Start the ``release`` flow in its own process (so the paused run outlives this command);
    return its flow-run id once it is paused at the first gate."""
    code = (
        "from flows.release import release; "
        f"release(app='app-helm-dev', commit={commit!r}, config={config!r})"
    )
    log = (workdir / "release.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    book.add(Service("release-run", process.pid, ""))
    return _wait_paused(process, workdir / "release.log")


def _paused_release(client: Any) -> Any:
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    runs = client.read_flow_runs(
        flow_filter=FlowFilter(name=FlowFilterName(any_=["release"])),
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
        ),
    )
    return runs[0] if runs else None


def _wait_paused(process: subprocess.Popen[bytes], log: Path, timeout: float = 600.0) -> str:
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"the release run ended before its first gate; see {log}")
            run = _paused_release(client)
            if run is not None:
                return str(run.id)
            time.sleep(1)
    raise SystemExit(f"the release did not reach its first gate in {timeout:.0f} s; see {log}")


def approve_every_gate(run_id: str, timeout: float = 900.0) -> None:
    """Play the operator: approve each gate as it comes, until the release run finishes."""
    from prefect.client.orchestration import get_client
    from prefect.flow_runs import resume_flow_run

    deadline = time.monotonic() + timeout
    answered = 0
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            run = client.read_flow_run(UUID(run_id))
            state = run.state
            if state is not None and state.is_final():
                console.print(
                    f"release finished after {answered} approvals: {state.type.value} {state.message or ''}"
                )
                return
            if state is not None and state.is_paused():
                resume_flow_run(
                    UUID(run_id), run_input={"approved": True, "comment": "demo", "approver": "demo"}
                )
                answered += 1
                console.print(f"approved gate {answered}")
                time.sleep(2)
            time.sleep(0.5)
    raise SystemExit(f"the release did not finish within {timeout:.0f} s")


def _flush_prefect() -> None:
    """Send queued logs and events before the server goes away, so nothing is lost or reported as failed."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all()
    EventsWorker.drain_all()


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
        return 0
    try:
        run(args.workdir, approve_all=args.approve_all)
    finally:
        if args.stop_after:
            try:
                _flush_prefect()
            finally:
                stop_everything(args.workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
