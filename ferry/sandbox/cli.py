"""``ferry sandbox build|up|status|down``: local clusters from the real control plane.

Mounted by ``ferry.cli`` as the ``sandbox`` sub-command; also runnable on its
own as ``python -m ferry.sandbox.cli``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated

import typer

from ferry.errors import FerryError
from ferry.sandbox import cluster, rollouts
from ferry.sandbox.build import ensure_binaries

app = typer.Typer(
    name="sandbox",
    help="Local Kubernetes clusters (etcd, kube-apiserver, controller manager, scheduler, kwok).",
    no_args_is_help=True,
)

StateDir = Annotated[
    Path | None,
    typer.Option("--state-dir", help="Parent of the clusters' state dirs [default: ~/.cache/ferry/sandbox]."),
]
Names = Annotated[
    list[str] | None,
    typer.Option(
        "--name", "-n", help="Cluster name; repeat for several [default: dev, staging, production]."
    ),
]


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # One line per HTTP poll drowns the progress messages that matter.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _fail(exc: FerryError) -> typer.Exit:
    typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
    return typer.Exit(code=1)


@app.command()
def build(
    force: Annotated[bool, typer.Option("--force", help="Rebuild even when cached.")] = False,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Build just this tool; repeatable.")
    ] = None,
    bin_dir: Annotated[Path | None, typer.Option("--bin-dir", help="[default: ~/.cache/ferry/bin]")] = None,
) -> None:
    """Build the pinned binaries, or reuse the cached ones (fast and idempotent)."""
    _configure_logging()
    try:
        outcomes = ensure_binaries(only, bin_dir=bin_dir, force=force)
    except FerryError as exc:
        raise _fail(exc) from exc
    for outcome in outcomes:
        verb = f"built in {outcome.seconds:.0f} s" if outcome.built else "reused"
        typer.echo(f"{outcome.name:<24} {outcome.version:<9} {verb:<16} {outcome.path}")


@app.command()
def up(
    name: Names = None,
    kubeconfig: Annotated[
        Path | None, typer.Option("--kubeconfig", help="Also write the kubeconfig here.")
    ] = None,
    state_dir: StateDir = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each start-up phase.")] = 180.0,
    with_: Annotated[
        list[str] | None,
        typer.Option(
            "--with",
            help="Add-on: `argo-rollouts` (the real controller and its CRDs) on every cluster, "
            "or `argo-rollouts=NAME[,NAME]` on those.",
        ),
    ] = None,
) -> None:
    """Start the clusters (reusing running ones) and write one kubeconfig with a context each."""
    _configure_logging()
    started = time.monotonic()
    try:
        sandbox = cluster.up(
            tuple(name) if name else cluster.DEFAULT_CLUSTERS,
            state_root=state_dir,
            kubeconfig=kubeconfig,
            timeout=timeout,
            argo_rollouts=rollouts.parse_with(with_ or []),
        )
    except FerryError as exc:
        raise _fail(exc) from exc
    for item in sandbox.clusters:
        extra = "  +argo-rollouts" if rollouts.controller_process(item) else ""
        typer.echo(f"{item.name:<12} {item.server:<26} context={item.context}{extra}")
    typer.echo(f"kubeconfig: {sandbox.kubeconfig}  ({time.monotonic() - started:.1f} s)")


@app.command()
def status(state_dir: StateDir = None) -> None:
    """List the recorded clusters, whether they answer, and which processes live."""
    report = cluster.status(state_dir)
    if not report:
        typer.echo("no sandbox clusters")
        return
    for item in report:
        state = "healthy" if item.healthy else "DOWN"
        alive = " ".join(f"{component}={'up' if up else 'dead'}" for component, up in item.components.items())
        typer.echo(f"{item.name:<12} {state:<8} {item.server:<26} {alive}")


@app.command()
def down(
    name: Names = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep certificates, etcd data and logs.")] = False,
    state_dir: StateDir = None,
) -> None:
    """Stop the clusters by PID and remove their data unless --keep."""
    try:
        stopped = cluster.down(tuple(name) if name else None, state_root=state_dir, keep=keep)
    except FerryError as exc:
        raise _fail(exc) from exc
    typer.echo(f"stopped: {', '.join(stopped)}" if stopped else "no sandbox clusters were recorded")


if __name__ == "__main__":
    app()
