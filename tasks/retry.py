"""The one retry policy of every Ferry task: retry transient errors only."""

from __future__ import annotations

from typing import Any

from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from ferry.errors import is_transient

RETRIES = 3
RETRY_DELAYS = [1, 4, 10]


def only_transient(task: Any, task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect ``retry_condition_fn``: a wrong password or a bad annotation fails at once."""
    error = state.data if isinstance(state.data, BaseException) else state.result(raise_on_failure=False)
    return isinstance(error, BaseException) and is_transient(error)


RETRYING: dict[str, Any] = {
    "retries": RETRIES,
    "retry_delay_seconds": RETRY_DELAYS,
    "retry_condition_fn": only_transient,
}
"""Keyword arguments for ``@task``: every Ferry task retries this way, so it is written once."""
