"""The main job on an embedded default: the seed pipeline, end to end, on this machine.

``scripts/demo.sh`` runs this. It starts a real Prefect server (its UI shows
every run), a real CNCF Distribution registry with htpasswd auth and a real bare
Git deploy repo, lays out the seed's three Applications, and then runs what
Ferry can do so far:

1. pushes ``v1.0`` of ``cidemo/echo-server`` and ``cidemo/echo-web-server``;
2. runs the ``image-update`` flow: nothing is newer, nothing is committed;
3. pushes ``v3-5a7147`` with a newer build time;
4. runs ``image-update`` again: one commit per Application, in Image
   Updater's exact format, and a ``ferry.image.updated`` event each.

The Prefect server keeps running so the runs can be looked at in the UI;
``scripts/demo.sh --down`` stops it.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.syntax import Syntax

from ferry.devenv.oci import OciPusher
from ferry.devenv.registry import start_registry
from ferry.devenv.seed import CHART_PATH, ENVIRONMENTS, IMAGES, create_deploy_repo, write_seed
from ferry.devenv.services import ServiceBook, start_prefect_server

console = Console()
OLD_BUILD = datetime(2023, 7, 1, tzinfo=UTC)
NEW_BUILD = datetime(2023, 7, 19, 7, 35, tzinfo=UTC)


def _step(text: str) -> None:
    console.rule(f"[bold cyan]{text}")


def _git(bare: Path, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={bare}", *args], check=True, capture_output=True, text=True
    ).stdout


def run(workdir: Path) -> None:
    book = ServiceBook(workdir)
    book.stop_all()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)

    _step("Prefect server")
    server = start_prefect_server(workdir / "prefect")
    book.add(server)
    os.environ["PREFECT_API_URL"] = f"{server.url}/api"
    console.print(f"Prefect UI: [link={server.url}]{server.url}[/link]  (PID {server.pid})")

    _step("Registry (CNCF Distribution, htpasswd)")
    password = secrets.token_urlsafe(16)
    registry = start_registry(workdir / "registry", auth=("ferry-demo", password))
    os.environ["FERRY_DEMO_REGISTRY_CREDS"] = f"ferry-demo:{password}"
    console.print(
        f"registry {registry.url} (PID {registry.pid}); credentials via env:FERRY_DEMO_REGISTRY_CREDS"
    )
    try:
        _run_pipeline(workdir, registry.url, registry.host, registry.auth)
    finally:
        registry.stop()
    console.print(
        f"\nThe runs are in the Prefect UI at {server.url}/runs — stop it with: scripts/demo.sh --down"
    )


def _run_pipeline(workdir: Path, registry_url: str, host: str, auth: tuple[str, str] | None) -> None:
    from flows.image_update import image_update  # imported late: PREFECT_API_URL must be set first

    with OciPusher(registry_url, auth=auth) as pusher:
        for repo, _ in IMAGES.values():
            pusher.push_image(repo, "v1.0", created=OLD_BUILD)
    console.print("pushed v1.0 of " + ", ".join(f"{host}/{r}" for r, _ in IMAGES.values()))

    _step("Deploy repo and the seed's Applications")
    bare = workdir / "git" / "gitops-demo.git"
    url = create_deploy_repo(bare, host)
    layout = write_seed(
        workdir / "config",
        repo_url=url,
        registry_prefix=host,
        registry_api=registry_url,
        registry_credentials="env:FERRY_DEMO_REGISTRY_CREDS",
    )
    console.print(f"deploy repo {url}\nconfig {layout.config}\napplications {layout.applications}")

    _step("image-update: nothing newer yet")
    image_update(config=str(layout.config))
    console.print(f"deploy repo head: {_git(bare, 'log', '--oneline', '-1').strip()}")

    _step("CI pushes v3-5a7147 (newer build)")
    with OciPusher(registry_url, auth=auth) as pusher:
        for repo, _ in IMAGES.values():
            pusher.push_image(repo, "v3-5a7147", created=NEW_BUILD)

    _step("image-update: write-back")
    image_update(config=str(layout.config))
    console.print(_git(bare, "log", "--stat", "--format=%n%h %s%n%b", "-3"))
    path = f"{CHART_PATH}/.argocd-source-app-helm-{ENVIRONMENTS[0]}.yaml"
    console.print(f"[bold]{path}[/bold]")
    console.print(Syntax(_git(bare, "show", f"main:{path}"), "yaml"))


def _flush_prefect() -> None:
    """Send queued logs and events before the server goes away, so nothing is lost or reported as failed."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogHandler

    APILogHandler.flush()
    EventsWorker.drain_all()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/demo.sh", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "ferry" / "demo")
    parser.add_argument("--down", action="store_true", help="stop the demo's background services and exit")
    parser.add_argument("--stop-after", action="store_true", help="stop the Prefect server when done")
    args = parser.parse_args(argv)
    if args.down:
        stopped = ServiceBook(args.workdir).stop_all()
        console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
        return 0
    try:
        run(args.workdir)
    finally:
        if args.stop_after:
            _flush_prefect()
            ServiceBook(args.workdir).stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
