"""Push notification latency: registry push → ``ferry.image.pushed`` → ``image-updater`` flow run start.

Everything is real and on loopback:

* a Prefect server (``prefect server start``, its own PREFECT_HOME, stopped by PID), or an
  existing API given with ``--api-url`` (the tests pass the test harness's);
* the ``image-updater`` deployment, served by ``flow.to_deployment(triggers=[...]) + serve`` in a
  subprocess with ``PREFECT_RUNNER_POLL_FREQUENCY`` set by ``--poll``, with the same trigger
  ``prefect.yaml`` declares (``ferry.image.pushed`` on ``ferry.image.*``);
* ``ferry receive`` (the real CLI, Prefect emitter) behind a bearer token;
* CNCF Distribution with ``notifications.endpoints`` pointing at the receiver.

Each run pushes a new tag by hand (blobs + manifest over HTTP), notes the wall clock when the
manifest PUT returns, and waits for a new flow run of the deployment. It records the time to the
flow run's creation (the trigger fired) and to its start (state Running).

    .venv/bin/python -m bench.push_latency --runs 5 --poll 1
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import httpx

from ferry.devenv.oci import OciPusher
from ferry.devenv.registry import RunningRegistry, free_port, notification_config, start_registry

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEPLOYMENT = "image-updater"
REPOSITORY = "cidemo/echo-server"


@dataclass(frozen=True)
class Sample:
    """One push and the run it started; seconds are measured from the end of the manifest PUT."""

    tag: str
    to_run_created: float
    to_run_started: float


def _env(api_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PYTHONPATH": str(PROJECT_ROOT),
        **extra,
    }


def _stop(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _wait(predicate: object, timeout: float, what: str, interval: float = 0.1) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(httpx.TransportError):
            value = predicate()  # type: ignore[operator]
            if value:
                return value
        time.sleep(interval)
    raise TimeoutError(f"{what} did not happen within {timeout}s")


@contextmanager
def prefect_server(root: Path) -> Iterator[str]:
    """``prefect server start`` on a free loopback port, PREFECT_HOME under ``root``; yield the API URL."""
    port = free_port()
    home = root / "prefect-home"
    home.mkdir(parents=True, exist_ok=True)
    log = (root / "prefect-server.log").open("wb")
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        _wait(lambda: httpx.get(f"{api}/health", timeout=1).status_code == 200, 90, "prefect server start")
        yield api
    finally:
        _stop(process)
        log.close()


@contextmanager
def served_image_updater(api_url: str, root: Path, poll: float) -> Iterator[str]:
    """Serve ``image-updater`` with its push trigger in a subprocess; yield the deployment id."""
    (root / "apps").mkdir(parents=True, exist_ok=True)
    config = root / "ferry.yaml"
    config.write_text(f"applications: apps\ncache_dir: {root / 'cache'}\n")
    log = (root / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.push_latency", "serve", str(config)],
        cwd=PROJECT_ROOT,
        env=_env(api_url, PREFECT_RUNNER_POLL_FREQUENCY=str(poll)),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def deployment_and_automation() -> str | None:
            found = httpx.post(f"{api_url}/deployments/filter", json={}, timeout=5).json()
            ids = [d["id"] for d in found if d["name"] == DEPLOYMENT]
            autos = httpx.post(f"{api_url}/automations/filter", json={}, timeout=5).json()
            ready = ids and any(ids[0] in json.dumps(a.get("actions", [])) for a in autos)
            return ids[0] if ready else None

        deployment_id = str(_wait(deployment_and_automation, 120, "serving image-updater", interval=0.5))
        time.sleep(2)  # the triggers service picks up a new automation shortly after it is stored
        yield deployment_id
    finally:
        _stop(process, timeout=30)
        log.close()


@contextmanager
def receiver(api_url: str, root: Path) -> Iterator[tuple[str, str]]:
    """``ferry receive`` with the Prefect emitter; yield ``(url, token)``."""
    token = secrets.token_urlsafe(24)
    port = free_port()
    log = (root / "receiver.log").open("wb")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("ferry")),
            "receive",
            "--listen",
            f"127.0.0.1:{port}",
            "--token-env",
            "FERRY_BENCH_TOKEN",
        ],
        env=_env(api_url, FERRY_BENCH_TOKEN=token),
        stdout=subprocess.PIPE,
        stderr=log,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().decode().strip()
        if not url:
            raise RuntimeError(f"ferry receive did not start; see {root / 'receiver.log'}")
        yield url, token
    finally:
        _stop(process)
        log.close()


def notifying_registry(root: Path, url: str, token: str) -> RunningRegistry:
    """Distribution with one notification endpoint: the receiver, with the bearer token."""
    return start_registry(root, extra_config=notification_config(url, token, timeout="2s"))


def _parse(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def measure(api_url: str, root: Path, *, runs: int, poll: float, timeout: float = 60) -> list[Sample]:
    """Push ``runs`` tags and time the image-updater runs they start."""
    samples: list[Sample] = []
    with (
        served_image_updater(api_url, root / "serve", poll) as deployment_id,
        receiver(api_url, root) as (url, token),
    ):
        registry = notifying_registry(root / "registry", url, token)
        try:
            seen: set[str] = set()
            with OciPusher(registry.url) as pusher:
                for index in range(runs):
                    tag = f"v{index + 1}-{secrets.token_hex(3)}"
                    pusher.push_image(REPOSITORY, tag, created=None)
                    pushed_at = time.time()

                    def new_started_run() -> dict[str, object] | None:
                        body = {"deployments": {"id": {"any_": [deployment_id]}}}
                        flow_runs = httpx.post(f"{api_url}/flow_runs/filter", json=body, timeout=5).json()
                        for run in flow_runs:
                            if run["id"] not in seen and run.get("start_time"):
                                return dict(run)
                        return None

                    run = _wait(new_started_run, timeout, f"an image-updater run for {tag}", interval=0.05)
                    assert isinstance(run, dict)
                    seen.add(str(run["id"]))
                    samples.append(
                        Sample(
                            tag,
                            _parse(str(run["created"])) - pushed_at,
                            _parse(str(run["start_time"])) - pushed_at,
                        )
                    )
                    _wait(
                        lambda run_id=run["id"]: (
                            httpx.get(f"{api_url}/flow_runs/{run_id}", timeout=5).json()["state_type"]
                            in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
                        ),
                        timeout,
                        "the run to finish",
                        interval=0.2,
                    )
        finally:
            registry.stop()
    return samples


def _serve(config: str) -> None:
    """The subprocess: serve image-updater with the push trigger ``prefect.yaml`` declares."""
    from prefect import serve
    from prefect.events import DeploymentEventTrigger

    from flows.image_update import image_update

    trigger = DeploymentEventTrigger(
        expect={"ferry.image.pushed"},
        match={"prefect.resource.id": "ferry.image.*"},
        parameters={"config": config},
    )
    serve(image_update.to_deployment(name=DEPLOYMENT, parameters={"config": config}, triggers=[trigger]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--poll", type=float, default=1.0, help="PREFECT_RUNNER_POLL_FREQUENCY of the served deployment"
    )
    parser.add_argument("--api-url", help="use this Prefect API instead of starting a server")
    parser.add_argument("--json", type=Path, help="write the samples here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ferry-latency-") as tmp:
        root = Path(tmp)
        if args.api_url:
            samples = measure(args.api_url, root, runs=args.runs, poll=args.poll)
        else:
            with prefect_server(root) as api:
                samples = measure(api, root, runs=args.runs, poll=args.poll)
    created = [s.to_run_created for s in samples]
    started = [s.to_run_started for s in samples]
    print(f"runs={len(samples)} poll={args.poll}s")
    print(f"push → run created: median {statistics.median(created):.2f}s, max {max(created):.2f}s")
    print(f"push → run started: median {statistics.median(started):.2f}s, max {max(started):.2f}s")
    if args.json:
        args.json.write_text(json.dumps([asdict(s) for s in samples], indent=2))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        _serve(sys.argv[2])
    else:
        main()
