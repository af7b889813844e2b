"""A registry's ``limit:`` held across every worker, as a Prefect rate limit.

``limit:`` in ``registries:`` is requests per second to one registry, the way
Image Updater's ``registries.conf`` means it: a registry that throttles (ACR,
Docker Hub, Quay) counts every client's requests together. Each worker process
paces its own requests (``ferry.registry.ratelimit``), so two workers would send
twice the limit. This module is the shared part: a Prefect global concurrency
limit ``ferry-registry-<host>`` with one slot that decays at ``limit`` per second.
A request takes the slot before it is sent; the slot is free again 1/``limit`` s
later, whoever took it. The server answers a denied take with a Retry-After near
that interval, so the waiting costs a request to the Prefect server per try, not
a busy loop.

One slot (not ``limit`` slots) keeps the requests evenly spaced across workers,
as the per-process limiter spaces them within one: a burst of ``limit`` requests
in the first milliseconds of a second is exactly what a throttling registry
refuses. The limit is created on first use with the config's rate; when an
existing limit's rate differs, the config's wins (it is the setting the operator
wrote), and the UI shows it under *Concurrency*.
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import httpx
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError
from prefect.concurrency.sync import rate_limit
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from ferry.errors import RegistryUnavailable

__all__ = ["registry_limit_name", "shared_registry_rate"]

#: How long one request waits for the shared slot before the registry call fails as unavailable.
PACE_WAIT = 300.0
_ensured: dict[str, float] = {}
_lock = threading.Lock()


def registry_limit_name(api_url: str) -> str:
    """The limit's name for a registry: its host and port (Prefect refuses ``/`` and ``:`` is unclear).

    >>> registry_limit_name("http://127.0.0.1:5000")
    'ferry-registry-127.0.0.1-5000'
    >>> registry_limit_name("https://ghcr.io")
    'ferry-registry-ghcr.io'
    """
    netloc = urlsplit(api_url).netloc or api_url
    return "ferry-registry-" + "".join(c if c.isalnum() or c in "._-" else "-" for c in netloc).strip("-")


def _ensure(name: str, rate: float) -> None:
    """Make ``name`` one slot decaying at ``rate`` per second (once per process and rate)."""
    with _lock:
        if _ensured.get(name) == rate:
            return
        with get_client(sync_client=True) as client:
            try:
                found = client.read_global_concurrency_limit_by_name(name)
            except ObjectNotFound:
                try:
                    client.create_global_concurrency_limit(
                        GlobalConcurrencyLimitCreate(name=name, limit=1, slot_decay_per_second=rate)
                    )
                except ObjectAlreadyExists:
                    pass  # another worker made it first, from the same config
            else:
                if found.slot_decay_per_second != rate or found.limit != 1 or not found.active:
                    client.update_global_concurrency_limit(
                        name, GlobalConcurrencyLimitUpdate(limit=1, slot_decay_per_second=rate, active=True)
                    )
        _ensured[name] = rate


def shared_registry_rate(api_url: str, rate: float) -> None:
    """Block until the registry at ``api_url`` may take one more request under ``rate`` per second.

    Called from the thread about to send the request. Each call costs one request to the
    Prefect server, and one more per denied try; a registry without ``limit:`` never gets here.

    Raises:
        RegistryUnavailable: the Prefect server did not grant the slot within :data:`PACE_WAIT`
            seconds or could not be asked; a transient error, so the cycle tries that app again.
    """
    name = registry_limit_name(api_url)
    try:
        _ensure(name, rate)
        # strict: a limit deleted meanwhile must fail the request, not send it unpaced.
        rate_limit(name, occupy=1, timeout_seconds=PACE_WAIT, strict=True)
    except TimeoutError as exc:
        raise RegistryUnavailable(
            f"registry {api_url}: no request slot under its shared limit {name} in {PACE_WAIT:.0f} s"
        ) from exc
    except (ConcurrencySlotAcquisitionError, httpx.HTTPError, OSError) as exc:
        raise RegistryUnavailable(
            f"registry {api_url}: the shared limit {name} could not be taken: {type(exc).__name__}: {exc}"
        ) from exc
