"""The ``ferry`` command line.

Commands mirror what an Argo CD user knows (``argocd app list/sync/diff``,
``argocd-image-updater run --once``) so a team can drive Ferry from a terminal
or CI job as well as from the Prefect UI. Exit codes: 0 success, 1 some
application failed, 2 the configuration itself is invalid.
"""

from __future__ import annotations

import json
import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from ferry.config import load_config
from ferry.errors import ConfigError
from ferry.ports import NO_PORTS
from ferry.update.outcomes import CycleReport, UpdateStatus

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Ferry: GitOps CI/CD for Argo CD Applications."
)
console = Console(stderr=True)


class Output(StrEnum):
    text = "text"
    json = "json"


@app.callback()
def _root() -> None:
    """Ferry: GitOps CI/CD for Argo CD Applications, on Prefect."""


ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="Path to ferry.yaml", exists=False)]


def _setup_logging(verbose: bool) -> None:
    # On a terminal, rich; piped into a file or a CI log, one plain line per record so it stays grep-able.
    handler: logging.Handler
    if console.is_terminal:
        handler = RichHandler(console=console, show_path=False, markup=False)
        fmt = "%(message)s"
    else:
        handler = logging.StreamHandler(sys.stderr)
        fmt = "time=%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True)
    # httpx logs every request at INFO; the registry client reports what matters itself.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _fail_config(exc: ConfigError) -> typer.Exit:
    console.print(f"[red]configuration error:[/red] {exc}", markup=True, highlight=False)
    return typer.Exit(2)


def report_table(report: CycleReport) -> Table:
    table = Table(title="Image updates")
    for column in ("application", "status", "image", "old → new", "commit"):
        table.add_column(column)
    for outcome in report.outcomes:
        if not outcome.changes:
            table.add_row(outcome.app, outcome.status.value, "", outcome.error or "", "")
        for change in outcome.changes:
            table.add_row(
                outcome.app,
                outcome.status.value,
                change.image,
                f"{change.old_tag or '∅'} → {change.new_tag}",
                (outcome.commit or "")[:12],
            )
    return table


@app.command()
def update(
    config: ConfigOption,
    app_names: Annotated[list[str] | None, typer.Option("--app", help="Only these applications")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Detect and log, but commit nothing")] = False,
    output: Annotated[Output, typer.Option("--output", "-o")] = Output.text,
    refresh: Annotated[bool, typer.Option("--refresh", help="Re-check cached tag digests")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run one image update cycle: detect new images and write them back to Git."""
    _setup_logging(verbose)
    try:
        cfg = load_config(config)
        report = NO_PORTS.update_cycle(cfg, app_names or None, dry_run=dry_run, refresh=refresh)
    except ConfigError as exc:
        raise _fail_config(exc) from exc
    if output is Output.json:
        payload = {
            "applications": [o.as_dict() for o in report.outcomes],
            "summary": {s.value: report.count(s) for s in UpdateStatus}
            | {"images_updated": report.images_updated},
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        Console().print(report_table(report))
    raise typer.Exit(1 if report.errors else 0)


# Sub-commands of the other capabilities; each module adds its own commands.
from ferry.sandbox.cli import app as sandbox_app  # noqa: E402
from ferry.sync.cli import register as register_sync  # noqa: E402

app.add_typer(sandbox_app, name="sandbox", help="Local Kubernetes clusters built from the official sources.")
register_sync(app)

from ferry.ci.cli import register as register_ci  # noqa: E402

register_ci(app)

from ferry.release.cli import register as register_release  # noqa: E402

register_release(app)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
