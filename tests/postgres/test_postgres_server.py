"""Debian's PostgreSQL 15 started on loopback by ``ferry.devenv.postgres``, and a Prefect server on it."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from ferry.devenv.postgres import BIN_DIR, start_postgres, start_server_database
from ferry.devenv.services import ServiceBook, start_prefect_server, stop_pid
from ferry.errors import ToolError

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _psql_tcp(port: int, password: str, sql: str) -> subprocess.CompletedProcess[str]:
    """``sql`` over TCP as the ``prefect`` role, the password in the environment (as asyncpg gets it)."""
    argv = [str(BIN_DIR / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "prefect", "-d", "prefect"]
    env = {**os.environ, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "10"}
    return subprocess.run([*argv, "-XtAc", sql], capture_output=True, text=True, env=env, timeout=60)


def test_postgres_on_loopback_asks_for_its_password_which_is_in_no_argv_or_log(tmp_path: Path) -> None:
    running = start_postgres(tmp_path / "pg")
    try:
        assert running.url == f"postgresql://prefect@127.0.0.1:{running.port}/prefect"
        assert running.password not in repr(running)
        assert running.connection_url().startswith("postgresql+asyncpg://prefect:")
        ok = _psql_tcp(running.port, running.password, "SHOW listen_addresses")
        assert ok.returncode == 0 and ok.stdout.strip() == "127.0.0.1", ok.stderr
        refused = _psql_tcp(running.port, "not-the-password", "SELECT 1")
        assert "password authentication failed" in refused.stderr, refused
        # The server is not root (it refuses to be), and its socket is inside its own data dir.
        assert running.psql("SELECT current_setting('unix_socket_directories')").strip() == str(
            running.data_dir
        )
        uid = int(Path(f"/proc/{running.pid}/status").read_text().split("Uid:")[1].split()[0])
        assert (uid == 0) == (os.geteuid() == 0), "as root, a user namespace maps root to an unprivileged uid"
        cmdline = Path(f"/proc/{running.pid}/cmdline").read_bytes().decode()
        assert running.password not in cmdline
        assert running.password not in running.log_path.read_text()
        assert not list(running.root.glob("*.pw")), "initdb's password file is gone"
        assert "127.0.0.1/32" in (running.data_dir / "pg_hba.conf").read_text()
        assert "0.0.0.0" not in (running.data_dir / "pg_hba.conf").read_text()
    finally:
        running.stop()
    assert running.process.returncode is not None
    assert _psql_tcp(running.port, running.password, "SELECT 1").returncode != 0, "stopped"


def test_an_unknown_database_is_refused_naming_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="expected one of sqlite, postgres"):
        start_server_database("mysql", tmp_path, ServiceBook(tmp_path))
    assert start_server_database("sqlite", tmp_path, ServiceBook(tmp_path)) == {}


def test_a_prefect_server_keeps_its_state_in_postgres(tmp_path: Path) -> None:
    book = ServiceBook(tmp_path)
    try:
        began = time.monotonic()
        env = start_server_database("postgres", tmp_path / "pg", book)
        database_ready = time.monotonic()
        server = start_prefect_server(tmp_path / "prefect", extra_env=env)
        book.add(server)
        server_ready = time.monotonic()
        print(
            f"postgres ready in {database_ready - began:.1f} s, "
            f"prefect server on it (fresh: migrations) in {server_ready - database_ready:.1f} s"
        )
        with httpx.Client(base_url=f"{server.url}/api", timeout=30) as api:
            created = api.post("/flows/", json={"name": "stored-in-postgres"})
            assert created.status_code in (200, 201), created.text
            version = api.get("/admin/version").json()
        assert version.startswith("3.9"), version
        (postgres,) = [s for s in book.load() if s.name == "postgres"]
        password = env["PREFECT_API_DATABASE_CONNECTION_URL"].split(":")[2].split("@")[0]
        assert password not in postgres.url and password not in book.path.read_text()
        port = int(postgres.url.rsplit(":", 1)[1].split("/")[0])
        # The row is in PostgreSQL, not in a SQLite file under PREFECT_HOME.
        stored = _psql_tcp(port, password, "SELECT name FROM flow WHERE name = 'stored-in-postgres'")
        assert stored.stdout.strip() == "stored-in-postgres", stored.stderr
        assert not list((tmp_path / "prefect").glob("*.db")), "no SQLite database"
        log = (tmp_path / "prefect" / "server.log").read_text()
        assert password not in log
    finally:
        stopped = book.stop_all()
    assert stopped[-1] == "postgres", "the database stops after the server that uses it"
    assert not book.still_running()


def test_a_postgres_that_cannot_start_says_why(tmp_path: Path) -> None:
    running = start_postgres(tmp_path / "pg")
    try:
        # A second server on the same data dir: postgres refuses it (the lock file), and so do we.
        with pytest.raises(ToolError, match="initdb failed"):
            start_postgres(tmp_path / "pg")
    finally:
        stop_pid(running.pid, timeout=30)
