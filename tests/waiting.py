"""Waiting on a condition with a deadline (never a fixed sleep followed by an exact count)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(check: Callable[[], T], timeout: float, what: str, *, interval: float = 0.2) -> T:
    """Call ``check`` until it returns something truthy, and return that; fail naming ``what`` if late."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
