"""Where a registry request may go: base URLs, loopback hosts, ``Link`` pagination, origins, credentials.

Pure functions over URLs. They decide, before anything is sent, whether plain
HTTP is acceptable, whether a next page or a token realm stays where the
credentials may travel, and how a URL is shown in a log line.
"""

from __future__ import annotations

import ipaddress
import re

import httpx

from ferry.errors import ConfigError, RegistryError

__all__ = [
    "is_loopback",
    "is_loopback_host",
    "may_send_credentials",
    "next_link",
    "normalise_api_url",
    "redact",
    "same_origin",
]

_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses, where plain HTTP is acceptable.

    >>> [is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "reg.example")]
    [True, True, True, False]
    """
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback_host(host: str) -> bool:
    """:func:`is_loopback` for ``host[:port]`` as image references write it.

    >>> [is_loopback_host(h) for h in ("127.0.0.1:5000", "localhost", "[::1]:5000", "ghcr.io")]
    [True, True, True, False]
    """
    if host.startswith("["):
        return is_loopback(host[1 : host.find("]")] if "]" in host else host)
    return is_loopback(host.rsplit(":", 1)[0] if host.count(":") == 1 else host)


def normalise_api_url(api_url: str, *, insecure: bool) -> str:
    """Turn ``registries.conf``'s ``api_url`` into a base URL without a trailing slash.

    A bare host gets ``http://`` when it is a loopback address and ``https://``
    otherwise. An explicit ``http://`` is refused unless the host is loopback or
    the registry is marked ``insecure``, so that credentials never cross a
    network in clear text by accident.

    >>> normalise_api_url("127.0.0.1:5000", insecure=False)
    'http://127.0.0.1:5000'
    >>> normalise_api_url("reg.example/", insecure=False)
    'https://reg.example'
    >>> normalise_api_url("http://reg.example:5000", insecure=True)
    'http://reg.example:5000'
    """
    text = api_url.strip().rstrip("/")
    if not text:
        raise ConfigError("registry api_url is empty", key="api_url")
    if "://" not in text:
        host = httpx.URL(f"http://{text}").host
        text = f"{'http' if is_loopback(host) else 'https'}://{text}"
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise ConfigError(f"invalid registry api_url '{api_url}': {exc}", key="api_url") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(
            f"invalid registry api_url '{api_url}': expected http(s)://host[:port]", key="api_url"
        )
    if url.username or url.password:
        raise ConfigError("registry api_url must not contain credentials; use 'credentials'", key="api_url")
    if url.scheme == "http" and not (insecure or is_loopback(url.host)):
        raise ConfigError(
            f"registry api_url '{api_url}' uses plain http, "
            "which is allowed only for loopback hosts or with insecure: true",
            key="api_url",
        )
    if url.path.rstrip("/").endswith("/v2"):
        text = text[: -len("/v2")]
    return text


def next_link(values: list[str], base: httpx.URL) -> str | None:
    """The ``rel="next"`` target of RFC 5988 ``Link`` headers, resolved against ``base``.

    >>> next_link(['</v2/a/tags/list?last=b&n=2>; rel="next"'], httpx.URL("http://r:5000/v2/a/tags/list"))
    'http://r:5000/v2/a/tags/list?last=b&n=2'
    >>> next_link(['<https://x/p2>; rel="prev", <https://x/p3>; rel=next'], httpx.URL("https://x/p1"))
    'https://x/p3'
    """
    for value in values:
        for match in _LINK.finditer(value):
            params = match.group(2)
            for param in params.split(";"):
                name, _, raw = param.strip().partition("=")
                if name.strip().lower() == "rel" and "next" in raw.strip().strip('"').lower().split():
                    try:
                        return str(base.join(match.group(1).strip()))
                    except httpx.InvalidURL as exc:
                        raise RegistryError(f"registry sent a malformed Link header: {exc}") from None
    return None


def may_send_credentials(registry_url: str, realm: str, *, insecure: bool) -> bool:
    """Whether the registry's Basic credentials may go to a Bearer token ``realm`` it named.

    Over https, yes (Docker Hub's realm is auth.docker.io). Over plain http, only to
    the registry's own host, and only when that host is loopback or the registry is
    marked ``insecure``: a hostile registry must not be able to collect the password
    in clear text, on its own wire or anybody else's.

    >>> may_send_credentials("https://reg.example", "https://auth.example/token", insecure=False)
    True
    >>> may_send_credentials("https://reg.example", "http://auth.example/token", insecure=True)
    False
    """
    try:
        target, base = httpx.URL(realm), httpx.URL(registry_url)
    except httpx.InvalidURL:
        return False
    if target.scheme == "https":
        return True
    if target.scheme != "http" or target.host != base.host:
        return False
    return insecure or is_loopback(target.host)


def same_origin(url: httpx.URL | str, base: httpx.URL | str) -> bool:
    """True when ``url`` has the scheme, host and port of ``base`` (RFC 6454 origin).

    >>> same_origin("http://r:5000/v2/a/tags/list?last=b", "http://r:5000")
    True
    >>> [same_origin(u, "http://r:5000") for u in ("https://r:5000/x", "http://r:5001/x", "http://q:5000/x")]
    [False, False, False]
    """
    try:
        a, b = httpx.URL(str(url)), httpx.URL(str(base))
    except httpx.InvalidURL:
        return False
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def redact(url: httpx.URL | str) -> str:
    """A URL fit for logs: no user info."""
    parsed = httpx.URL(str(url))
    return str(parsed.copy_with(username=None, password=None)) if parsed.userinfo else str(parsed)
