"""A real CNCF Distribution registry on loopback, started and stopped by PID.

Used by ``ferry demo``, the benchmarks and the test fixtures. It listens on
127.0.0.1 on a free port (another one when that was taken meanwhile), keeps its
storage under the given directory, allows deletes, and takes extra config
sections (notifications, for example).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ferry.devenv.ports import PortTaken, free_port, on_free_port, port_taken
from ferry.errors import ToolError

__all__ = ["REGISTRY_BINARY", "RunningRegistry", "free_port", "notification_config", "start_registry"]

REGISTRY_BINARY = "docker-registry"


@dataclass
class RunningRegistry:
    """A started ``docker-registry`` process.

    Attributes:
        url: ``http://127.0.0.1:PORT`` (what ``registries.conf``'s ``api_url`` holds).
        host: ``127.0.0.1:PORT`` (the prefix of image references).
        root: Its working directory (storage, config, log).
        auth: ``(user, password)`` when htpasswd is on, else ``None``.
    """

    url: str
    host: str
    root: Path
    config_path: Path
    log_path: Path
    auth: tuple[str, str] | None
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        """The registry's PID."""
        return self.process.pid

    def stop(self) -> None:
        """Stop the server by PID: SIGTERM, then SIGKILL if it lingers."""
        if self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def garbage_collect(self) -> None:
        """Run ``docker-registry garbage-collect`` on its config (frees blobs of deleted manifests)."""
        subprocess.run(
            [REGISTRY_BINARY, "garbage-collect", str(self.config_path)], check=True, capture_output=True
        )


def start_registry(
    root: Path,
    *,
    auth: tuple[str, str] | None = None,
    extra_config: Mapping[str, Any] | None = None,
    ready_timeout: float = 15.0,
) -> RunningRegistry:
    """Start CNCF Distribution on a free loopback port with filesystem storage under ``root``.

    Args:
        root: A fresh directory for storage, config, htpasswd and log.
        auth: Turn on htpasswd auth for this ``(user, password)`` (bcrypt; ``htpasswd -iBc`` reads
            the password from stdin).
        extra_config: Top-level config sections to add (e.g. ``notifications``).
        ready_timeout: Seconds to wait for ``GET /v2/`` to answer.
    """
    if shutil.which(REGISTRY_BINARY) is None:
        raise ToolError("docker-registry is not installed: run scripts/bootstrap.sh")
    root.mkdir(parents=True, exist_ok=True)
    htpasswd = root / "htpasswd"
    if auth is not None:
        # -i: the password comes on stdin; argv is visible to every user of the machine.
        subprocess.run(
            ["htpasswd", "-iBc", str(htpasswd), auth[0]],
            input=auth[1].encode(),
            check=True,
            capture_output=True,
        )

    def on(port: int) -> RunningRegistry:
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(root / "storage")}, "delete": {"enabled": True}},
            "http": {"addr": f"127.0.0.1:{port}"},
        }
        if auth is not None:
            config["auth"] = {"htpasswd": {"realm": "ferry-test", "path": str(htpasswd)}}
        config.update(extra_config or {})
        return _serve(root, port, config, auth, ready_timeout)

    return on_free_port(on)


def _serve(
    root: Path, port: int, config: dict[str, Any], auth: tuple[str, str] | None, ready_timeout: float
) -> RunningRegistry:
    config_path = root / "config.yml"
    config_path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    log_path = root / "registry.log"
    with log_path.open("wb") as log:
        # Its own session: the demo records it and stops its process group by PID later.
        process = subprocess.Popen(
            [REGISTRY_BINARY, "serve", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = RunningRegistry(
        url=f"http://127.0.0.1:{port}",
        host=f"127.0.0.1:{port}",
        root=root,
        config_path=config_path,
        log_path=log_path,
        auth=auth,
        process=process,
    )
    deadline = time.monotonic() + ready_timeout
    while True:
        if process.poll() is not None:
            output = log_path.read_text(errors="replace")[-2000:]
            if port_taken(output):
                raise PortTaken(f"docker-registry: 127.0.0.1:{port} was taken")
            raise RuntimeError(f"docker-registry exited early:\n{output}")
        try:
            if httpx.get(f"{running.url}/v2/", timeout=1.0).status_code in (200, 401):
                return running
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            running.stop()
            raise RuntimeError(f"docker-registry did not answer within {ready_timeout}s")
        time.sleep(0.05)


def notification_config(url: str, token: str, *, timeout: str = "1s") -> dict[str, Any]:
    """The ``notifications`` section that makes Distribution POST push events to ``url`` with a bearer token.

    Pass it as ``start_registry(..., extra_config=notification_config(url, token))``.
    """
    endpoint = {
        "name": "ferry",
        "url": url,
        "headers": {"Authorization": [f"Bearer {token}"]},
        "timeout": timeout,
        "threshold": 3,
        "backoff": "1s",
        "ignoredmediatypes": ["application/octet-stream"],
    }
    return {"notifications": {"events": {"includereferences": True}, "endpoints": [endpoint]}}
