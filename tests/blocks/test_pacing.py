"""A registry's ``limit:`` held across processes by the Prefect rate limit (``blocks.pacing``).

Two worker-like processes, each with its own Prefect client, take request slots for one
registry at once on the session's Prefect server. What must hold is the limit on their sum:
no one second holds more than ``limit`` grants, taking both processes' grants together.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from blocks.pacing import registry_limit_name

ROOT = Path(__file__).resolve().parents[2]
GRANTS = 12
RATE = 8.0

_TAKER = """
import sys, time
from blocks.pacing import shared_registry_rate
url, rate, grants = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
for _ in range(grants):
    asked = time.time()
    shared_registry_rate(url, rate)
    print(repr(asked), repr(time.time()), flush=True)
"""


def _most_grants_within_one_second(calls: list[tuple[float, float]]) -> int:
    """The most calls that both began and returned within one closed second.

    Each grant happened between its call's start and its return, so these calls' grants surely
    fell in that second, however late a loaded machine let a process see its answer.
    """
    return max(sum(1 for b, a in calls if b >= start and a <= start + 1.0) for start, _ in calls)


@pytest.mark.slow
def test_two_processes_share_one_registry_limit(prefect_harness: str) -> None:
    from prefect.client.orchestration import get_client

    url = "http://127.0.0.1:1"  # never contacted: only its slots are taken
    env = {**os.environ, "PREFECT_API_URL": prefect_harness, "PYTHONPATH": str(ROOT)}
    takers = [
        subprocess.Popen(
            [sys.executable, "-c", _TAKER, url, str(RATE), str(GRANTS)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    calls: list[tuple[float, float]] = []
    for taker in takers:
        out, err = taker.communicate(timeout=240)
        assert taker.returncode == 0, err[-2000:]
        for line in out.splitlines():
            asked, granted = line.split()
            calls.append((float(asked), float(granted)))
    assert len(calls) == 2 * GRANTS
    # One slot decaying at RATE/s: grants at least 1/RATE s apart, so a closed second holds at
    # most RATE + 1 of them (both ends). Unshared, the two processes would take 24 at once.
    assert _most_grants_within_one_second(calls) <= RATE + 1, sorted(calls)
    # The 24 grants span at least 23/RATE s: the last call returned that long after the first began.
    assert max(a for _, a in calls) - min(b for b, _ in calls) >= (2 * GRANTS - 1) / RATE
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(registry_limit_name(url))
        assert (limit.limit, limit.slot_decay_per_second) == (1, RATE)
        client.delete_global_concurrency_limit_by_name(limit.name)


@pytest.mark.slow
def test_a_changed_limit_is_written_over_the_old_one(prefect_harness: str) -> None:
    from prefect.client.orchestration import get_client

    from blocks import pacing

    url = "http://127.0.0.1:2"
    pacing.shared_registry_rate(url, 50.0)
    pacing.shared_registry_rate(url, 25.0)  # the config now says 25: the server's limit follows
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(registry_limit_name(url))
        assert limit.slot_decay_per_second == 25.0
        client.delete_global_concurrency_limit_by_name(limit.name)
