"""A real Prometheus (Debian's 2.42) on loopback with its own config and data, started and stopped by PID.

Used by the analysis tests and the demo. Debian's package ships a config and
a service that listen on all interfaces; neither is used: Prometheus gets a
config written here (the caller's scrape targets, a short scrape interval),
its own TSDB directory, and ``--web.listen-address=127.0.0.1:<free port>``.
A port taken between choosing and binding it makes Prometheus exit with
"address already in use": it is started again on another port.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from ferry.devenv.registry import free_port
from ferry.devenv.services import stop_pid
from ferry.errors import ToolError

PROMETHEUS_BINARY = "prometheus"
PORT_ATTEMPTS = 3


@dataclass
class RunningPrometheus:
    """A started ``prometheus`` process.

    Attributes:
        url: ``http://127.0.0.1:PORT``, the base of its HTTP API.
        root: Its directory (``prometheus.yml``, ``data/``, ``prometheus.log``).
        process: The process (its own session: the PID is the process group).
    """

    url: str
    root: Path
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        """Prometheus' PID."""
        return self.process.pid

    @property
    def log_path(self) -> Path:
        """Where its output goes."""
        return self.root / "prometheus.log"

    def stop(self) -> None:
        """Stop it by PID (SIGTERM to its group, SIGKILL if it lingers) and reap it."""
        if self.process.poll() is None:
            stop_pid(self.process.pid)
        self.process.wait(timeout=10)


def prometheus_config(targets: Sequence[str], scrape_interval: str = "1s") -> dict[str, object]:
    """A config scraping ``targets`` (``127.0.0.1:PORT``) every ``scrape_interval``.

    >>> prometheus_config(["127.0.0.1:9100"])["scrape_configs"][0]["static_configs"]
    [{'targets': ['127.0.0.1:9100']}]
    """
    return {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "scrape_configs": [
            {
                "job_name": "ferry",
                "scrape_interval": scrape_interval,
                "scrape_timeout": scrape_interval,
                "static_configs": [{"targets": list(targets)}],
            }
        ],
    }


def start_prometheus(
    root: Path,
    targets: Sequence[str],
    *,
    scrape_interval: str = "1s",
    ready_timeout: float = 60.0,
) -> RunningPrometheus:
    """Start Prometheus on 127.0.0.1 scraping ``targets``; return once ``/-/ready`` answers.

    Args:
        root: A directory for its config, data and log (created).
        targets: ``host:port`` of each exporter; loopback only.
        scrape_interval: How often it scrapes (a Prometheus duration).
        ready_timeout: Seconds to wait for it to be ready.

    Raises:
        ToolError: prometheus is not installed, exits, or is not ready in time
            (the message carries its log's tail).
    """
    binary = shutil.which(PROMETHEUS_BINARY)
    if binary is None:
        raise ToolError("prometheus is not installed: run scripts/bootstrap.sh (apt-get install prometheus)")
    for target in targets:
        if not target.startswith(("127.", "localhost:")):
            raise ToolError(f"scrape target {target!r} is not on loopback")
    root.mkdir(parents=True, exist_ok=True)
    config = root / "prometheus.yml"
    config.write_text(json.dumps(prometheus_config(targets, scrape_interval), indent=2))  # JSON is YAML
    for attempt in range(1, PORT_ATTEMPTS + 1):
        port = free_port()
        with (root / "prometheus.log").open("ab") as log:
            process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={root / 'data'}",
                    "--storage.tsdb.retention.time=2h",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=warn",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        running = RunningPrometheus(f"http://127.0.0.1:{port}", root, process)
        if _wait_ready(running, ready_timeout):
            return running
        tail = _tail(running.log_path)
        running.stop()
        if "address already in use" not in tail or attempt == PORT_ATTEMPTS:
            raise ToolError(
                f"prometheus did not get ready on 127.0.0.1:{port}; last lines of its log:\n{tail}"
            )
    raise AssertionError("unreachable")


def _wait_ready(running: RunningPrometheus, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if running.process.poll() is not None:
                return False
            try:
                if client.get(f"{running.url}/-/ready").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
