"""One sync or rollback of an app at a time, and at most ``max_syncs`` per cluster, across every worker.

Each worker process has its own engine, so nothing in one process can stop two
workers (or two runs on one worker) from applying the same Application at once:
two release runs of one app would interleave their applies and their history
records. The limits live on the Prefect server instead, as global concurrency
limits, which any number of workers share:

* ``ferry-app-<app>``, one slot: a sync, an auto-sync or a rollback of the app;
* ``ferry-cluster-<cluster>``, ``max_syncs`` slots (``clusters:`` in ``ferry.yaml``).

A run takes both slots in one request (the server grants all or none, so two runs
never hold one each and wait for the other). The slots are leases the holder keeps
renewing: a worker killed mid-sync gives its slots back when the lease runs out.
A limit is created on first use; an operator may lower or raise it in the UI
(*Concurrency*), and it keeps the value it is given there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from ferry.sync.engine import SyncEngine
from ferry.sync.target import AppRef

__all__ = ["LOCK_WAIT", "limit_name", "one_sync_of"]

#: How long a sync waits for its app's slot before failing (another run holds it).
LOCK_WAIT = 1800.0
_ensured: set[str] = set()


def limit_name(kind: str, name: str) -> str:
    """The limit's name: Prefect refuses ``/``, ``%``, ``&``, ``>`` and ``<`` in one.

    >>> limit_name("app", "app-helm-dev")
    'ferry-app-app-helm-dev'
    >>> limit_name("cluster", "https://10.0.0.1:6443")
    'ferry-cluster-https-10.0.0.1-6443'
    """
    return f"ferry-{kind}-" + re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")


def _ensure(name: str, limit: int) -> None:
    """Create the limit ``name`` with ``limit`` slots unless it exists (its value is then left alone)."""
    if name in _ensured:
        return
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=limit))
            except ObjectAlreadyExists:
                pass  # another worker made it first
    _ensured.add(name)


@contextmanager
def one_sync_of(engine: SyncEngine, app: AppRef, wait: float = LOCK_WAIT) -> Iterator[None]:
    """Hold ``app``'s slot and one of its cluster's while the body applies to it.

    Raises:
        TimeoutError: The slots stayed taken for ``wait`` seconds.
    """
    target = engine.target(app)
    names = {
        limit_name("app", target.name): 1,
        limit_name("cluster", target.entry.name): target.entry.max_syncs,
    }
    for name, limit in names.items():
        _ensure(name, limit)
    logger = get_run_logger()
    # strict: a limit deleted meanwhile must fail the sync, not let it run unguarded.
    with concurrency(list(names), occupy=1, timeout_seconds=wait, strict=True):
        logger.info("holding %s", ", ".join(names))
        try:
            yield
        finally:
            logger.info("letting go of %s", ", ".join(names))
