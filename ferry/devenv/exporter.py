"""A metrics exporter the caller controls: request counters of "the canary" and "the stable".

It serves ``GET /metrics`` in Prometheus' text format on 127.0.0.1 (a free
port) from a thread of the calling process, so a test or the demo sets the
numbers and Prometheus scrapes them::

    ferry_requests_total{track="canary",outcome="success"} 97
    ferry_requests_total{track="canary",outcome="error"} 3

:func:`success_rate_query` is the PromQL an analysis asks of them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

METRIC = "ferry_requests_total"
TRACKS = ("canary", "stable")
OUTCOMES = ("success", "error")


def success_rate_query(track: str = "canary", metric: str = METRIC) -> str:
    """PromQL: the share of successful requests of ``track`` (NaN while it served none).

    >>> success_rate_query()
    'sum(ferry_requests_total{track="canary",outcome="success"}) / sum(ferry_requests_total{track="canary"})'
    """
    return f'sum({metric}{{track="{track}",outcome="success"}}) / sum({metric}{{track="{track}"}})'


class RequestCounters:
    """Counters by (track, outcome), safe to change while they are being scraped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = {(track, outcome): 0 for track in TRACKS for outcome in OUTCOMES}
        self._generation = 0

    def set(self, track: str, *, success: int, error: int) -> None:
        """Set ``track``'s counters (tests use totals, so a scrape shows exactly these)."""
        if track not in TRACKS:
            raise ValueError(f"unknown track {track!r}; known: {', '.join(TRACKS)}")
        if success < 0 or error < 0:
            raise ValueError("request counters cannot be negative")
        with self._lock:
            self._values[(track, "success")] = success
            self._values[(track, "error")] = error
            self._generation += 1

    def add(self, track: str, *, success: int = 0, error: int = 0) -> None:
        """Count more requests of ``track``."""
        with self._lock:
            current = (self._values[(track, "success")], self._values[(track, "error")])
        self.set(track, success=current[0] + success, error=current[1] + error)

    @property
    def generation(self) -> int:
        """Bumped on every change, and exported, so a reader can tell a scrape saw the latest numbers."""
        with self._lock:
            return self._generation

    def exposition(self) -> str:
        """The counters in Prometheus' text exposition format (version 0.0.4)."""
        with self._lock:
            values = dict(self._values)
            generation = self._generation
        lines = [
            f"# HELP {METRIC} Requests served, by track (canary/stable) and outcome.",
            f"# TYPE {METRIC} counter",
        ]
        lines += [
            f'{METRIC}{{track="{track}",outcome="{outcome}"}} {value}'
            for (track, outcome), value in sorted(values.items())
        ]
        lines += [
            "# HELP ferry_exporter_generation Changes made to the counters so far.",
            "# TYPE ferry_exporter_generation gauge",
            f"ferry_exporter_generation {generation}",
        ]
        return "\n".join(lines) + "\n"


class _Handler(BaseHTTPRequestHandler):
    counters: ClassVar[RequestCounters]

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/metrics":
            self.send_error(404)
            return
        body = self.counters.exposition().encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """One line per scrape would flood the test output."""


class RunningExporter:
    """The exporter's server: ``counters`` to change, ``target`` for Prometheus' ``static_configs``."""

    def __init__(self, counters: RequestCounters) -> None:
        handler = type("Handler", (_Handler,), {"counters": counters})
        self.counters = counters
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="ferry-exporter", daemon=True)
        self._thread.start()

    @property
    def target(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/metrics``."""
        return f"http://{self.target}/metrics"

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def running_exporter(counters: RequestCounters | None = None) -> Iterator[RunningExporter]:
    """Serve ``counters`` (fresh ones by default) on 127.0.0.1 for the duration of the block."""
    exporter = RunningExporter(counters or RequestCounters())
    try:
        yield exporter
    finally:
        exporter.stop()
