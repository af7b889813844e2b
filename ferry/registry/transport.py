"""HTTP plumbing for the registry client: retries, pacing, authentication, bounded bodies.

Where a request may go (URL normalisation, loopback, ``Link`` pagination,
origin and credential checks) is :mod:`ferry.registry.urls`.

Every request the client makes goes through :meth:`Transport.request`, which

1. paces it (rate limit, bounded concurrency) and counts it;
2. retries 429, 5xx, timeouts and connection errors with exponential backoff,
   honouring ``Retry-After``, logging each retry at WARNING;
3. answers a 401 by learning the registry's auth scheme and retrying once.

Credentials travel only in ``Authorization`` headers: never in URLs, log lines
or exception text.
"""

from __future__ import annotations

import email.utils
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from ferry.errors import AuthenticationError, RegistryError, RegistryUnavailable
from ferry.registry.auth import Authenticator
from ferry.registry.ratelimit import Throttle
from ferry.registry.urls import may_send_credentials, redact

logger = logging.getLogger("ferry.registry")

BACKOFF_BASE = 0.2
BACKOFF_CAP = 5.0
#: A ``Retry-After`` longer than this is not slept through inside one cycle: the
#: call fails with :class:`RegistryUnavailable` carrying the hint, and the task
#: layer reschedules instead of holding a worker for minutes.
MAX_RETRY_AFTER = 60.0
#: The largest response body read from a registry or its token service. A manifest
#: is at most 4 MiB by the distribution spec; a tags list of 100,000 tags is about
#: 3 MiB. Anything larger is refused instead of being read into memory.
MAX_BODY = 16 << 20


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    >>> parse_retry_after("3")
    3.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC))
    10.0
    >>> parse_retry_after("soon") is None
    True
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def read_bounded(response: httpx.Response, limit: int, what: str) -> httpx.Response:
    """Read a streamed response's body, refusing more than ``limit`` bytes (after decompression).

    Returns a response with the body in memory; the streamed one is closed by the caller.

    Raises:
        RegistryError: the body (declared or actual) is larger than ``limit``.
    """
    too_big = RegistryError(f"{what}: the response is more than {limit} bytes; refusing to read it")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    # The body is decoded already: the rebuilt response must not decode it again.
    headers = [
        (name, value)
        for name, value in response.headers.multi_items()
        if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
    ]
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=b"".join(chunks),
        request=response.request,
        history=response.history,
    )


class Transport:
    """Sends requests to one registry (and its token service) with pacing, retries and auth."""

    def __init__(
        self,
        base_url: str,
        *,
        username: str | None,
        password: str | None,
        insecure: bool,
        limit: float | None,
        max_concurrency: int,
        timeout: float,
        max_attempts: int,
        sleep: Callable[[float], None] = time.sleep,
        max_body: int = MAX_BODY,
        shared_pace: Callable[[], None] | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self.base_url = base_url
        self.max_body = max_body
        self.registry = httpx.URL(base_url).netloc.decode("ascii")
        self.max_attempts = max_attempts
        self.throttle = Throttle(limit, max_concurrency, shared_pace)
        self._sleep = sleep
        self._count_lock = threading.Lock()
        self.request_count = 0
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout),
            verify=not insecure,
            follow_redirects=True,
            limits=httpx.Limits(
                max_connections=max_concurrency + 2, max_keepalive_connections=max_concurrency
            ),
            headers={"User-Agent": "ferry-registry-client"},
        )
        self.auth = Authenticator(
            self.registry,
            username=username,
            password=password,
            fetch_token=self._fetch_token,
            credentials_allowed=lambda realm: may_send_credentials(base_url, realm, insecure=insecure),
        )

    def close(self) -> None:
        """Close pooled connections."""
        self._http.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        scope: str,
        subject: str,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send with auth: on a 401, learn the scheme and retry once; a second refusal raises.

        Args:
            method: HTTP method.
            url: Absolute URL.
            scope: Token scope this request needs (``""`` for registry-wide calls).
            subject: What is accessed, for error messages, e.g. "repository 'a/b'".
            headers: Extra headers (``Accept``).

        Raises:
            AuthenticationError: 401/403 after authenticating (never shows the password).
            RegistryUnavailable: retries exhausted.
        """
        retried_auth = False
        while True:
            sent = dict(headers or {})
            authorization = self.auth.authorization(scope)
            if authorization is not None:
                sent["Authorization"] = authorization
            response = self.send(method, url, headers=sent)
            if response.status_code == 401 and not retried_auth:
                retried_auth = True
                if self.auth.on_unauthorized(response, scope, subject):
                    continue
            if response.status_code in (401, 403):
                who = "anonymous access" if not self.auth.has_credentials else "the configured credentials"
                raise AuthenticationError(
                    f"registry {self.registry} refused {who} for {subject} (HTTP {response.status_code})"
                )
            return response

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One logical request: paced, counted, retried on 429/5xx/timeouts/connection errors."""
        shown = redact(httpx.URL(url, params=params) if params else url)
        for attempt in range(1, self.max_attempts + 1):
            retry_after: float | None = None
            cause: Exception | None = None
            try:
                with self.throttle.slot():
                    with self._count_lock:
                        self.request_count += 1
                    streamed = self._http.send(
                        self._http.build_request(method, url, headers=headers, params=params), stream=True
                    )
                    try:
                        response = read_bounded(streamed, self.max_body, f"{method} {shown}")
                    finally:
                        streamed.close()
            except httpx.UnsupportedProtocol as exc:
                raise RegistryError(f"{method} {shown}: {exc}") from exc
            except httpx.TransportError as exc:
                cause = exc
                failure = f"failed ({type(exc).__name__})"
            else:
                if response.status_code != 429 and response.status_code < 500:
                    return response
                failure = f"answered {response.status_code}"
                retry_after = parse_retry_after(response.headers.get("retry-after"))
            if attempt == self.max_attempts:
                raise RegistryUnavailable(
                    f"{method} {shown} {failure}; gave up after {attempt} attempts", retry_after=retry_after
                ) from cause
            delay = (
                retry_after
                if retry_after is not None
                else min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))
            )
            if delay > MAX_RETRY_AFTER:
                raise RegistryUnavailable(
                    f"{method} {shown} {failure} and asks to wait {delay:.0f}s", retry_after=delay
                ) from cause
            logger.warning(
                "%s %s %s; retry %d/%d in %.1fs",
                method,
                shown,
                failure,
                attempt,
                self.max_attempts - 1,
                delay,
            )
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _fetch_token(
        self, realm: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> httpx.Response:
        return self.send("GET", realm, headers=headers, params=params)


def json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    """Decode a JSON object body, or raise RegistryError naming ``what``."""
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise RegistryError(f"{what}: the registry sent invalid JSON") from exc
    if not isinstance(body, dict):
        raise RegistryError(f"{what}: expected a JSON object")
    return body
