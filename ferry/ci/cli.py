"""``ferry build`` (one CI detection and build cycle) and ``ferry receive`` (the push notification receiver).

Exit codes follow the rest of the CLI: 0 success, 1 some build failed, 2 the
configuration is invalid.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ferry.ci.cycle import CiBuilder, CycleResult
from ferry.ci.events import load_emitter
from ferry.ci.forges import ForgeWebhooks
from ferry.ci.receiver import PushReceiver, Route
from ferry.config import load_config
from ferry.errors import ConfigError

_err = Console(stderr=True)


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="time=%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s",
        stream=sys.stderr,
        force=True,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _fail_config(exc: ConfigError) -> typer.Exit:
    _err.print(f"[red]configuration error:[/red] {exc}", markup=True, highlight=False)
    return typer.Exit(2)


def parse_listen(text: str) -> tuple[str, int]:
    """``127.0.0.1:8085`` → ``("127.0.0.1", 8085)``; ``[::1]:8085`` works too.

    >>> parse_listen("127.0.0.1:8085")
    ('127.0.0.1', 8085)
    """
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise typer.BadParameter(f"{text!r}: expected HOST:PORT, e.g. 127.0.0.1:8085")
    return (host.strip("[]") or "127.0.0.1"), int(port)


def _results_table(result: CycleResult) -> Table:
    table = Table(title="CI builds")
    for column in ("rule", "ref", "image", "status", "digest / error"):
        table.add_column(column)
    for o in result.outcomes:
        table.add_row(o.rule, o.ref, o.reference, o.status.value, o.digest or (o.error or "")[:200])
    return table


def build(
    config: Annotated[Path, typer.Option("--config", "-c", help="Path to ferry.yaml")] = Path("ferry.yaml"),
    rule: Annotated[
        list[str] | None, typer.Option("--rule", help="Only this build rule (repeatable)")
    ] = None,
    emitter: Annotated[
        str | None, typer.Option("--emitter", help="ferry.event_emitters entry point (default: the first)")
    ] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="text or json")] = "text",
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run one CI cycle: ls-remote source repos, build and push new release refs, emit ferry.image.pushed."""
    _logging(verbose)
    try:
        cfg = load_config(config)
        emit = load_emitter(emitter)
        with CiBuilder(cfg) as ci:
            result = ci.run(rule or None, emitter=emit)
    except ConfigError as exc:
        raise _fail_config(exc) from exc
    if output == "json":
        sys.stdout.write(
            json.dumps(
                {"builds": [o.as_dict() for o in result.outcomes], "ignored_refs": result.ignored}, indent=2
            )
            + "\n"
        )
    else:
        Console().print(_results_table(result))
    raise typer.Exit(1 if result.failed else 0)


def receive(
    token_env: Annotated[
        str, typer.Option("--token-env", help="Environment variable holding the shared bearer token")
    ],
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT to bind")] = "127.0.0.1:8085",
    path: Annotated[str, typer.Option("--path", help="URL path the registry posts to")] = "/notifications",
    forge_secret_env: Annotated[
        str | None,
        typer.Option(
            "--forge-secret-env",
            help="Environment variable holding the secret of GitHub/GitLab/Gitea push webhooks "
            "(and of Ferry's post-receive hook); turns on --forge-path",
        ),
    ] = None,
    forge_path: Annotated[
        str, typer.Option("--forge-path", help="URL path forges post pushes to")
    ] = "/source",
    emitter: Annotated[
        str | None, typer.Option("--emitter", help="ferry.event_emitters entry point (default: the first)")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Receive registry push notifications (Distribution, ACR, Harbor) and emit ferry.image.pushed;
    with --forge-secret-env, also source push webhooks (GitHub, GitLab, Gitea) → ferry.source.pushed."""
    _logging(verbose)
    token = os.environ.get(token_env, "")
    if not token:
        _err.print(f"[red]error:[/red] environment variable {token_env} is not set or empty", markup=True)
        raise typer.Exit(2)
    host, port = parse_listen(listen)
    try:
        if not ipaddress.ip_address(host).is_loopback:
            logging.getLogger(__name__).warning(
                "binding %s: the receiver is reachable from other hosts; put TLS in front of it", host
            )
    except ValueError:
        pass  # a host name: the operator chose it
    try:
        emit = load_emitter(emitter)
    except ConfigError as exc:
        raise _fail_config(exc) from exc
    routes: dict[str, Route] = {}
    if forge_secret_env is not None:
        secret = os.environ.get(forge_secret_env, "")
        if not secret:
            _err.print(
                f"[red]error:[/red] environment variable {forge_secret_env} is not set or empty", markup=True
            )
            raise typer.Exit(2)
        routes[forge_path] = ForgeWebhooks(emit, secret)
    receiver = PushReceiver(emit, token, host=host, port=port, path=path, routes=routes)

    def _stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() blocks until serve_forever returns, so it must run off the serving thread.
        threading.Thread(target=receiver.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(receiver.url, flush=True)  # the one line a supervisor or test reads to learn the port
    receiver.serve_forever()


def register(app: typer.Typer) -> None:
    """Add ``build`` and ``receive`` to the ``ferry`` command."""
    app.command("build")(build)
    app.command("receive")(receive)
