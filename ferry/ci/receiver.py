"""A small HTTP receiver that turns registry push notifications into ``ferry.image.pushed`` events.

Point a registry at it (Distribution's ``notifications.endpoints``, an ACR
webhook, a Harbor webhook) with a shared bearer token in the ``Authorization``
header. Each accepted POST is parsed by :mod:`ferry.ci.webhooks` and every
pushed tag goes to the injected emitter.

Answers: 200 with ``{"accepted": n}``; 401 for a missing or wrong token; 400
for a body that is not a known notification, a ``Content-Length`` that is not a
number, or JSON nested deeper than :data:`MAX_JSON_DEPTH`; 413 for a body over
the limit; 503 when the emitter failed, so that Distribution's retry
(``threshold``, ``backoff``) delivers it again. It binds 127.0.0.1 unless told
otherwise.

It is reachable by anyone who can reach the port, so it holds at most
``max_connections`` connections at once (more are closed at accept, without a
thread) and closes a connection that sends nothing for ``idle_timeout`` seconds.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from ferry.ci.events import EventEmitter
from ferry.ci.webhooks import parse_notification

__all__ = ["PushReceiver"]

logger = logging.getLogger(__name__)

MAX_BODY = 1 << 20
#: Registry notifications nest about five levels, forge webhooks about ten.
MAX_JSON_DEPTH = 64
IDLE_TIMEOUT = 5.0
MAX_CONNECTIONS = 32


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """True when ``body`` nests ``[``/``{`` deeper than ``limit`` outside strings.

    Python's json module recurses per level and raises ``RecursionError`` (not
    ``ValueError``) on deep input, so the depth is checked before it parses.

    >>> json_depth_exceeds(b'{"a": [[1]], "s": "[[[[["}', 3), json_depth_exceeds(b"[[[[1]]]]", 3)
    (False, True)
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


class _BoundedServer(ThreadingHTTPServer):
    """A threading server that serves at most ``limit`` connections at once.

    A connection over the limit is closed right after accept, in the accept loop,
    so a flood costs a file descriptor for an instant, never a thread.
    """

    daemon_threads = True
    # The accept loop refuses fast; a deep backlog keeps a burst from stalling in SYN retries.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], limit: int) -> None:
        self._slots = threading.BoundedSemaphore(limit)
        self.refused = 0
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.refused += 1
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


Route = Callable[[Mapping[str, str], bytes], tuple[int, dict[str, object]]]
"""Another kind of webhook on its own path (e.g. :class:`ferry.ci.forges.ForgeWebhooks`): it gets the
request's headers (lowercase names) and body, checks its own credentials, and answers."""


class PushReceiver:
    """A threaded HTTP server for push notifications.

    Args:
        emitter: called once per pushed tag.
        token: the shared bearer token; requests must send ``Authorization: Bearer <token>``.
        host: the address to bind, 127.0.0.1 by default.
        port: the port; 0 picks a free one (see :attr:`port` after :meth:`start`).
        path: the URL path notifications are posted to.
        idle_timeout: seconds a connection may stay silent (socket timeout per read/write).
        max_connections: connections served at once; more are closed at accept.
        routes: other webhooks by path, each checking its own credentials.

    ``received`` counts accepted notifications and ``emitted`` the events handed
    to the emitter, for health checks and tests.
    """

    def __init__(
        self,
        emitter: EventEmitter,
        token: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/notifications",
        idle_timeout: float = IDLE_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
        routes: Mapping[str, Route] | None = None,
    ) -> None:
        if not token:
            raise ValueError("the receiver needs a non-empty bearer token")
        self.emitter = emitter
        self.path = "/" + path.strip("/")
        self.routes = {"/" + p.strip("/"): route for p, route in (routes or {}).items()}
        self.received = 0
        self.emitted = 0
        self.rejected = 0
        self.last_emitted_at: float | None = None
        self._token = token.encode()
        self._lock = threading.Lock()
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self._server = _BoundedServer((host, port), self._handler_class(), max_connections)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The full notification URL, e.g. ``http://127.0.0.1:8085/notifications``."""
        host = str(self._server.server_address[0])
        return f"http://{host}:{self.port}{self.path}"

    def start(self) -> PushReceiver:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="ferry-receiver", daemon=True)
        self._thread.start()
        logger.info("listening for registry notifications on %s", self.url)
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`stop` is called from another one (or Ctrl-C)."""
        logger.info("listening for registry notifications on %s", self.url)
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> PushReceiver:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- request handling -----------------------------------------------------------

    def authorized(self, header: str | None) -> bool:
        """Check an ``Authorization`` header: scheme ``Bearer`` (any case), token in constant time."""
        scheme, _, token = (header or "").strip().partition(" ")
        # compare_digest runs even for a wrong scheme, so timing does not tell which part was wrong.
        matches = hmac.compare_digest(token.strip().encode(), self._token)
        return matches and scheme.lower() == "bearer"

    def handle(
        self, path: str, authorization: str | None, content_type: str, body: bytes
    ) -> tuple[int, dict[str, object]]:
        """Process one POST; return the status code and the JSON answer."""
        if path.split("?", 1)[0].rstrip("/") != self.path.rstrip("/"):
            return 404, {"error": "not found"}
        if not self.authorized(authorization):
            with self._lock:
                self.rejected += 1
            logger.warning("rejected a notification with a missing or wrong bearer token")
            return 401, {"error": "missing or wrong bearer token"}
        if json_depth_exceeds(body, MAX_JSON_DEPTH):
            return 400, {"error": f"JSON nested deeper than {MAX_JSON_DEPTH} levels"}
        try:
            pushed = parse_notification(body, content_type)
        except ValueError as exc:
            return 400, {"error": str(exc)}
        with self._lock:
            self.received += 1
        for item in pushed:
            try:
                self.emitter(item)
            except Exception as exc:  # noqa: BLE001 - any emitter failure means "deliver again later"
                logger.error("could not emit ferry.image.pushed for %s: %s", item.reference, exc)
                return 503, {"error": "event could not be emitted; retry later"}
            with self._lock:
                self.emitted += 1
                self.last_emitted_at = time.time()
            logger.info("push of %s (%s) announced as ferry.image.pushed", item.reference, item.origin)
        return 200, {"accepted": len(pushed)}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "ferry-receiver"
            sys_version = ""
            # StreamRequestHandler puts this on the socket: an idle client is dropped.
            timeout = receiver.idle_timeout

            def do_POST(self) -> None:
                declared = self.headers.get("Content-Length")
                if declared is not None and not declared.strip().isdigit():
                    self.close_connection = True
                    self._answer(400, {"error": "invalid Content-Length"})
                    return
                length = int(declared or 0)
                if length > MAX_BODY:
                    self._answer(413, {"error": f"body over {MAX_BODY} bytes"})
                    return
                body = self.rfile.read(length) if length > 0 else b""
                route = receiver.routes.get("/" + self.path.split("?", 1)[0].strip("/"))
                answer: dict[str, object]
                if route is not None and json_depth_exceeds(body, MAX_JSON_DEPTH):
                    status, answer = 400, {"error": f"JSON nested deeper than {MAX_JSON_DEPTH} levels"}
                elif route is not None:
                    status, answer = route({k.lower(): v for k, v in self.headers.items()}, body)
                else:
                    status, answer = receiver.handle(
                        self.path,
                        self.headers.get("Authorization"),
                        self.headers.get("Content-Type", ""),
                        body,
                    )
                self._answer(status, answer)

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/healthz":
                    self._answer(200, {"received": receiver.received, "emitted": receiver.emitted})
                else:
                    self._answer(404, {"error": "not found"})

            def _answer(self, status: int, answer: dict[str, object]) -> None:
                data = json.dumps(answer).encode()
                self.send_response(status)
                if status == 401:
                    self.send_header("WWW-Authenticate", 'Bearer realm="ferry"')
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                logger.debug("%s %s", self.address_string(), format % args)

        return Handler
