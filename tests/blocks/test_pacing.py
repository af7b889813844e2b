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
    shared_registry_rate(url, rate)
    print(repr(time.time()), flush=True)
"""


def _busiest_second(times: list[float]) -> int:
    ordered = sorted(times)
    return max(sum(1 for t in ordered[i:] if t < start + 1.0) for i, start in enumerate(ordered))


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
    times: list[float] = []
    for taker in takers:
        out, err = taker.communicate(timeout=240)
        assert taker.returncode == 0, err[-2000:]
        times.extend(float(line) for line in out.split())
    assert len(times) == 2 * GRANTS
    # The server grants one slot per 1/RATE s; the clients stamp a grant after its answer, so the
    # stamps may bunch by a request's latency: one grant more than RATE in a second is that, not a leak.
    assert _busiest_second(times) <= RATE + 1, sorted(times)
    # Unpaced, 24 grants would take milliseconds; paced, the last is at least 23/RATE s after the first.
    assert max(times) - min(times) >= (2 * GRANTS - 1) / RATE * 0.9
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
