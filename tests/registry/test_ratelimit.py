"""Rate limiting and bounded concurrency."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ferry.registry import RegistryClient
from ferry.registry.ratelimit import RateLimiter, Throttle
from tests.fixtures.registry import RunningRegistry


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now = max(self.now, self.now + seconds)


@given(rate=st.floats(min_value=0.5, max_value=500), count=st.integers(min_value=1, max_value=200))
def test_n_slots_span_at_least_n_minus_one_intervals(rate: float, count: int) -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate, clock=clock, sleep=lambda s: None)
    for _ in range(count):
        limiter.acquire()
    assert limiter.granted == count
    assert limiter.last_slot is not None and limiter.first_slot is not None
    assert limiter.last_slot - limiter.first_slot == pytest.approx((count - 1) / rate)


def test_idle_time_is_not_banked_as_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2.0, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    clock.now = 100.0  # a long pause
    waits = [limiter.acquire() for _ in range(3)]
    assert waits == [0.0, 0.5, 0.5]


def test_unlimited_never_waits() -> None:
    limiter = RateLimiter(None)
    assert [limiter.acquire() for _ in range(5)] == [0.0] * 5


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0)
    with pytest.raises(ValueError):
        Throttle(None, 0)


def test_concurrency_is_bounded() -> None:
    throttle = Throttle(None, max_concurrency=3)
    active, peak, lock = [0], [0], threading.Lock()

    def work() -> None:
        with throttle.slot():
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.02)
            with lock:
                active[0] -= 1

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda _: work(), range(30)))
    assert peak[0] == 3


@pytest.mark.registry
def test_client_requests_respect_the_limit(registry: RunningRegistry) -> None:
    limit, count = 20.0, 11
    with RegistryClient(registry.url, limit=limit, max_concurrency=4) as client:
        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: client.ping(), range(count)))
        elapsed = time.monotonic() - started
        limiter = client.throttle.limiter
        assert client.request_count == limiter.granted == count
        assert limiter.last_slot is not None and limiter.first_slot is not None
        assert limiter.last_slot - limiter.first_slot >= (count - 1) / limit - 1e-9
        assert limiter.total_wait > 0
    # sleep never returns early, so this lower bound cannot flake
    assert elapsed >= (count - 1) / limit * 0.95


@pytest.mark.registry
def test_a_limited_registry_asks_the_shared_pacer_once_per_request_sent(registry: RunningRegistry) -> None:
    asked: list[int] = []
    with RegistryClient(registry.url, limit=1000.0, shared_pace=lambda: asked.append(1)) as client:
        for _ in range(3):
            client.ping()
        assert client.request_count == 3
        assert len(asked) == client.throttle.shared_waits == 3


@pytest.mark.registry
def test_an_unlimited_registry_never_asks_the_shared_pacer(registry: RunningRegistry) -> None:
    def refuse() -> None:
        raise AssertionError("an unlimited registry asked the shared limit")

    with RegistryClient(registry.url, shared_pace=refuse) as client:
        client.ping()
        assert client.request_count == 1 and client.throttle.shared_waits == 0


def test_the_pool_hands_each_registry_its_own_url_and_limit(tmp_path: Path) -> None:
    from ferry.config import load_config
    from ferry.credentials import CredentialResolver
    from ferry.image.reference import ImageReference
    from ferry.registry.pool import RegistryPool

    config = tmp_path / "ferry.yaml"
    config.write_text(
        "registries:\n"
        "  - {name: a, prefix: a.example, api_url: 'http://127.0.0.1:1', limit: 7, insecure: true}\n"
        "  - {name: b, prefix: b.example, api_url: 'http://127.0.0.1:2', insecure: true}\n"
    )
    asked: list[tuple[str, float]] = []
    pool = RegistryPool(
        load_config(config), CredentialResolver(), shared_rate=lambda u, r: asked.append((u, r))
    )
    limited, _ = pool.client(ImageReference.parse("a.example/team/app"))
    unlimited, _ = pool.client(ImageReference.parse("b.example/team/app"))
    assert limited.throttle.shared is not None and unlimited.throttle.shared is None
    limited.throttle.shared()
    assert asked == [("http://127.0.0.1:1", 7.0)]
    pool.close()
