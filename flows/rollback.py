"""Rollback: quick (a history entry's revision, then a hold) or end to end (``git revert``)."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.states import Completed, Failed, State  # type: ignore[attr-defined]

from blocks.ports import PORTS
from ferry.errors import FerryError
from flows.logging import forward_ferry_logs
from flows.sync import initiator, open_engine
from tasks.release import git_revert_task, quick_rollback_task


@flow(name="rollback", description="Roll an app back to a history entry (quick) or revert its write-backs.")
def rollback(
    app: str,
    history_id: int | None = None,
    git_revert: bool = False,
    config: str = "ferry.yaml",
    wait_timeout: float = 120.0,
) -> State[Any]:
    """Roll ``app`` back.

    Args:
        app: Application name.
        history_id: The history entry to go back to (default: the one before the latest).
        git_revert: Revert the write-back commits instead, and hold the reverted tags.
        config: Path to ``ferry.yaml``.
        wait_timeout: Seconds to wait for Healthy after a quick rollback.
    """
    forward_ferry_logs()
    logger = get_run_logger()
    who = initiator()
    try:
        with open_engine(config) as engine:
            if git_revert:
                result = git_revert_task(engine, app, history_id, who, PORTS.credentials(engine.config))
            else:
                result = quick_rollback_task(engine, app, history_id, who, wait_timeout or None)
    except FerryError as exc:
        logger.error("rollback of %s failed: %s", app, exc)
        return Failed(message=f"rollback of {app} failed: {exc}")
    how = (
        f"revert commit `{result.revert_commit}`"
        if git_revert
        else f"synced (history id {result.synced_history_id})"
    )
    create_markdown_artifact(
        key="rollback",
        markdown=(
            f"# Rollback of `{app}`\n\n"
            f"To history entry **{result.history_id}** (`{result.revision[:12]}`): {how}.\n\n"
            f"Hold: {result.hold.reason} — auto-sync {'held' if result.hold.sync else 'not held'}; "
            f"held tags: {', '.join(result.hold.tags) or 'none'}.\n"
            f"Release it with `ferry hold release {app}`.\n"
        ),
        description=f"Rollback of {app}",
    )
    return Completed(message=f"{app} rolled back to entry {result.history_id}", data=result.as_dict())
