"""Issue 17's fleet on a Prefect server: a work pool of its own, its image-update deployment, workers.

The fleet (``ferry.devenv.scale.write_fleet``: 1,000 Applications over three deploy repos
and ten images) runs as an operator's would: the ``image-update`` flow as a deployment on a
process work pool, started with ``spread`` so that each deploy repository is a child run
that any worker takes. What this module brings up is only that, on a server that is given
(the PostgreSQL tests' system) or started here (the benchmark's):

* the pool ``ferry-fleet`` (process) and the deployment ``fleet-image-update`` of
  ``flows/image_update.py:image_update``, registered through the API as ``prefect deploy``
  would, with the pull step that runs it from this checkout;
* ``workers`` process workers on the pool, each with ``--limit`` runs at once, so the
  first worker to poll cannot take every child (Prefect's worker takes all runs due).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ferry.devenv.prefect_api import PrefectApi
from ferry.devenv.services import Service, ServiceBook, spawn_service, stop_pid

PROJECT_DIR = Path(__file__).resolve().parents[2]
FLEET_POOL = "ferry-fleet"
FLEET_DEPLOYMENT = "fleet-image-update"


@dataclass
class Fleet:
    """The fleet's pool, deployment and workers on one Prefect server."""

    api_url: str
    env: dict[str, str]
    deployment_id: str
    workers: dict[str, Service] = field(default_factory=dict)

    def api(self) -> PrefectApi:
        return PrefectApi(self.api_url)

    def cycle(self, config: Path, *, spread: bool, timeout: float = 1800) -> dict[str, Any]:
        """One image-update run of the fleet (as the UI's "Run" with these parameters): its final run."""
        with self.api() as api:
            created = api.create_flow_run(self.deployment_id, {"config": str(config), "spread": spread})
            return api.wait_final(created["id"], timeout)

    def children(self, run_id: str) -> list[dict[str, Any]]:
        """The runs that run ``run_id`` started (its spread children), oldest first."""
        with self.api() as api:
            body = {"flow_runs": {"parent_flow_run_id": {"any_": [run_id]}}, "sort": "START_TIME_ASC"}
            found: list[dict[str, Any]] = api.call("POST", "/flow_runs/filter", body)
        return found

    def stop_workers(self) -> None:
        for worker in self.workers.values():
            stop_pid(worker.pid, kill=True)  # a process worker ignores the first two SIGTERMs
        self.workers.clear()


def start_fleet(
    api_url: str, env: dict[str, str], root: Path, book: ServiceBook, *, workers: int = 2, limit: int = 2
) -> Fleet:
    """The pool, the deployment and ``workers`` workers (``--limit limit``), each in ``book`` at once."""
    with PrefectApi(api_url) as api:
        if _pool(api) is None:
            api.call("POST", "/work_pools/", {"name": FLEET_POOL, "type": "process"})
        flow = api.call("POST", "/flows/", {"name": "image-update"})
        deployment = api.call(
            "POST",
            "/deployments/",
            {
                "name": FLEET_DEPLOYMENT,
                "flow_id": flow["id"],
                "work_pool_name": FLEET_POOL,
                "entrypoint": "flows/image_update.py:image_update",
                "pull_steps": [
                    {"prefect.deployments.steps.set_working_directory": {"directory": str(PROJECT_DIR)}}
                ],
                "parameter_openapi_schema": {"type": "object", "properties": {}},
                "enforce_parameter_schema": False,
                "tags": ["ferry", "fleet"],
            },
        )
    fleet = Fleet(api_url, env, deployment["id"])
    (root / "logs").mkdir(parents=True, exist_ok=True)
    for n in range(1, workers + 1):
        name = f"fleet-worker-{n}"
        argv = [str(Path(sys.executable).with_name("prefect")), "worker", "start", "--pool", FLEET_POOL]
        argv += ["--type", "process", "--name", name, "--limit", str(limit)]
        process = spawn_service(argv, root / "logs" / f"{name}.log", env=env, cwd=PROJECT_DIR)
        service = Service(f"prefect-worker-{name}", process.pid, "", kill=True)
        book.add(service)
        fleet.workers[name] = service
    with PrefectApi(api_url) as api:
        for name in fleet.workers:
            api.wait(partial(_polled, api, name), 120, f"worker {name} to poll {FLEET_POOL}")
    return fleet


def _pool(api: PrefectApi) -> dict[str, Any] | None:
    found: list[dict[str, Any]] = api.call("POST", "/work_pools/filter", {})
    return next((p for p in found if p["name"] == FLEET_POOL), None)


def _polled(api: PrefectApi, name: str) -> dict[str, Any] | None:
    polled = (w for w in api.workers(FLEET_POOL) if w["name"] == name and w.get("last_heartbeat_time"))
    return next(polled, None)
