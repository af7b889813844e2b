"""The push receiver under hostile clients: idle sockets, connection floods, bad headers, deep JSON.

Issue 10, finding 9: 300 idle unauthenticated connections held 300 threads (no socket
timeout), ``Content-Length: abc`` got no 400, and a deeply nested JSON body got no
response at all. Raw sockets stand in for the hostile clients.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from ferry.ci.events import ImagePushed
from ferry.ci.receiver import PushReceiver

TOKEN = "t0ken-for-bounds"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def server() -> Iterator[PushReceiver]:
    seen: list[ImagePushed] = []
    with PushReceiver(seen.append, TOKEN) as running:
        yield running


def _connect(server: PushReceiver) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    return sock


def _raw_post(server: PushReceiver, headers: str, body: bytes = b"") -> bytes:
    """Send one request by hand; return everything the server answered before closing."""
    with _connect(server) as sock:
        head = f"POST {server.path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n{headers}\r\n"
        sock.sendall(head.encode() + body)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize("length", ["abc", "-5", "1e3", ""], ids=["letters", "negative", "float", "empty"])
def test_a_bad_content_length_is_a_400(server: PushReceiver, length: str) -> None:
    answer = _raw_post(server, f"Content-Length: {length}\r\n", b'{"events": []}')
    assert answer.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request"), answer[:200]
    assert b"invalid Content-Length" in answer


def test_deeply_nested_json_is_a_400(server: PushReceiver) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    response = httpx.post(server.url, content=body, headers=AUTH, timeout=30)
    assert response.status_code == 400
    assert "nested" in response.json()["error"]


def _closed_by_server(sock: socket.socket) -> bool:
    """True once the server closed its end (recv returns b''), False if it is still open."""
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_idle_connections_are_closed(server: PushReceiver) -> None:
    sockets = [_connect(server) for _ in range(5)]
    try:
        for sock in sockets:
            sock.settimeout(60)  # generous: the server's idle timeout is what must fire
            assert _closed_by_server(sock), "an idle connection was never closed by the server"
    finally:
        for sock in sockets:
            sock.close()
    assert httpx.post(server.url, json={"events": []}, headers=AUTH, timeout=10).status_code == 200


def _handler_threads() -> int:
    return sum(1 for t in threading.enumerate() if "process_request_thread" in t.name)


def test_a_connection_flood_holds_a_bounded_number_of_threads(server: PushReceiver) -> None:
    before = _handler_threads()
    sockets = [_connect(server) for _ in range(300)]
    try:
        # Wait until the server has dealt with every connection: given a thread or closed.
        deadline = time.monotonic() + 60
        refused = 0
        pending = list(sockets)
        while pending and time.monotonic() < deadline:
            still = []
            for sock in pending:
                sock.settimeout(0.01)
                if _closed_by_server(sock):
                    refused += 1
                else:
                    still.append(sock)
            pending = still
            if refused + (_handler_threads() - before) >= len(sockets):
                break
            time.sleep(0.05)
        held = _handler_threads() - before
        limit = getattr(server, "max_connections", 32)  # the default
        assert held <= limit, f"{held} handler threads for 300 idle connections"
        assert refused >= len(sockets) - limit
    finally:
        for sock in sockets:
            sock.close()
    # Once the flood is gone, a real notification gets through.
    deadline = time.monotonic() + 60
    status = 0
    while time.monotonic() < deadline:
        try:
            status = httpx.post(server.url, json={"events": []}, headers=AUTH, timeout=10).status_code
        except httpx.TransportError:
            status = 0
        if status == 200:
            break
        time.sleep(0.2)
    assert status == 200
