"""`ferry rollback APP [ID] [--git-revert]`, `ferry hold list|release APP`, `ferry release status NAME`.

Exit codes follow the rest of the CLI: 0 success, 1 failure, 2 invalid
configuration (an unknown app or history entry included).
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
from rich.table import Table

from ferry.config import load_config
from ferry.errors import ConfigError, FerryError
from ferry.ports import NO_PORTS
from ferry.release import pipeline
from ferry.release.fleet import TEXT_HEADERS, live_view
from ferry.release.holds import list_holds, release_hold
from ferry.release.rollback import git_revert_rollback, quick_rollback
from ferry.sync.engine import SyncEngine
from ferry.sync.model import Initiator

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="Path to ferry.yaml")]
_err = Console(stderr=True)
hold_app = typer.Typer(help="Holds that keep auto-sync and the image updater from undoing a rollback.")
release_app = typer.Typer(help="Releases of ferry.yaml: where each one's Applications stand.")


def _engine(config: Path) -> SyncEngine:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr, force=True)
    for noisy in ("httpx", "kubernetes", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return NO_PORTS.engine(load_config(config))


def _fail(exc: FerryError) -> typer.Exit:
    label = "configuration error" if isinstance(exc, ConfigError) else "error"
    _err.print(f"[red]{label}:[/red] {exc}", markup=True, highlight=False)
    return typer.Exit(2 if isinstance(exc, ConfigError) else 1)


def rollback(
    app: Annotated[str, typer.Argument(help="Application name")],
    history_id: Annotated[
        int | None, typer.Argument(help="History entry (default: the previous one)")
    ] = None,
    git_revert: Annotated[
        bool, typer.Option("--git-revert", help="Revert the write-back commits and hold the reverted tags")
    ] = False,
    config: ConfigOption = Path("ferry.yaml"),
    wait_timeout: Annotated[float, typer.Option(help="Seconds to wait for Healthy (quick rollback)")] = 120.0,
) -> None:
    """Roll APP back to a history entry (argocd app rollback), or revert its write-backs end to end."""
    who = Initiator(getpass.getuser())
    try:
        with _engine(config) as engine:
            if git_revert:
                result = git_revert_rollback(
                    engine, app, history_id, initiator=who, credentials=NO_PORTS.credentials(engine.config)
                )
            else:
                result = quick_rollback(
                    engine, app, history_id, initiator=who, wait_timeout=wait_timeout or None
                )
    except FerryError as exc:
        raise _fail(exc) from exc
    sys.stdout.write(json.dumps(result.as_dict(), indent=2) + "\n")


@hold_app.command(name="list")
def hold_list(
    config: ConfigOption = Path("ferry.yaml"),
    output: Annotated[str, typer.Option("--output", "-o", help="text or json")] = "text",
) -> None:
    """List the holds on the config's apps."""
    try:
        with _engine(config) as engine:
            holds = list_holds(engine)
    except FerryError as exc:
        raise _fail(exc) from exc
    if output == "json":
        sys.stdout.write(json.dumps([h.as_dict() for h in holds], indent=2) + "\n")
        return
    table = Table("APP", "SYNC HELD", "HELD TAGS", "SINCE", "BY", "REASON")
    for hold in holds:
        table.add_row(
            hold.app,
            "yes" if hold.sync else "no",
            "\n".join(hold.tags),
            hold.created_at,
            hold.created_by,
            hold.reason,
        )
    Console(width=200).print(table)


@hold_app.command(name="release")
def hold_release(
    app: Annotated[str, typer.Argument(help="Application name")],
    config: ConfigOption = Path("ferry.yaml"),
) -> None:
    """Release the hold on APP: auto-sync and the image updater take it up again."""
    try:
        with _engine(config) as engine:
            released = release_hold(engine, app)
    except FerryError as exc:
        raise _fail(exc) from exc
    sys.stdout.write(f"{app}: {'hold released' if released else 'was not on hold'}\n")


@release_app.command(name="status")
def release_status(
    name: Annotated[str, typer.Argument(help="Release name (releases[].name)")],
    config: ConfigOption = Path("ferry.yaml"),
    output: Annotated[str, typer.Option("--output", "-o", help="text, markdown or json")] = "text",
) -> None:
    """The fleet view of release NAME: each environment's and wave's apps, the revision each runs, health."""
    try:
        with _engine(config) as engine:
            cfg = engine.config
            found = next((r for r in cfg.releases if r.name == name), None)
            if found is None:
                raise ConfigError(f"no release {name!r} in {config} (have: {[r.name for r in cfg.releases]})")
            view = pipeline.resolve(cfg, engine, found).view()
            live = {}
            for row in view.rows:
                status, history = engine.status(row.app), engine.history(row.app)
                live[row.app] = (
                    history[-1].revision if history else "",
                    status.sync.value,
                    status.health.status.value,
                )
    except FerryError as exc:
        raise _fail(exc) from exc
    view = live_view(view, live)
    if output == "json":
        sys.stdout.write(
            json.dumps([dict(zip(TEXT_HEADERS, r, strict=True)) for r in view.text_rows()], indent=2) + "\n"
        )
        return
    if output == "markdown":
        sys.stdout.write(view.markdown())
        return
    table = Table(*(h.upper() for h in TEXT_HEADERS))
    for cells in view.text_rows():
        table.add_row(*cells)
    Console(width=200).print(table)


def register(app: typer.Typer) -> None:
    """Add ``rollback``, ``hold`` and ``release`` to the ``ferry`` Typer app."""
    app.command(name="rollback")(rollback)
    app.add_typer(hold_app, name="hold")
    app.add_typer(release_app, name="release")
