"""The push notification receiver against a real Distribution registry with notifications.endpoints."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ferry.ci.events import ImagePushed
from ferry.ci.receiver import PushReceiver
from ferry.devenv.oci import OciPusher
from ferry.devenv.ports import PortTaken, on_free_port, port_taken
from ferry.devenv.registry import RunningRegistry, notification_config, start_registry
from tests.fixtures.wait import wait_until

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Captured:
    """A test emitter: records events and lets a test wait for them."""

    def __init__(self) -> None:
        self.events: list[ImagePushed] = []
        self._cond = threading.Condition()

    def __call__(self, pushed: ImagePushed) -> None:
        with self._cond:
            self.events.append(pushed)
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 10) -> list[ImagePushed]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.events) >= count, timeout=timeout)
            return list(self.events)


def _notifying_registry(root: Path, url: str, token: str) -> RunningRegistry:
    return start_registry(root, extra_config=notification_config(url, token, timeout="1s"))


@pytest.fixture
def receiver() -> Iterator[tuple[PushReceiver, Captured, str]]:
    captured = Captured()
    token = secrets.token_urlsafe(24)
    with PushReceiver(captured, token) as running:
        yield running, captured, token


def test_registry_push_becomes_image_pushed(
    receiver: tuple[PushReceiver, Captured, str], tmp_path: Path
) -> None:
    server, captured, token = receiver
    registry = _notifying_registry(tmp_path / "registry", server.url, token)
    try:
        with OciPusher(registry.url) as pusher:
            digest = pusher.push_image("cidemo/echo-server", "v3-5a7147", created=None)
        (event,) = captured.wait_for(1)
        # A pull sends a notification too, and must not become an event. The registry delivers
        # one endpoint's notifications in order, so once one more has been received after the
        # push's, the pull's is in.
        before_pull = server.received
        httpx.get(
            f"{registry.url}/v2/cidemo/echo-server/manifests/v3-5a7147",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
            timeout=5,
        )
        wait_until(lambda: server.received > before_pull, 30, "the pull's notification")
    finally:
        registry.stop()
    assert event == ImagePushed(
        image=f"{registry.host}/cidemo/echo-server", tag="v3-5a7147", digest=digest, origin="distribution"
    )
    assert len(captured.events) == 1
    assert server.rejected == 0


def test_registry_with_wrong_token_is_rejected(
    receiver: tuple[PushReceiver, Captured, str], tmp_path: Path
) -> None:
    server, captured, _ = receiver
    registry = _notifying_registry(tmp_path / "registry", server.url, "not-the-token")
    try:
        with OciPusher(registry.url) as pusher:
            pusher.push_image("cidemo/echo-server", "v1", created=None)
        wait_until(lambda: server.rejected > 0, 30, "the registry's notification to be refused")
    finally:
        registry.stop()
    assert server.rejected >= 1
    assert captured.events == []


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": "Basic Zm9vOmJhcg=="}, 401),
        ({"Authorization": "Bearer {token}x"}, 401),
        ({"Authorization": "Bearer"}, 401),
        ({"Authorization": "{token}"}, 401),
        ({"Authorization": "Bearer {token}"}, 200),
        ({"Authorization": "bearer {token}"}, 200),
    ],
    ids=[
        "missing",
        "wrong token",
        "basic auth",
        "token with a suffix",
        "scheme without token",
        "token without scheme",
        "right token",
        "scheme is case-insensitive",
    ],
)
def test_bearer_token_check(
    receiver: tuple[PushReceiver, Captured, str], headers: dict[str, str], status: int
) -> None:
    server, captured, token = receiver
    body = {
        "events": [
            {"action": "push", "target": {"repository": "a/b", "tag": "v1"}, "request": {"host": "h:1"}}
        ]
    }
    sent = {k: v.format(token=token) for k, v in headers.items()}
    response = httpx.post(server.url, json=body, headers=sent, timeout=5)
    assert response.status_code == status
    assert len(captured.events) == (1 if status == 200 else 0)
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_bad_body_wrong_path_and_failing_emitter(tmp_path: Path) -> None:
    token = "t0ken"

    def broken(pushed: ImagePushed) -> None:
        raise RuntimeError("no Prefect API")

    auth = {"Authorization": f"Bearer {token}"}
    push = {
        "events": [
            {"action": "push", "target": {"repository": "a/b", "tag": "v1"}, "request": {"host": "h:1"}}
        ]
    }
    with PushReceiver(broken, token) as server:
        assert httpx.post(server.url, content=b"nope", headers=auth, timeout=5).status_code == 400
        assert httpx.post(server.url + "x", json=push, headers=auth, timeout=5).status_code == 404
        assert httpx.post(server.url, json=push, headers=auth, timeout=5).status_code == 503
    with pytest.raises(ValueError):
        PushReceiver(broken, "")


def test_ferry_receive_command_checks_token(tmp_path: Path) -> None:
    """The real CLI: binds loopback, prints its URL, refuses a wrong token, stops on SIGTERM."""
    env = {**os.environ, "RECEIVER_TOKEN": "s3cret-token", "PREFECT_API_URL": "http://127.0.0.1:9/api"}
    ferry = str(Path(sys.executable).with_name("ferry"))

    def start(port: int) -> tuple[int, subprocess.Popen[bytes], str]:
        process = subprocess.Popen(
            [ferry, "receive", "--listen", f"127.0.0.1:{port}", "--token-env", "RECEIVER_TOKEN"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=PROJECT_ROOT,
        )
        assert process.stdout is not None
        url = process.stdout.readline().decode().strip()
        if not url:
            _, stderr = process.communicate(timeout=30)
            if port_taken(stderr.decode(errors="replace")):
                raise PortTaken(f"ferry receive: 127.0.0.1:{port} was taken")
        return port, process, url

    port, process, url = on_free_port(start)
    try:
        assert url == f"http://127.0.0.1:{port}/notifications"
        body = json.dumps({"events": []}).encode()
        assert httpx.post(url, content=body, timeout=5).status_code == 401
        assert (
            httpx.post(url, content=body, headers={"Authorization": "Bearer nope"}, timeout=5).status_code
            == 401
        )
        ok = httpx.post(url, content=body, headers={"Authorization": "Bearer s3cret-token"}, timeout=5)
        assert ok.status_code == 200 and ok.json() == {"accepted": 0}
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0
    assert b"s3cret-token" not in stderr


def test_ferry_receive_without_token_exits_2() -> None:
    ferry = str(Path(sys.executable).with_name("ferry"))
    env = {k: v for k, v in os.environ.items() if k != "NO_SUCH_TOKEN_VAR"}
    done = subprocess.run(
        [ferry, "receive", "--token-env", "NO_SUCH_TOKEN_VAR"], env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 2
    assert b"NO_SUCH_TOKEN_VAR" in done.stderr
