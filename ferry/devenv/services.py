"""Background services of the demo, recorded by PID so ``--down`` can stop them later."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from ferry.devenv.ports import PortTaken, on_free_port, port_taken
from ferry.errors import ToolError


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    pid: int
    url: str


class ServiceBook:
    """``services.json`` in the demo directory: what runs, at which PID and URL."""

    def __init__(self, root: Path) -> None:
        self.path = root / "services.json"

    def load(self) -> list[Service]:
        if not self.path.exists():
            return []
        return [Service(**item) for item in json.loads(self.path.read_text())]

    def add(self, service: Service) -> None:
        services = [s for s in self.load() if s.name != service.name] + [service]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps([asdict(s) for s in services], indent=2))

    def stop_all(self) -> list[str]:
        """Stop every recorded service by PID (its whole process group); return their names."""
        stopped = []
        for service in self.load():
            stop_pid(service.pid)
            stopped.append(service.name)
        self.path.unlink(missing_ok=True)
        return stopped


def stop_pid(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM the process group of ``pid``, then SIGKILL whatever is left after ``timeout``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.1)


def start_prefect_server(home: Path, port: int | None = None, ready_timeout: float = 90.0) -> Service:
    """Start ``prefect server start`` on 127.0.0.1 in its own process group; wait for ``/api/health``.

    Without ``port``, a free one is picked (and another when it was taken meanwhile).
    Telemetry is off (it once locked the SQLite database here) and ``PREFECT_HOME``
    keeps the database inside the demo directory.
    """
    home.mkdir(parents=True, exist_ok=True)
    if port is not None:
        return _serve_prefect(home, port, ready_timeout)
    return on_free_port(lambda free: _serve_prefect(home, free, ready_timeout))


def _serve_prefect(home: Path, port: int, ready_timeout: float) -> Service:
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
    }
    prefect = Path(sys.executable).with_name("prefect")
    log_path = home / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            if port_taken(log_path.read_text(errors="replace")[-3000:]):
                raise PortTaken(f"prefect server: 127.0.0.1:{port} was taken")
            raise ToolError(f"prefect server exited early; see {log_path}")
        try:
            if httpx.get(f"{url}/api/health", timeout=1.0).status_code == 200:
                return Service("prefect-server", process.pid, url)
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    stop_pid(process.pid)
    raise ToolError(f"prefect server did not answer within {ready_timeout:.0f}s; see {log_path}")
