"""A task honours the registry's ``Retry-After`` through Prefect's retries, not a fixed delay.

The registry is a loopback HTTP server that answers the first ``tags/list`` with
429 and ``Retry-After: 3``, and the second with the tags. The client makes one
attempt per call, so the hint reaches the task layer; the fixed first delay is
1 s, so only honouring the hint can put 3 s between the two requests.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from prefect import flow, task

from ferry.registry.client import RegistryClient
from tasks.retry import RETRY_DELAYS, RETRYING
from tests.registry.servers import LoopbackServer

RETRY_AFTER = 3


class ThrottlingRegistry(LoopbackServer):
    """Answers ``tags/list`` with 429 and ``Retry-After`` first, then ``["v1"]``; stamps each request."""

    def __init__(self) -> None:
        self.stamps: list[tuple[float, int]] = []
        lock = threading.Lock()
        registry = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                with lock:
                    status = 429 if not registry.stamps else 200
                    registry.stamps.append((time.monotonic(), status))
                body = json.dumps({"name": "app", "tags": ["v1"]}).encode() if status == 200 else b""
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", str(RETRY_AFTER))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)


@task(name="list-tags-test", **RETRYING)
def list_tags(api_url: str) -> list[str]:
    with RegistryClient(api_url, max_attempts=1) as client:
        return client.list_tags("app")


@flow(name="retry-after-test")
def list_tags_flow(api_url: str) -> list[str]:
    return list_tags(api_url)


def test_a_task_waits_as_long_as_retry_after_asks(prefect_harness: str) -> None:
    assert RETRY_DELAYS[0] < RETRY_AFTER, "the fixed first delay alone must be too short for this test"
    with ThrottlingRegistry() as registry:
        tags = list_tags_flow(registry.url)
    assert tags == ["v1"]
    assert [status for _, status in registry.stamps] == [429, 200]
    waited = registry.stamps[1][0] - registry.stamps[0][0]
    assert waited >= RETRY_AFTER, f"the retry came {waited:.2f}s after the 429; Retry-After: {RETRY_AFTER}"
