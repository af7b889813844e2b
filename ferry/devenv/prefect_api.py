"""The few Prefect REST calls the deployed system, its tests and its benchmark make.

Plain HTTP on purpose: ``ferry/`` never imports Prefect, and what an operator's
scripts (or the UI) see through the REST API is exactly what these calls see.
Paths and bodies are those of the Prefect 3.9 server API.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from ferry.errors import ToolError

T = TypeVar("T")

FINAL_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "CRASHED"})
RETRYABLE = frozenset({429, 502, 503})
#: About a minute of retries (0.5 s doubling to 5 s): on 2026-12-03, at load 30 on two cores, the server's
#: SQLite stayed locked past the 17 s that 6 gave, and a gate's resume failed with a 503 in the demo and
#: in the deployed chain test alike.
RETRIES = 14


def parse_time(text: str | None) -> float | None:
    """A Prefect timestamp as epoch seconds."""
    return None if not text else datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class PrefectApi:
    """A small client of one Prefect server's REST API (``http://127.0.0.1:PORT/api``)."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PrefectApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        # The server answers 503 for errors a client may retry (SQLite busy under load), as
        # Prefect's own client does; a refused connection or a timeout is retried the same way.
        for attempt in range(RETRIES + 1):
            try:
                response = self._http.request(method, path, json=body)
            except httpx.TransportError:
                if attempt == RETRIES:
                    raise
            else:
                if response.status_code not in RETRYABLE or attempt == RETRIES:
                    break
            time.sleep(min(0.5 * 2**attempt, 5.0))
        if response.status_code >= 400:
            raise ToolError(f"Prefect API {method} {path}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """Any API call (retried as the others are), for what has no method of its own here."""
        return self._call(method, path, body)

    # -- reading -------------------------------------------------------------------------------

    def healthy(self) -> bool:
        try:
            return self._http.get("/health", timeout=2.0).status_code == 200
        except httpx.TransportError:
            return False

    def deployments(self) -> list[dict[str, Any]]:
        """Every deployment, each with ``flow_name`` added."""
        found: list[dict[str, Any]] = self._call("POST", "/deployments/filter", {"limit": 200})
        flows = {f["id"]: f["name"] for f in self._call("POST", "/flows/filter", {"limit": 200})}
        for deployment in found:
            deployment["flow_name"] = flows.get(deployment["flow_id"], "?")
        return found

    def deployment(self, name: str) -> dict[str, Any]:
        """The deployment called ``name`` (``release``, ``sync-dev``, …) whatever its flow."""
        matching = [d for d in self.deployments() if d["name"] == name]
        if len(matching) != 1:
            raise ToolError(f"expected one deployment named {name!r}, found {len(matching)}")
        return matching[0]

    def automations(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("POST", "/automations/filter", {"limit": 200})
        return found

    def work_pool(self, name: str) -> dict[str, Any]:
        """The work pool ``name``: its ``type`` and the ``base_job_template`` its workers fill in."""
        found: dict[str, Any] = self._call("GET", f"/work_pools/{name}")
        return found

    def workers(self, pool: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("POST", f"/work_pools/{pool}/workers/filter", {})
        return found

    def flow_runs(
        self, *, deployment_id: str | None = None, states: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Flow runs, newest first (of one deployment, in some state types, when given)."""
        runs: dict[str, Any] = {}
        if deployment_id is not None:
            runs["deployment_id"] = {"any_": [deployment_id]}
        if states:
            runs["state"] = {"type": {"any_": states}}
        body = {"flow_runs": runs, "sort": "START_TIME_DESC", "limit": 200}
        found: list[dict[str, Any]] = self._call("POST", "/flow_runs/filter", body)
        return found

    def flow_run(self, run_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call("GET", f"/flow_runs/{run_id}")
        return found

    def artifacts(self, run_id: str) -> list[dict[str, Any]]:
        body = {"artifacts": {"flow_run_id": {"any_": [run_id]}}, "sort": "CREATED_DESC", "limit": 200}
        found: list[dict[str, Any]] = self._call("POST", "/artifacts/filter", body)
        return found

    def states(self, run_id: str) -> dict[str, float]:
        """When run ``run_id`` first entered each state (by state name: Pending, Running, …), epoch s."""
        states: list[dict[str, Any]] = self._call("GET", f"/flow_run_states/?flow_run_id={run_id}")
        first: dict[str, float] = {}
        for state in sorted(states, key=lambda s: str(s["timestamp"])):
            first.setdefault(state["name"], parse_time(state["timestamp"]) or 0.0)
        return first

    def events(self, names: list[str], since: float) -> list[dict[str, Any]]:
        """Events called one of ``names`` that occurred after ``since`` (epoch s), oldest first."""
        start = datetime.fromtimestamp(since, UTC).isoformat()
        wanted = {"event": {"name": names}, "occurred": {"since": start}, "order": "ASC"}
        body = {"filter": wanted, "limit": 50}
        page: dict[str, Any] = self._call("POST", "/events/filter", body)
        return list(page.get("events") or [])

    def task_runs(self, name_like: str, since: float) -> list[dict[str, Any]]:
        start = datetime.fromtimestamp(since, UTC).isoformat()
        body = {"task_runs": {"name": {"like_": name_like}, "start_time": {"after_": start}}, "limit": 100}
        found: list[dict[str, Any]] = self._call("POST", "/task_runs/filter", body)
        return found

    def logs(self, run_id: str) -> list[dict[str, Any]]:
        """The log lines of flow run ``run_id`` (its tasks' too), oldest first."""
        body = {"logs": {"flow_run_id": {"any_": [run_id]}}, "sort": "TIMESTAMP_ASC", "limit": 200}
        found: list[dict[str, Any]] = self._call("POST", "/logs/filter", body)
        return found

    def concurrency_limit(self, name: str) -> dict[str, Any] | None:
        """The global concurrency limit ``name``, or None when there is none."""
        response = self._http.get(f"/v2/concurrency_limits/{name}")
        return response.json() if response.status_code == 200 else None

    def create_concurrency_limit(self, name: str, limit: int) -> None:
        """Make the global concurrency limit ``name`` with ``limit`` slots (as a first sync would)."""
        self._call("POST", "/v2/concurrency_limits/", {"name": name, "limit": limit})

    def take_slots(self, names: list[str], lease_seconds: float = 60) -> str:
        """Hold one slot of each global concurrency limit in ``names`` (as a sync would); the lease's id.

        Raises:
            ToolError: A slot is taken (423), or a limit does not exist.
        """
        body = {"names": names, "slots": 1, "mode": "concurrency", "lease_duration": lease_seconds}
        taken: dict[str, Any] = self._call("POST", "/v2/concurrency_limits/increment-with-lease", body)
        return str(taken["lease_id"])

    def give_back(self, lease_id: str) -> None:
        self._call("POST", "/v2/concurrency_limits/decrement-with-lease", {"lease_id": lease_id})

    def set_automation_enabled(self, automation_id: str, enabled: bool) -> None:
        self._call("PATCH", f"/automations/{automation_id}", {"enabled": enabled})

    def run_input_description(self, run_id: str, keyset: dict[str, str]) -> str | None:
        """The description a paused run's form shows (what the Resume modal renders)."""
        response = self._http.get(f"/flow_runs/{run_id}/input/{keyset['description']}")
        return response.json() if response.status_code == 200 else None

    # -- acting --------------------------------------------------------------------------------

    def create_flow_run(
        self,
        deployment_id: str,
        parameters: dict[str, Any] | None = None,
        job_variables: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A run of the deployment; ``job_variables`` override the deployment's for this run only."""
        body: dict[str, Any] = {"parameters": parameters or {}}
        if job_variables is not None:
            body["job_variables"] = job_variables
        created: dict[str, Any] = self._call("POST", f"/deployments/{deployment_id}/create_flow_run", body)
        return created

    def resume(self, run_id: str, run_input: dict[str, Any]) -> dict[str, Any]:
        """Answer a paused run's form (what the UI's Resume button sends); the server validates it."""
        answer: dict[str, Any] = self._call("POST", f"/flow_runs/{run_id}/resume", {"run_input": run_input})
        return answer

    def set_schedules_active(self, deployment: dict[str, Any], active: bool) -> None:
        for schedule in deployment.get("schedules") or []:
            self._call(
                "PATCH", f"/deployments/{deployment['id']}/schedules/{schedule['id']}", {"active": active}
            )

    def delete_flow_run(self, run_id: str) -> None:
        self._call("DELETE", f"/flow_runs/{run_id}")

    def delete_deployment(self, deployment_id: str) -> None:
        self._call("DELETE", f"/deployments/{deployment_id}")

    def delete_work_pool(self, name: str) -> None:
        """Delete the pool ``name`` (its queues and its workers' records go with it)."""
        self._call("DELETE", f"/work_pools/{name}")

    def create_secret_block(self, name: str, value: Any) -> None:
        """Save a Prefect ``Secret`` block (the seed's ``secret:<ns>/<name>`` references read it)."""
        block_type = self._call("GET", "/block_types/slug/secret")
        schemas = self._call(
            "POST",
            "/block_schemas/filter",
            {"block_schemas": {"block_type_id": {"any_": [block_type["id"]]}}},
        )
        body = {
            "name": name,
            "data": {"value": value},
            "block_type_id": block_type["id"],
            "block_schema_id": schemas[0]["id"],
        }
        self._call("POST", "/block_documents/", body)

    # -- waiting -------------------------------------------------------------------------------

    def wait(self, probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.5) -> T:
        """Call ``probe`` until it returns something; after ``timeout``, raise ToolError naming ``what``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                found = probe()
            except httpx.TransportError:
                found = None
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise ToolError(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(interval)

    def wait_final(self, run_id: str, timeout: float) -> dict[str, Any]:
        """Wait until run ``run_id`` is in a final state; return it."""

        def final() -> dict[str, Any] | None:
            run = self.flow_run(run_id)
            return run if run["state_type"] in FINAL_STATES else None

        return self.wait(final, timeout, f"flow run {run_id} to finish")
