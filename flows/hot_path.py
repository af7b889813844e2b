"""A warm runner for the hot path: a registry push → the write-back → Dev synced, with no process start.

A deployment run always starts a new Python process (the worker's and
``serve``'s runners both do), and here that process start costs several seconds
before the first line of Ferry runs, twice on the way from a registry push to
Dev (``image-updater``, then ``sync-dev``). This runner keeps one process warm:
it subscribes to Prefect's event stream and, on ``ferry.image.pushed``, runs
the image updater's cycle and then the automated sync of the Dev apps it
changed, both as Prefect tasks in this process. Their task runs, logs and
the ``ferry.image.updated`` events (which still start the ``release``
deployment) show in the UI as usual.

It replaces the ``image-updater`` and ``sync-dev`` *triggers* (turn those two
automations off while it runs, or both would act on the same push); their
deployments and schedules stay as the fallback::

    PREFECT_API_URL=... python -m flows.hot_path --config ferry.yaml --cluster dev

Pushes that arrive while a cycle runs are coalesced into one more cycle.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import threading
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.events.clients import get_events_subscriber
from prefect.events.filters import EventFilter, EventNameFilter

from blocks.ports import PORTS
from ferry.ci.events import IMAGE_PUSHED_EVENT
from ferry.config import load_config
from ferry.release.holds import auto_sync_unless_held
from ferry.update.outcomes import UpdateStatus
from flows.image_update import emit_image_updated, resource_labels
from flows.logging import forward_ferry_logs
from flows.runs import config_path
from flows.sync import open_engine

logger = logging.getLogger("ferry.hot_path")


@task(name="hot-image-update", cache_policy=NO_CACHE, task_run_name="image-update on a push")
def hot_image_update(config: str) -> list[str]:
    """One image updater cycle; announce each write-back; return the apps it changed."""
    cfg = load_config(config_path(config))
    report = PORTS.update_cycle(cfg)
    updated = [o for o in report.outcomes if o.status is UpdateStatus.UPDATED]
    labels = resource_labels(cfg) if updated else {}
    for outcome in updated:
        emit_image_updated(outcome, labels.get(outcome.app))
    return [o.app for o in updated]


@task(name="hot-sync", cache_policy=NO_CACHE, task_run_name="auto-sync {apps} on {cluster}")
def hot_sync(config: str, apps: list[str], cluster: str, wait_timeout: float) -> list[dict[str, Any]]:
    """The automated sync of ``apps`` that run on ``cluster`` (Argo CD's rules, as ``sync-dev``)."""
    rows = []
    with open_engine(config) as engine:
        for application in engine.applications(apps):
            if not application.is_automated:
                continue
            target = engine.target(application)
            if target.entry.name != cluster:
                continue
            result, reason = auto_sync_unless_held(engine, target, wait_timeout=wait_timeout or None)
            rows.append({"app": application.name, "synced": result is not None, "reason": reason})
    return rows


class HotPath:
    """Runs one cycle at a time in a worker thread; pushes during a cycle ask for one more."""

    def __init__(self, config: str, cluster: str, wait_timeout: float) -> None:
        self.config, self.cluster, self.wait_timeout = config, cluster, wait_timeout
        self._wanted = threading.Event()
        self.cycles = 0

    def push_seen(self) -> None:
        self._wanted.set()

    def work(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            try:
                changed = hot_image_update(self.config)
                if changed:
                    hot_sync(self.config, changed, self.cluster, self.wait_timeout)
            except Exception:  # a failed cycle is logged, and shows as a failed task run
                logger.exception("hot path cycle failed")
            self.cycles += 1


async def listen(hot: HotPath) -> None:
    pushed = EventFilter(event=EventNameFilter(name=[IMAGE_PUSHED_EVENT]))
    async with get_events_subscriber(filter=pushed) as events:
        logger.info("warm: waiting for %s", IMAGE_PUSHED_EVENT)
        async for event in events:
            logger.info("%s %s", event.event, event.resource.id)
            hot.push_seen()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--cluster", default="dev")
    parser.add_argument("--wait-timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    forward_ferry_logs()
    hot = HotPath(args.config, args.cluster, args.wait_timeout)
    threading.Thread(target=hot.work, name="hot-path", daemon=True).start()
    asyncio.run(listen(hot))


if __name__ == "__main__":
    main()
