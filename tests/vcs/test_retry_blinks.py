"""``retry_blinks``: a reset is tried again, a timeout and a refusal are not."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ferry.errors import GitError, GitTimeout, GitUnavailable
from ferry.vcs import process
from ferry.vcs.process import retry_blinks


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process, "time", type("NoSleep", (), {"sleep": staticmethod(lambda _s: None)}))


def _failing(errors: list[Exception]) -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def step() -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return "done"

    return calls, step


@pytest.mark.parametrize(
    ("errors", "calls"),
    [
        ([], 1),
        ([GitUnavailable("reset")], 2),
        ([GitUnavailable("reset"), GitUnavailable("empty reply")], 3),
    ],
)
def test_blinks_are_tried_again_until_one_succeeds(errors: list[Exception], calls: int) -> None:
    made, step = _failing(errors)
    assert retry_blinks("fetch", step) == "done"
    assert len(made) == calls


def test_the_last_blink_is_raised_once_the_attempts_are_spent() -> None:
    made, step = _failing([GitUnavailable("one"), GitUnavailable("two"), GitUnavailable("three")])
    with pytest.raises(GitUnavailable, match="three"):
        retry_blinks("fetch", step)
    assert len(made) == 3


@pytest.mark.parametrize("error", [GitTimeout("timed out"), GitError("hook declined")])
def test_a_timeout_or_a_refusal_is_raised_at_once(error: Exception) -> None:
    made, step = _failing([error, GitUnavailable("never reached")])
    with pytest.raises(type(error)):
        retry_blinks("fetch", step)
    assert len(made) == 1
