"""Tasks retry transient errors only: a wrong password or a bad annotation fails at once."""

from __future__ import annotations

from typing import Any

import pytest
from prefect.states import Failed

from ferry.errors import (
    AuthenticationError,
    ClusterUnavailable,
    ConfigError,
    GitPushRejected,
    RegistryUnavailable,
)
from tasks.retry import MAX_RETRY_AFTER, only_transient


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (RegistryUnavailable("503"), True),
        (GitPushRejected("fetch first"), True),
        (ClusterUnavailable("connection refused"), True),
        (ConfigError("bad annotation"), False),
        (AuthenticationError("401"), False),
        (ValueError("a bug"), False),
    ],
    ids=["registry-5xx", "push-rejected", "apiserver-down", "config", "auth", "bug"],
)
def test_only_transient_errors_retry(error: Exception, retry: bool) -> None:
    state: Any = Failed(data=error)
    assert only_transient(None, None, state) is retry  # type: ignore[arg-type]


class _Task:
    retry_delay_seconds = [1, 4, 10]
    retry_jitter_factor = None


class _Run:
    def __init__(self, run_count: int) -> None:
        self.run_count = run_count


@pytest.mark.parametrize(
    ("run_count", "retry_after", "slept"),
    [(1, 3.0, [2.0]), (2, 3.0, []), (3, 12.5, [2.5]), (1, 0.5, [])],
    ids=["first-retry", "delay-already-long-enough", "third-retry", "hint-shorter-than-delay"],
)
def test_retry_after_is_slept_beyond_the_planned_delay(
    run_count: int, retry_after: float, slept: list[float]
) -> None:
    sleeps: list[float] = []
    state: Any = Failed(data=RegistryUnavailable("429", retry_after=retry_after))
    assert only_transient(_Task(), _Run(run_count), state, sleep=sleeps.append) is True  # type: ignore[arg-type]
    assert sleeps == slept


def test_a_retry_after_too_long_to_wait_fails_at_once() -> None:
    sleeps: list[float] = []
    state: Any = Failed(data=RegistryUnavailable("429", retry_after=MAX_RETRY_AFTER + 1))
    assert only_transient(_Task(), _Run(1), state, sleep=sleeps.append) is False  # type: ignore[arg-type]
    assert sleeps == []
