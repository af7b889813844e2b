"""`ferry apps|sync|diff|history`: what `argocd app list|sync|diff|history` do, for Ferry.

Exit codes follow the rest of the CLI (0 success, 1 failure, 2 invalid
configuration), except ``ferry diff``, which follows ``argocd app diff``: 0 when
there is no difference, 1 when there is one, 2 on error.
"""

from __future__ import annotations

import getpass
import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from ferry.config import load_config
from ferry.errors import ConfigError, FerryError
from ferry.sync.engine import SyncEngine
from ferry.sync.model import Initiator

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="Path to ferry.yaml")]
_err = Console(stderr=True)


def _engine(config: Path, verbose: bool = False) -> SyncEngine:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=_err, show_path=False, markup=False)],
        force=True,
    )
    for noisy in ("httpx", "kubernetes", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return SyncEngine(load_config(config))  # the CLI has no Prefect blocks to load


def _fail(exc: FerryError, code: int) -> typer.Exit:
    label = "configuration error" if isinstance(exc, ConfigError) else "error"
    _err.print(f"[red]{label}:[/red] {exc}", markup=True, highlight=False)
    return typer.Exit(2 if isinstance(exc, ConfigError) else code)


def apps(
    config: ConfigOption = Path("ferry.yaml"),
    output: Annotated[str, typer.Option("--output", "-o", help="text or json")] = "text",
) -> None:
    """List Applications with their sync status and health (argocd app list)."""
    try:
        with _engine(config) as engine:
            statuses = [engine.status(app) for app in engine.applications()]
    except FerryError as exc:
        raise _fail(exc, 1) from exc
    if output == "json":
        rows = [
            {
                "name": s.app,
                "cluster": s.cluster,
                "namespace": s.namespace,
                "status": s.sync.value,
                "health": s.health.status.value,
                "automated": s.automated,
                "revision": s.revision,
                "error": s.error,
                "lastAttempt": s.last_attempt.as_dict() | {"phase": s.last_attempt.phase}
                if s.last_attempt
                else None,
            }
            for s in statuses
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    else:
        table = Table(title="Applications")
        for column in ("NAME", "CLUSTER", "NAMESPACE", "STATUS", "HEALTH", "SYNCPOLICY", "REVISION"):
            table.add_column(column)
        for s in statuses:
            table.add_row(
                s.app,
                s.cluster,
                s.namespace,
                s.sync.value + (" (sync Running)" if s.last_attempt and s.last_attempt.running else ""),
                s.health.status.value,
                "Auto" if s.automated else "Manual",
                s.revision[:12] or s.error[:60],
            )
        Console(width=160).print(table)
    raise typer.Exit(1 if any(s.error for s in statuses) else 0)


def sync(
    app_name: Annotated[str, typer.Argument(metavar="APP")],
    config: ConfigOption = Path("ferry.yaml"),
    revision: Annotated[str | None, typer.Option("--revision", help="Branch, tag or SHA")] = None,
    prune: Annotated[bool, typer.Option("--prune", help="Delete resources no longer in Git")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Diff and server-side dry run only")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for Healthy (0: no wait)")] = 0,
    output: Annotated[str, typer.Option("--output", "-o", help="text or json")] = "text",
) -> None:
    """Sync an Application to its target revision (argocd app sync)."""
    try:
        with _engine(config) as engine:
            result = engine.sync(
                app_name,
                revision=revision,
                prune=prune,
                dry_run=dry_run,
                initiator=Initiator(getpass.getuser()),
                wait_timeout=timeout or None,
            )
    except FerryError as exc:
        raise _fail(exc, 1) from exc
    if output == "json":
        sys.stdout.write(json.dumps(result.as_dict(), indent=2) + "\n")
        return
    table = Table(title=f"{result.app} @ {result.revision[:12]}" + (" (dry run)" if dry_run else ""))
    for column in ("RESOURCE", "RESULT", "MESSAGE"):
        table.add_column(column)
    for outcome in result.resources:
        table.add_row(str(outcome.key), outcome.action, outcome.message)
    Console(width=160).print(table)
    if result.health is not None:
        Console().print(f"Health: {result.health.status.value} {result.health.message}".rstrip())
    if result.history_id is not None:
        Console().print(f"History id: {result.history_id}")


def diff(
    app_name: Annotated[str, typer.Argument(metavar="APP")],
    config: ConfigOption = Path("ferry.yaml"),
    revision: Annotated[str | None, typer.Option("--revision", help="Branch, tag or SHA")] = None,
) -> None:
    """Print the unified diff between Git and the cluster (argocd app diff; exit 1 when they differ)."""
    try:
        with _engine(config) as engine:
            result = engine.diff(app_name, revision)
    except FerryError as exc:
        raise _fail(exc, 2) from exc
    sys.stdout.write(result.unified())
    raise typer.Exit(1 if result.out_of_sync else 0)


def history(
    app_name: Annotated[str, typer.Argument(metavar="APP")],
    config: ConfigOption = Path("ferry.yaml"),
    output: Annotated[str, typer.Option("--output", "-o", help="text or json")] = "text",
) -> None:
    """Show the sync history of an Application (argocd app history)."""
    try:
        with _engine(config) as engine:
            entries = engine.history(app_name)
    except FerryError as exc:
        raise _fail(exc, 1) from exc
    if output == "json":
        sys.stdout.write(json.dumps([e.as_dict() for e in entries], indent=2) + "\n")
        return
    table = Table(title=f"History of {app_name}")
    for column in ("ID", "DATE", "REVISION", "IMAGES", "INITIATOR"):
        table.add_column(column)
    for entry in entries:
        who = entry.initiated_by + (f" (run {entry.run_id})" if entry.run_id else "")
        table.add_row(str(entry.id), entry.deployed_at, entry.revision[:12], "\n".join(entry.images), who)
    Console(width=160).print(table)


def register(app: typer.Typer) -> None:
    """Add the sync commands to the ``ferry`` Typer app."""
    app.command(name="apps")(apps)
    app.command(name="sync")(sync)
    app.command(name="diff")(diff)
    app.command(name="history")(history)
