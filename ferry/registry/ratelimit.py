"""Per-registry request pacing: a rate limit plus a cap on requests in flight.

Image Updater's ``limit`` in ``registries.conf`` is requests per second, spread
evenly (a leaky bucket, not a burst allowance), because registries like ACR
throttle on short windows. :class:`RateLimiter` hands out evenly spaced send
slots; :class:`Throttle` adds a bounded number of concurrent requests on top.

Both hold within one process. Several workers on one registry each have their
own, so a :class:`Throttle` may also be handed a shared pacer: a callable that
blocks until a slot of a limit every process shares (the Prefect layer passes
one backed by a global concurrency limit with slot decay, ``tasks.pacing``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: Blocks until the shared limit grants one request to the registry ``api_url`` at ``rate`` per second.
SharedPacer = Callable[[str, float], None]


class RateLimiter:
    """Grants send slots at most ``rate`` per second, evenly spaced.

    Each caller reserves the next free slot under a lock and then sleeps until it
    outside the lock, so waiting threads do not serialise on the lock. The
    limiter keeps its own accounting (``granted``, ``first_slot``, ``last_slot``,
    ``total_wait``) so that tests and the benchmark can check the pacing without
    relying on wall-clock timing.

    >>> clock = [0.0]
    >>> limiter = RateLimiter(4.0, clock=lambda: clock[0], sleep=lambda s: None)
    >>> [limiter.acquire() for _ in range(3)]
    [0.0, 0.25, 0.5]
    >>> limiter.last_slot - limiter.first_slot
    0.5
    """

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"rate limit must be positive, got {rate}")
        self.rate = rate
        self._interval = 1.0 / rate if rate else 0.0
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot: float | None = None
        self.granted = 0
        self.total_wait = 0.0
        self.first_slot: float | None = None
        self.last_slot: float | None = None

    def acquire(self) -> float:
        """Wait for the next send slot; return how many seconds this caller waited."""
        with self._lock:
            now = self._clock()
            slot = now if self._next_slot is None else max(now, self._next_slot)
            self._next_slot = slot + self._interval
            wait = slot - now
            self.granted += 1
            self.total_wait += wait
            if self.first_slot is None:
                self.first_slot = slot
            self.last_slot = slot
        if wait > 0:
            self._sleep(wait)
        return wait


class Throttle:
    """Rate limit plus bounded concurrency for one registry.

    ``limit`` of ``None`` means no rate limit (Image Updater's default);
    ``max_concurrency`` always applies, so one huge repository cannot open
    thousands of connections. ``shared`` (called with no arguments) is the
    cross-process pacer, asked after the local limiter: the local one spaces this
    process's requests without a round trip, the shared one keeps the sum of every
    process's within the limit. It is only asked when there is a limit.
    """

    def __init__(
        self, limit: float | None, max_concurrency: int, shared: Callable[[], None] | None = None
    ) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        self.limiter = RateLimiter(limit)
        self.shared = shared if limit else None
        self.shared_waits = 0
        self.max_concurrency = max_concurrency
        self._in_flight = threading.BoundedSemaphore(max_concurrency)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one request slot: paced by the rate limit, then bounded by the concurrency cap."""
        self.limiter.acquire()
        if self.shared is not None:
            self.shared()
            self.shared_waits += 1
        with self._in_flight:
            yield
