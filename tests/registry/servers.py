"""Small loopback HTTP servers placed in front of the real registry.

They exist because CNCF Distribution 2.8 cannot be made to do a few things the
client must handle: it never paginates ``tags/list``, it cannot be told to fail
on purpose, and its token auth needs a full token service. Each server forwards
everything else unchanged to the real registry, so manifests, blobs and digests
are always the registry's own.

* :class:`FaultInjectingProxy` answers a scripted list of failures, then forwards.
* :class:`PaginatingProxy` serves ``tags/list`` in pages with RFC 5988 ``Link`` headers.
* :class:`BearerGateway` demands ``Bearer`` tokens (``WWW-Authenticate`` realm/service/scope)
  and issues them itself at ``/token`` to users with the right Basic credentials.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host"}


@dataclass
class Reply:
    """A response a test server sends instead of forwarding."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1, on a free port, serving ``handler`` from a daemon thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class LoopbackProxy(LoopbackServer):
    """A threaded HTTP server on 127.0.0.1 that forwards to ``upstream`` unless :meth:`intercept` answers.

    ``seen`` records ``(method, path, status)`` of every request, for assertions.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.seen: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        self._forward = httpx.Client(timeout=30.0)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                # Clients such as skopeo send several Accept lines: merge, never drop, repeats.
                headers: dict[str, str] = {}
                for name in dict.fromkeys(self.headers.keys()):
                    if name.lower() not in _HOP_BY_HOP:
                        headers[name] = ", ".join(self.headers.get_all(name) or [])
                reply = proxy.intercept(self.command, self.path, headers, body) or proxy.forward(
                    self.command, self.path, headers, body
                )
                with proxy._lock:
                    proxy.seen.append((self.command, self.path, reply.status))
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header(
                    "Content-Length",
                    reply.headers.get("content-length", str(len(reply.body)))
                    if self.command == "HEAD"
                    else str(len(reply.body)),
                )
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(reply.body)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        super().__init__(Handler)

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self._forward.close()

    def intercept(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        """Answer a request directly; ``None`` forwards it. Subclasses override."""
        return None

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        """Send the request to the real registry and relay its answer."""
        response = self._forward.request(method, self.upstream + path, headers=headers, content=body)
        relayed = {k.lower(): v for k, v in response.headers.items() if k.lower() != "content-encoding"}
        return Reply(response.status_code, relayed, b"" if method == "HEAD" else response.content)


class FaultInjectingProxy(LoopbackProxy):
    """Answers the scripted replies first (one per matching request), then forwards.

    Args:
        upstream: The real registry.
        script: Replies to send, in order,
            e.g. ``[Reply(503), Reply(503), Reply(429, {"Retry-After": "1"})]``.
        matches: Which requests the script applies to (default: every request).
    """

    def __init__(
        self, upstream: str, script: list[Reply], matches: Callable[[str, str], bool] = lambda m, p: True
    ) -> None:
        super().__init__(upstream)
        self.script = list(script)
        self._matches = matches

    def intercept(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        with self._lock:
            if self.script and self._matches(method, path):
                return self.script.pop(0)
        return None


class PaginatingProxy(LoopbackProxy):
    """Serves ``tags/list`` sorted, ``page_size`` tags per page, with a relative ``Link: <…>; rel="next"``."""

    _TAGS = re.compile(r"^/v2/(?P<name>.+)/tags/list$")

    def __init__(self, upstream: str, page_size: int) -> None:
        super().__init__(upstream)
        self.page_size = page_size

    def intercept(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        parts = urlsplit(path)
        match = self._TAGS.match(parts.path)
        if method != "GET" or match is None:
            return None
        full = self.forward("GET", parts.path, headers, b"")
        if full.status != 200:
            return full
        tags = sorted(json.loads(full.body)["tags"] or [])
        query = parse_qs(parts.query)
        last = query.get("last", [""])[0]
        size = int(query.get("n", [str(self.page_size)])[0])
        remaining = [t for t in tags if t > last]
        page = remaining[:size]
        out = {"content-type": "application/json"}
        if len(remaining) > size:
            out["link"] = f'<{parts.path}?{urlencode({"n": size, "last": page[-1]})}>; rel="next"'
        return Reply(200, out, json.dumps({"name": match["name"], "tags": page}).encode())


class BearerGateway(LoopbackProxy):
    """A registry front that speaks the Bearer token flow, with its own token endpoint at ``/token``.

    Requests to ``/v2/…`` need ``Authorization: Bearer <t>`` where ``t`` was issued
    for ``repository:<name>:pull`` (or for the empty scope, for ``/v2/`` itself).
    Otherwise the gateway answers 401 with
    ``WWW-Authenticate: Bearer realm="<url>/token",service="ferry-test"[,scope=…]``,
    as ACR, Docker Hub, GHCR and Harbor do. ``/token`` checks Basic credentials
    against ``users`` and answers ``{"<token_field>": …, "expires_in": …}``.
    """

    SERVICE = "ferry-test"
    _REPO = re.compile(r"^/v2/(?P<name>.+?)/(?:tags|manifests|blobs)/")

    def __init__(
        self,
        upstream: str,
        users: dict[str, str],
        *,
        token_field: str = "token",
        expires_in: int = 300,
        realm: str | None = None,
    ) -> None:
        super().__init__(upstream)
        self.realm = realm or f"{self.url}/token"
        self.users = users
        self.token_field = token_field
        self.expires_in = expires_in
        self.issued: dict[str, str] = {}  # token -> scope
        self.token_requests: list[dict[str, str]] = []

    def intercept(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        parts = urlsplit(path)
        if parts.path == "/token":
            return self._token(parts.query, headers)
        match = self._REPO.match(parts.path)
        needed = f"repository:{match['name']}:pull" if match else ""
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
        with self._lock:
            granted = self.issued.get(token or "")
        if granted is not None and (granted == needed or not needed):
            return None
        challenge = f'Bearer realm="{self.realm}",service="{self.SERVICE}"'
        if needed:
            challenge += f',scope="{needed}"'
        error = {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}
        return Reply(401, {"www-authenticate": challenge}, json.dumps(error).encode())

    def revoke_all(self) -> None:
        """Forget every token issued so far, as a token service does when they expire early."""
        with self._lock:
            self.issued.clear()

    def _token(self, query: str, headers: dict[str, str]) -> Reply:
        params = {k: v[0] for k, v in parse_qs(query).items()}
        with self._lock:
            self.token_requests.append(params)
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        user, _, password = (
            base64.b64decode(auth[6:]).decode().partition(":") if auth.startswith("Basic ") else ("", "", "")
        )
        if self.users.get(user) != password or not user or params.get("service") != self.SERVICE:
            return Reply(401, {"content-type": "application/json"}, b'{"details":"incorrect credentials"}')
        token = secrets.token_urlsafe(16)
        with self._lock:
            self.issued[token] = params.get("scope", "")
        body = {self.token_field: token, "expires_in": self.expires_in}
        return Reply(200, {"content-type": "application/json"}, json.dumps(body).encode())


class RequestRecorder(LoopbackProxy):
    """A loopback server on its own port that records every request's path and headers, and answers
    ``reply`` (a foreign host a hostile registry points the client at). It forwards nothing."""

    def __init__(self, reply: Reply | None = None) -> None:
        super().__init__("http://127.0.0.1:9")  # never contacted
        self.reply = reply or Reply(200, {"content-type": "application/json"}, b'{"tags": []}')
        self.requests: list[tuple[str, dict[str, str]]] = []

    def intercept(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        with self._lock:
            self.requests.append((path, {k.lower(): v for k, v in headers.items()}))
        return self.reply

    @property
    def authorizations(self) -> list[str]:
        """Every ``Authorization`` header the recorder was sent."""
        return [h["authorization"] for _, h in self.requests if "authorization" in h]


class TagListRewriter(LoopbackProxy):
    """Forwards to the real registry, but ``rewrite`` edits each ``tags/list`` answer (tags, Link)."""

    _TAGS = re.compile(r"^/v2/(?P<name>.+)/tags/list$")

    def __init__(self, upstream: str, rewrite: Callable[[list[str]], tuple[list[str], str | None]]) -> None:
        super().__init__(upstream)
        self._rewrite = rewrite

    def intercept(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        match = self._TAGS.match(urlsplit(path).path)
        if method != "GET" or match is None:
            return None
        real = self.forward("GET", path, headers, b"")
        if real.status != 200:
            return real
        tags, link = self._rewrite(list(json.loads(real.body)["tags"] or []))
        out = {"content-type": "application/json"}
        if link:
            out["link"] = link
        return Reply(200, out, json.dumps({"name": match["name"], "tags": tags}).encode())


class StreamingServer(LoopbackServer):
    """Answers every GET with 200 and a body of ``prefix + filler * n + suffix`` streamed in chunks,
    counting the bytes it managed to send before the client hung up."""

    def __init__(
        self,
        prefix: bytes,
        filler: bytes,
        repeat: int,
        suffix: bytes,
        *,
        declare_length: bool = True,
        stall: bool = False,
    ) -> None:
        """With ``stall``, the server sends ``prefix`` and then nothing until it is stopped."""
        self.sent = 0
        self.requests = 0
        self._released = threading.Event()
        self.total = len(prefix) + len(filler) * repeat + len(suffix)
        self.finished = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if declare_length:
                    self.send_header("Content-Length", str(server.total))
                else:  # the body ends when the connection does
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                server.requests += 1
                try:
                    self._write(prefix)
                    self.wfile.flush()
                    if stall:
                        server._released.wait()
                        return
                    for _ in range(repeat):
                        self._write(filler)
                    self._write(suffix)
                except OSError:
                    pass  # the client stopped reading: what the test wants to see
                finally:
                    server.finished.set()

            def _write(self, data: bytes) -> None:
                self.wfile.write(data)
                server.sent += len(data)

        super().__init__(Handler)

    def __exit__(self, *exc: object) -> None:
        self._released.set()
        super().__exit__(*exc)


class StampingProxy(LoopbackProxy):
    """Forwards everything, and keeps each request's arrival time (``time.time()``) in ``stamps``.

    Clocks of one machine agree across processes, so the stamps of requests from several
    worker processes can be counted per second together (the registry's shared ``limit:``).
    """

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.stamps: list[float] = []

    def intercept(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        with self._lock:
            self.stamps.append(time.time())
        return None
