"""A real PostgreSQL (Debian's 15) on loopback with its own data dir, for a Prefect server; stopped by PID.

``initdb`` makes a cluster under the caller's directory whose only role,
``prefect``, has a generated password (handed to initdb in a 0600 file, never in
argv). Over TCP the server listens on 127.0.0.1 only and asks for that password
(scram-sha-256); its unix socket lives inside the data dir (0700), where trust
is safe because only the owner can reach it, and that is how the ``prefect``
database is created. A port taken between choosing and binding makes postgres
exit with "Address already in use": it is started again on another port.

PostgreSQL refuses to run as root. As root, initdb and postgres run in a user
namespace (``unshare --user``) that maps root to an unprivileged uid: the
server is not root, and yet owns the caller's files, so the data dir can sit
anywhere root can write (a pytest tmp dir or ``~/.cache`` are 0700, out of reach
of the ``postgres`` system user).

:func:`start_server` starts the Prefect server on either database (the deployed system's
and the fleet benchmark's), with the settings every Ferry server gets.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ferry.devenv.ports import PortTaken, on_free_port, port_taken
from ferry.devenv.services import Service, ServiceBook, spawn_service, start_prefect_server, stop_pid
from ferry.errors import ToolError

#: The checkout the server's workers run flows from.
PROJECT_DIR = Path(__file__).resolve().parents[2]

BIN_DIR = Path("/usr/lib/postgresql/15/bin")
USER = "prefect"
DATABASE = "prefect"
#: What a Prefect server of the deployed system can keep its state in.
DATABASES = ("sqlite", "postgres")
#: The uid (and gid) the server runs as inside the user namespace when started by root.
NAMESPACE_UID = 1000


@dataclass
class RunningPostgres:
    """A started ``postgres`` process.

    Attributes:
        host, port: Where it listens (127.0.0.1).
        root: Its directory (``data/``, ``postgres.log``).
        process: The process (its own session: the PID is the process group).
        password: The ``prefect`` role's password; only in memory, never in a repr.
    """

    host: str
    port: int
    root: Path
    process: subprocess.Popen[bytes]
    password: str = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    @property
    def url(self) -> str:
        """Where it is, without the password (what may be logged or recorded)."""
        return f"postgresql://{USER}@{self.host}:{self.port}/{DATABASE}"

    def connection_url(self) -> str:
        """``PREFECT_API_DATABASE_CONNECTION_URL``: asyncpg, with the password. Pass it in an environment."""
        return f"postgresql+asyncpg://{USER}:{self.password}@{self.host}:{self.port}/{DATABASE}"

    def psql(self, sql: str) -> str:
        """Run ``sql`` in the ``prefect`` database over the unix socket; return psql's unaligned output."""
        argv = [_binary("psql"), "-h", str(self.data_dir), "-p", str(self.port), "-U", USER, "-d", DATABASE]
        done = subprocess.run(
            [*argv, "-XtA", "-v", "ON_ERROR_STOP=1", "-c", sql],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise ToolError(f"psql failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def stop(self) -> None:
        """Stop it by PID (SIGTERM to its group: a "smart" shutdown, SIGKILL if it lingers) and reap it."""
        if self.process.poll() is None:
            stop_pid(self.process.pid, timeout=30)
        self.process.wait(timeout=10)


def _binary(name: str) -> str:
    path = BIN_DIR / name
    if not path.exists():
        raise ToolError(f"{path} is missing: run scripts/bootstrap.sh (apt-get install postgresql)")
    return str(path)


def _unprivileged(argv: list[str]) -> list[str]:
    """``argv`` as an unprivileged user when we are root (postgres refuses root), else unchanged."""
    if os.geteuid() != 0:
        return argv
    unshare = shutil.which("unshare")
    if unshare is None:
        raise ToolError("running as root, postgres needs `unshare` (util-linux) to drop root")
    return [unshare, "--user", f"--map-user={NAMESPACE_UID}", f"--map-group={NAMESPACE_UID}", *argv]


def _initdb(root: Path, password: str) -> None:
    data = root / "data"
    pwfile = root / "initdb.pw"
    # 0600 from the start: the password exists on disk only for the second initdb reads it.
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, password.encode())
        os.close(fd)
        argv = [_binary("initdb"), "-D", str(data), "-U", USER, f"--pwfile={pwfile}", "-E", "UTF8"]
        argv += ["--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"]
        done = subprocess.run(_unprivileged(argv), capture_output=True, text=True, timeout=300)
    finally:
        pwfile.unlink(missing_ok=True)
    if done.returncode != 0:
        raise ToolError(f"initdb failed ({done.returncode}):\n{(done.stdout + done.stderr)[-2000:]}")
    # Loopback only: no line of pg_hba.conf may admit another address, whatever initdb wrote.
    (data / "pg_hba.conf").write_text(
        "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
    )


def start_postgres(root: Path, *, ready_timeout: float = 120.0) -> RunningPostgres:
    """Start PostgreSQL on a free 127.0.0.1 port, its data under ``root``; create the ``prefect`` database.

    Args:
        root: A fresh directory for the data dir and the log (created).
        ready_timeout: Seconds to wait for it to accept connections.

    Raises:
        ToolError: PostgreSQL is not installed, initdb fails, or the server does not get ready
            (the message carries its log's tail).
    """
    root.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(24)
    _initdb(root, password)
    running = on_free_port(lambda port: _serve(root, port, password, ready_timeout))
    running.psql("SELECT 1")  # the role and its database answer over the socket
    return running


def _serve(root: Path, port: int, password: str, ready_timeout: float) -> RunningPostgres:
    data = root / "data"
    argv = [_binary("postgres"), "-D", str(data), "-c", "listen_addresses=127.0.0.1", "-c", f"port={port}"]
    argv += ["-c", f"unix_socket_directories={data}", "-c", "max_connections=200"]
    # Test data: a crash loses the last commits at worst, and fsync costs seconds on a loaded disk.
    argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    # Its own session: the PID is the process group that stop_pid (and the service book) signals.
    process = spawn_service(_unprivileged(argv), root / "postgres.log")
    running = RunningPostgres("127.0.0.1", port, root, process, password)
    deadline = time.monotonic() + ready_timeout
    while True:
        if process.poll() is not None:
            tail = _tail(running.log_path)
            if port_taken(tail):
                raise PortTaken(f"postgres: 127.0.0.1:{port} was taken")
            raise ToolError(f"postgres exited ({process.returncode}); last lines of its log:\n{tail}")
        if _ready(running):
            break
        if time.monotonic() > deadline:
            running.stop()
            raise ToolError(
                f"postgres did not accept connections within {ready_timeout:.0f}s:\n{_tail(running.log_path)}"
            )
        time.sleep(0.1)
    created = subprocess.run(
        [_binary("createdb"), "-h", str(data), "-p", str(port), "-U", USER, DATABASE],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if created.returncode != 0 and "already exists" not in created.stderr:
        running.stop()
        raise ToolError(f"createdb {DATABASE} failed: {created.stderr.strip()}")
    return running


def _ready(running: RunningPostgres) -> bool:
    done = subprocess.run(
        [_binary("pg_isready"), "-h", str(running.data_dir), "-p", str(running.port), "-U", USER, "-q"],
        capture_output=True,
        timeout=30,
    )
    return done.returncode == 0


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def start_server_database(database: str, root: Path, book: ServiceBook) -> dict[str, str]:
    """What a Prefect server needs in its environment to keep its state in ``database``.

    ``sqlite`` is Prefect's default (a file under ``PREFECT_HOME``): nothing to start. ``postgres``
    starts PostgreSQL under ``root`` and records it in ``book`` (by its URL without the password);
    the password travels only in the returned environment, which only the server gets.

    Raises:
        ToolError: ``database`` is not one of :data:`DATABASES`, or PostgreSQL does not start.
    """
    if database not in DATABASES:
        raise ToolError(f"database {database!r}: expected one of {', '.join(DATABASES)}")
    if database == "sqlite":
        return {}
    running = start_postgres(root)
    book.add(Service("postgres", running.pid, running.url))
    return {"PREFECT_API_DATABASE_CONNECTION_URL": running.connection_url()}


SERVER_SETTINGS = {
    # A run queued behind a deployment's concurrency limit is looked at again after 10 s, not 30 s.
    "PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "10",
    # Five upcoming runs per schedule instead of an hour's worth (30 per 2-minute schedule) in the UI.
    "PREFECT_SERVER_SERVICES_SCHEDULER_MAX_RUNS": "5",
    "PREFECT_SERVER_SERVICES_SCHEDULER_MIN_SCHEDULED_TIME": "PT10M",
}


def start_server(root: Path, book: ServiceBook, database: str = "sqlite") -> tuple[str, dict[str, str]]:
    """A Prefect server under ``root`` (in ``book``) on ``database``: ``sqlite`` (one machine's) or
    ``postgres`` (started here). Returns its API URL and the environment its clients and workers get.
    """
    server_env = start_server_database(database, root / "postgres", book)
    server = start_prefect_server(root / "prefect", extra_env={**SERVER_SETTINGS, **server_env})
    book.add(server)
    api_url = f"{server.url}/api"
    return api_url, {
        **os.environ,
        "PREFECT_API_URL": api_url,
        "PREFECT_HOME": str(root / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "FERRY_PROJECT_DIR": str(PROJECT_DIR),
        "PYTHONPATH": str(PROJECT_DIR),
    }
