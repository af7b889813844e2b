"""Registry authentication: anonymous, HTTP Basic, and the Bearer token flow.

Registries announce how to authenticate in the ``WWW-Authenticate`` header of a
401. Distribution with htpasswd asks for ``Basic``; ACR, Docker Hub, GHCR and
Harbor ask for ``Bearer realm=…,service=…,scope=…`` and expect the client to
fetch a short-lived token from the realm (with Basic credentials, or
anonymously) and present it. Tokens are scoped to one repository, so they are
cached per scope until shortly before they expire.

The :class:`Authenticator` learns the scheme from the first 401 and afterwards
authenticates up front, so that a warm cycle does not pay a 401 round trip per
request.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from ferry.errors import AuthenticationError, RegistryError

#: A token is renewed this many seconds before the registry says it expires, so
#: that a request never leaves with a token that dies in flight.
_EXPIRY_MARGIN = 10.0
#: The distribution token spec: an omitted ``expires_in`` means 60 seconds.
_DEFAULT_TOKEN_LIFETIME = 60.0

_TOKEN68 = r"[A-Za-z0-9._~+/-]+=*"
_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,"]*)\s*(?:,|$)')
_SCHEME = re.compile(r"\s*([A-Za-z][A-Za-z0-9_.-]*)(?:\s+|$)")

#: Fetches a token: ``(url, query params, headers) -> response``. The client passes
#: its own retrying, counted, rate-limited sender.
TokenFetcher = Callable[[str, Mapping[str, str], Mapping[str, str]], httpx.Response]


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge from a ``WWW-Authenticate`` header; ``scheme`` is lower-cased."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)


def parse_www_authenticate(headers: list[str] | str) -> list[Challenge]:
    """Parse ``WWW-Authenticate`` values (RFC 7235) into challenges.

    Handles several challenges in one header, quoted values with commas and
    escaped quotes, and ``token68`` credentials.

    >>> (bearer,) = parse_www_authenticate('Bearer realm="https://a.example/token",scope="repository:a:pull,push"')
    >>> bearer.scheme, bearer.params["realm"], bearer.params["scope"]
    ('bearer', 'https://a.example/token', 'repository:a:pull,push')
    >>> [c.scheme for c in parse_www_authenticate('Basic realm="R", Bearer realm="x"')]
    ['basic', 'bearer']
    """
    values = [headers] if isinstance(headers, str) else headers
    challenges: list[Challenge] = []
    for value in values:
        pos = 0
        while pos < len(value):
            scheme_match = _SCHEME.match(value, pos)
            if scheme_match is None:
                break
            scheme = scheme_match.group(1).lower()
            pos = scheme_match.end()
            params: dict[str, str] = {}
            token68 = re.compile(rf"\s*({_TOKEN68})\s*(?:,|$)").match(value, pos)
            if token68 is not None and "=" not in token68.group(1).rstrip("="):
                # ``Negotiate abc==`` style: no parameters, nothing Ferry uses.
                pos = token68.end()
            else:
                while True:
                    param = _PARAM.match(value, pos)
                    if param is None:
                        break
                    raw = param.group(2)
                    if raw.startswith('"'):
                        raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
                    params[param.group(1).lower()] = raw
                    pos = param.end()
            challenges.append(Challenge(scheme, params))
            while pos < len(value) and value[pos] in ", ":
                pos += 1
    return challenges


def repository_scope(repository: str) -> str:
    """The token scope that lets Ferry read one repository.

    >>> repository_scope("cidemo/echo-server")
    'repository:cidemo/echo-server:pull'
    """
    return f"repository:{repository}:pull"


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    expires_at: float


class Authenticator:
    """Produces the ``Authorization`` header for each request, and reacts to 401s.

    Thread-safe: one lock guards the learnt scheme and the token cache, and token
    fetches happen under it so that concurrent requests for one scope share a
    single token instead of stampeding the token service.
    """

    def __init__(
        self,
        registry: str,
        *,
        username: str | None,
        password: str | None,
        fetch_token: TokenFetcher,
        clock: Callable[[], float] = time.monotonic,
        credentials_allowed: Callable[[str], bool] = lambda realm: True,
    ) -> None:
        self._registry = registry
        self._credentials_allowed = credentials_allowed
        self._username = username
        self._password = password
        self._fetch_token = fetch_token
        self._clock = clock
        self._lock = threading.Lock()
        self._scheme = "anonymous"
        self._bearer: Challenge | None = None
        self._tokens: dict[str, _Token] = {}
        self.tokens_fetched = 0

    @property
    def scheme(self) -> str:
        """``anonymous``, ``basic`` or ``bearer``: what the registry asked for so far."""
        return self._scheme

    @property
    def has_credentials(self) -> bool:
        """True when a username was configured."""
        return self._username is not None

    def authorization(self, scope: str) -> str | None:
        """The ``Authorization`` value to send for ``scope`` (``""`` for registry-wide calls), if any."""
        with self._lock:
            if self._scheme == "basic":
                return self._basic_value()
            if self._scheme == "bearer":
                token = self._valid_token(scope) or self._new_token(scope, None)
                return f"Bearer {token.value}"
            return None

    def on_unauthorized(self, response: httpx.Response, scope: str, subject: str) -> bool:
        """Learn from a 401 and prepare new credentials.

        Args:
            response: The 401 response, whose ``WWW-Authenticate`` says what to do.
            scope: The scope the request needed (``""`` for registry-wide calls).
            subject: What was being accessed, for error messages (e.g. "repository 'a/b'").

        Returns:
            True when a retry with the new ``authorization()`` may succeed; False
            when the credentials already sent were refused.

        Raises:
            AuthenticationError: the registry wants credentials that were not
                configured, or a scheme Ferry does not speak.
        """
        challenges = parse_www_authenticate(response.headers.get_list("www-authenticate"))
        bearer = next((c for c in challenges if c.scheme == "bearer" and c.params.get("realm")), None)
        basic = next((c for c in challenges if c.scheme == "basic"), None)
        with self._lock:
            if bearer is not None:
                # A refused token may merely have expired early (clock skew): one fresh
                # token is worth a try; the client never retries a request twice.
                self._scheme = "bearer"
                self._bearer = bearer
                self._tokens.pop(scope, None)
                self._new_token(scope, bearer.params.get("scope"))
                return True
            if basic is not None:
                if self._username is None:
                    raise AuthenticationError(
                        f"registry {self._registry} requires credentials for {subject}, "
                        "and none are configured"
                    )
                first_time = self._scheme != "basic"
                self._scheme = "basic"
                return first_time
        shown = ", ".join(c.scheme for c in challenges) or "no WWW-Authenticate header"
        raise AuthenticationError(f"registry {self._registry} refused access to {subject} ({shown})")

    def _basic_value(self) -> str:
        raw = f"{self._username or ''}:{self._password or ''}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def _valid_token(self, scope: str) -> _Token | None:
        token = self._tokens.get(scope)
        if token is not None and token.expires_at > self._clock():
            return token
        return None

    def _new_token(self, scope: str, challenge_scope: str | None) -> _Token:
        """Fetch a token from the realm; the caller holds the lock."""
        assert self._bearer is not None
        params = {k: v for k, v in (("service", self._bearer.params.get("service", "")),) if v}
        requested = challenge_scope or scope
        if requested:
            params["scope"] = requested
        realm = self._bearer.params["realm"]
        if self._username is not None and not self._credentials_allowed(realm):
            raise AuthenticationError(
                f"registry {self._registry} sends its token requests to {realm!r}, which is plain http "
                "on another host (or not http at all); refusing to send the credentials there. "
                "The token realm must be https, or the registry's own loopback or insecure host"
            )
        headers = {"Authorization": self._basic_value()} if self._username is not None else {}
        response = self._fetch_token(realm, params, headers)
        self.tokens_fetched += 1
        if response.status_code in (401, 403):
            who = f"user '{self._username}'" if self._username else "anonymous access"
            raise AuthenticationError(
                f"token service of registry {self._registry} refused {who} for scope '{requested or '-'}' "
                f"(HTTP {response.status_code})"
            )
        if response.status_code != 200:
            raise RegistryError(
                f"token service of registry {self._registry} answered HTTP {response.status_code}"
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise RegistryError(f"token service of registry {self._registry} sent invalid JSON") from exc
        value = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
        if not isinstance(value, str) or not value:
            raise RegistryError(f"token service of registry {self._registry} sent no token")
        lifetime = body.get("expires_in", _DEFAULT_TOKEN_LIFETIME)
        if not isinstance(lifetime, int | float) or lifetime <= 0:
            lifetime = _DEFAULT_TOKEN_LIFETIME
        token = _Token(value, self._clock() + max(float(lifetime) - _EXPIRY_MARGIN, 1.0))
        self._tokens[scope] = token
        return token
