"""The one retry policy of every Ferry task: retry transient errors only, and not before the server asks.

A :class:`~ferry.errors.TransientError` may carry ``retry_after``, the seconds a
server asked for (a registry's 429 or 503 with ``Retry-After``). Prefect 3.9
takes a task's retry delays from a list fixed when the task is defined
(``retry_delay_seconds``, indexed by the retry number) and gives the error to
nothing but ``retry_condition_fn``. So the condition function is where the hint
is honoured: it sleeps whatever the hint asks beyond the delay Prefect is about
to wait anyway, and then lets Prefect schedule the retry as usual.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from prefect.client.schemas.objects import TaskRun
from prefect.logging import get_logger
from prefect.states import State

from ferry.errors import is_transient

RETRIES = 3
RETRY_DELAYS = [1, 4, 10]
#: A hint longer than this is not waited out: the worker would sit idle for it, and
#: the next scheduled cycle retries anyway. The task fails at once with the error.
MAX_RETRY_AFTER = 300.0

logger = get_logger("ferry.tasks.retry")


def planned_delay(task: Any, task_run: TaskRun | None) -> float:
    """The delay Prefect waits before the retry it is about to schedule (its ``handle_retry``).

    ``run_count`` is 1 at the first failure, so the retry number is ``run_count - 1``.
    With jitter the delay may come out shorter than the mean, so none is counted on.
    """
    delays = getattr(task, "retry_delay_seconds", None)
    if not delays or getattr(task, "retry_jitter_factor", None):
        return 0.0
    if not isinstance(delays, Sequence):
        return float(delays)
    done = max(0, (task_run.run_count if task_run is not None else 1) - 1)
    return float(delays[min(done, len(delays) - 1)])


def only_transient(
    task: Any, task_run: TaskRun, state: State[Any], *, sleep: Callable[[float], None] = time.sleep
) -> bool:
    """Prefect ``retry_condition_fn``: a wrong password or a bad annotation fails at once.

    A transient error with ``retry_after`` is retried no sooner than it asks (the
    remainder beyond Prefect's own delay is slept here), or not at all when it asks
    for more than :data:`MAX_RETRY_AFTER`.
    """
    error = state.data if isinstance(state.data, BaseException) else state.result(raise_on_failure=False)
    if not (isinstance(error, BaseException) and is_transient(error)):
        return False
    hint: float | None = getattr(error, "retry_after", None)
    if hint is None:
        return True
    if hint > MAX_RETRY_AFTER:
        logger.warning("not retrying: the server asks to wait %.0fs (more than %.0fs)", hint, MAX_RETRY_AFTER)
        return False
    remainder = hint - planned_delay(task, task_run)
    if remainder > 0:
        logger.info("the server asks to wait %.1fs before retrying: waiting %.1fs more", hint, remainder)
        sleep(remainder)
    return True


RETRYING: dict[str, Any] = {
    "retries": RETRIES,
    "retry_delay_seconds": RETRY_DELAYS,
    "retry_condition_fn": only_transient,
}
"""Keyword arguments for ``@task``: every Ferry task retries this way, so it is written once."""
