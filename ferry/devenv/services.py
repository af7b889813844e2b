"""Background services of the demo, recorded by PID so ``--down`` can stop them later.

Every service runs in its own session, so its PID is also its process group and
one ``killpg`` reaches whatever it forked (a worker's flow-run processes too).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from ferry.devenv.ports import PortTaken, free_port, on_free_port, port_taken
from ferry.errors import ToolError


@dataclass(frozen=True, slots=True)
class Service:
    """One background process: what it is, its PID (= process group), where it answers.

    ``kill`` marks a process that ignores SIGTERM (a Prefect process worker ignores the
    first two): its group is sent SIGKILL at once.
    """

    name: str
    pid: int
    url: str
    kill: bool = False

    def alive(self) -> bool:
        return pid_alive(self.pid)

    def how_to_stop(self) -> str:
        return f"kill -{'KILL' if self.kill else 'TERM'} -- -{self.pid}"


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
        """Stop every recorded service by PID (its whole process group), newest first; return their names.

        A service that survives stays in the book, so ``--down`` can try again and say what is left.
        """
        stopped: list[Service] = []
        left: list[Service] = []
        for service in reversed(self.load()):
            stop_pid(service.pid, kill=service.kill)
            (left if service.alive() else stopped).append(service)
        if left:
            self.path.write_text(json.dumps([asdict(s) for s in reversed(left)], indent=2))
        else:
            self.path.unlink(missing_ok=True)
        return [s.name for s in stopped]

    def still_running(self) -> list[Service]:
        """The recorded services whose process is still alive."""
        return [s for s in self.load() if s.alive()]


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs: reaped when it is our child, and a zombie (whose parent has not
    reaped it yet) counts as gone."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def stop_pid(pid: int, timeout: float = 10.0, *, kill: bool = False) -> None:
    """SIGTERM the process group of ``pid``, then SIGKILL whatever is left after ``timeout``.

    With ``kill``, SIGKILL at once (for a process known to ignore SIGTERM).
    """
    for sig in (signal.SIGKILL,) if kill else (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.1)


def spawn_service(
    argv: list[str], log: Path, *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session, appending stdout and stderr to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        return subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def start_receiver(
    logs: Path, book: ServiceBook, env: dict[str, str], ferry_bin: str, secrets: tuple[str, str]
) -> str:
    """``ferry receive`` on a free port, with the Prefect emitter in ``env``; return its base URL.

    ``secrets`` are the registry notifications' token and the forge webhooks' secret, passed by
    environment so they show in no process listing.
    """
    token, secret = secrets
    env = {**env, "FERRY_RECEIVER_TOKEN": token, "FERRY_WEBHOOK_SECRET": secret}
    for _ in range(3):
        port = free_port()
        argv = [
            ferry_bin,
            "receive",
            "--listen",
            f"127.0.0.1:{port}",
            "--token-env",
            "FERRY_RECEIVER_TOKEN",
            "--forge-secret-env",
            "FERRY_WEBHOOK_SECRET",
        ]
        process = spawn_service(argv, logs / "receiver.log", env=env)
        base = f"http://127.0.0.1:{port}"
        book.add(Service("ferry-receive", process.pid, base))
        # Its start is an import of Prefect: seconds when idle, nearly two minutes at load 25 here.
        deadline = time.monotonic() + 180
        while process.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    return base
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        stop_pid(process.pid)
    raise ToolError(f"ferry receive did not start; see {logs / 'receiver.log'}")


def start_prefect_server(
    home: Path,
    port: int | None = None,
    ready_timeout: float = 300.0,
    *,
    extra_env: dict[str, str] | None = None,
) -> Service:
    """Start ``prefect server start`` on 127.0.0.1 in its own process group; wait for ``/api/health``.

    Without ``port``, a free one is picked (and another when it was taken meanwhile).
    Telemetry is off (it once locked the SQLite database here) and ``PREFECT_HOME``
    keeps the database inside the demo directory. A fresh database is migrated first: 12 s on an
    idle machine here, over a minute under load, hence the generous ``ready_timeout``.
    """
    home.mkdir(parents=True, exist_ok=True)
    if port is not None:
        return _serve_prefect(home, port, ready_timeout, extra_env)
    return on_free_port(lambda free: _serve_prefect(home, free, ready_timeout, extra_env))


def _serve_prefect(home: Path, port: int, ready_timeout: float, extra_env: dict[str, str] | None) -> Service:
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        **(extra_env or {}),
    }
    prefect = Path(sys.executable).with_name("prefect")
    cmd = [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    log_path = home / "server.log"
    process = spawn_service(cmd, log_path, env=env)
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
