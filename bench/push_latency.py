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
from ferry.devenv.ports import PortTaken, on_free_port, port_taken
from ferry.devenv.registry import RunningRegistry, notification_config, start_registry
from ferry.devenv.services import start_prefect_server, stop_pid

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
    server = start_prefect_server(root / "prefect-home")
    try:
        yield f"{server.url}/api"
    finally:
        stop_pid(server.pid)


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

        yield str(_wait(deployment_and_automation, 120, "serving image-updater", interval=0.5))
    finally:
        _stop(process, timeout=30)
        log.close()


@contextmanager
def receiver(api_url: str, root: Path) -> Iterator[tuple[str, str]]:
    """``ferry receive`` with the Prefect emitter; yield ``(url, token)``."""
    token = secrets.token_urlsafe(24)
    log_path = root / "receiver.log"

    def start(port: int) -> tuple[subprocess.Popen[bytes], str]:
        with log_path.open("wb") as log:
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
        assert process.stdout is not None
        url = process.stdout.readline().decode().strip()
        if url:
            return process, url
        process.wait(timeout=30)
        if port_taken(log_path.read_text(errors="replace")):
            raise PortTaken(f"ferry receive: 127.0.0.1:{port} was taken")
        raise RuntimeError(f"ferry receive did not start; see {log_path}")

    process, url = on_free_port(start)
    try:
        yield url, token
    finally:
        _stop(process)


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
            with OciPusher(registry.url) as pusher:
                seen = _warm_up(api_url, deployment_id, pusher, timeout)
                for index in range(runs):
                    tag = f"v{index + 1}-{secrets.token_hex(3)}"
                    pusher.push_image(REPOSITORY, tag, created=None)
                    pushed_at = time.time()

                    def new_started_run(since: float = pushed_at) -> dict[str, object] | None:
                        # A run of a late warm-up push would be older than this push.
                        for run in _runs(api_url, deployment_id):
                            fresh = run["id"] not in seen and _parse(str(run["created"])) >= since - 1
                            if fresh and run.get("start_time"):
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


def _runs(api_url: str, deployment_id: str) -> list[dict[str, object]]:
    body = {"deployments": {"id": {"any_": [deployment_id]}}}
    return list(httpx.post(f"{api_url}/flow_runs/filter", json=body, timeout=5).json())


def _warm_up(api_url: str, deployment_id: str, pusher: OciPusher, timeout: float) -> set[str]:
    """Push until a push starts a run, i.e. until the triggers service has loaded the new automation
    (it does so shortly after the automation is stored; no API tells when). Wait for those runs to
    finish; return their ids, which the measurement then ignores."""
    deadline = time.monotonic() + timeout
    index = 0
    while True:
        index += 1
        pusher.push_image(REPOSITORY, f"warm-up-{index}-{secrets.token_hex(3)}", created=None)
        try:
            _wait(lambda: _runs(api_url, deployment_id), 3, "a warm-up run", interval=0.1)
            break
        except TimeoutError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no push started an image-updater run within {timeout}s") from None
    finals = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
    _wait(
        lambda: all(r["state_type"] in finals for r in _runs(api_url, deployment_id)),
        timeout,
        "the warm-up runs to finish",
        interval=0.2,
    )
    return {str(r["id"]) for r in _runs(api_url, deployment_id)}


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
