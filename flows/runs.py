"""What every run needs to know about itself: a name that says what it is about, and its config.

Names read like ``release echo-server v3-5a7147`` or ``sync-dev app-helm-dev@9f14c6e``. A
flow's ``flow_run_name`` only sees its parameters, so it names the run as well as they allow
when it starts; once the run knows what it is doing (which refs it builds, which apps it
synced), it renames itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.runtime import flow_run

from ferry.errors import ConfigError


def rename_run(name: str) -> None:
    """Rename the current flow run (nothing outside a run, or when the name is already right)."""
    context = FlowRunContext.get()
    run = context.flow_run if context is not None else None
    if run is None or run.name == name:
        return
    with get_client(sync_client=True) as client:
        client.update_flow_run(run.id, name=name)
    run.name = name


def _parameters() -> dict[str, Any]:
    return dict(flow_run.parameters or {})


def short(sha: str | None) -> str:
    """Seven characters of a SHA, as Git and Argo CD show it."""
    return (sha or "")[:7]


def release_run_name() -> str:
    """``release <app> <new tags or commit>`` until the run knows its release's name."""
    params = _parameters()
    tags = ",".join(
        dict.fromkeys(str(i.get("new_tag")) for i in params.get("images") or [] if i.get("new_tag"))
    )
    return f"release {params.get('app', '?')} {tags or short(params.get('commit')) or 'head'}".rstrip()


def promote_run_name() -> str:
    params = _parameters()
    return f"promote {params.get('app', '?')}" + (
        f"@{short(params['revision'])}" if params.get("revision") else ""
    )


def auto_sync_run_name() -> str:
    cluster = _parameters().get("cluster")
    return f"sync-{cluster}" if cluster else "auto-sync"


def sync_run_name() -> str:
    params = _parameters()
    return f"sync {params.get('app', '?')}" + (
        f"@{short(params['revision'])}" if params.get("revision") else ""
    )


def config_path(config: str) -> Path:
    """The ``config`` parameter as a path; a deployment registered without ``FERRY_CONFIG`` says so.

    Raises:
        ConfigError: ``config`` still holds the ``{{ $FERRY_CONFIG }}`` placeholder of ``prefect.yaml``.
    """
    if "{{" in config:
        raise ConfigError(
            f"the deployment's config parameter is {config!r}: set FERRY_CONFIG to the path of "
            "ferry.yaml when running `prefect deploy`",
            key="config",
        )
    return Path(config)
