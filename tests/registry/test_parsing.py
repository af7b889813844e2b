"""Pure parsing helpers: WWW-Authenticate, Link, Retry-After, created times, index platform choice."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from ferry.image.platform import Platform
from ferry.registry.auth import parse_www_authenticate
from ferry.registry.model import IndexChild, newest_matching_created, parse_created
from ferry.registry.transport import parse_retry_after
from ferry.registry.urls import next_link


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('Basic realm="Registry Realm"', [("basic", {"realm": "Registry Realm"})]),
        (
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
            'scope="repository:library/nginx:pull"',
            [
                (
                    "bearer",
                    {
                        "realm": "https://auth.docker.io/token",
                        "service": "registry.docker.io",
                        "scope": "repository:library/nginx:pull",
                    },
                )
            ],
        ),
        (
            'Bearer realm="https://r/token",service="r",scope="repository:a:pull,push",error="insufficient_scope"',
            [
                (
                    "bearer",
                    {
                        "realm": "https://r/token",
                        "service": "r",
                        "scope": "repository:a:pull,push",
                        "error": "insufficient_scope",
                    },
                )
            ],
        ),
        (
            "bearer realm=https://r/token, service=r",
            [("bearer", {"realm": "https://r/token", "service": "r"})],
        ),
        ('Basic realm="a \\"quoted\\" realm"', [("basic", {"realm": 'a "quoted" realm'})]),
        ('Negotiate abc123==, Basic realm="x"', [("negotiate", {}), ("basic", {"realm": "x"})]),
        ("", []),
    ],
    ids=[
        "basic",
        "docker hub bearer",
        "scope with comma and error",
        "unquoted lower-case",
        "escaped quotes",
        "token68 then basic",
        "empty",
    ],
)
def test_www_authenticate(header: str, expected: list[tuple[str, dict[str, str]]]) -> None:
    parsed = [(c.scheme, dict(c.params)) for c in parse_www_authenticate(header)]
    assert parsed == expected


BASE = httpx.URL("https://reg.example/v2/a/tags/list")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (['</v2/a/tags/list?n=2&last=b>; rel="next"'], "https://reg.example/v2/a/tags/list?n=2&last=b"),
        (["<list?last=b>; rel=next"], "https://reg.example/v2/a/tags/list?last=b"),
        (['<https://cdn.example/p2>; rel="next"'], "https://cdn.example/p2"),
        (['<https://x/p0>; rel="prev", <https://x/p2>; title="x"; rel="next"'], "https://x/p2"),
        (['<https://x/p0>; rel="prev"'], None),
        ([], None),
    ],
    ids=["absolute path", "relative path", "other host", "several links", "no next", "no header"],
)
def test_link_next(headers: list[str], expected: str | None) -> None:
    assert next_link(headers, BASE) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("7", 7.0),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("", None),
        (None, None),
        ("-1", None),
        ("soon", None),
    ],
    ids=["zero", "seconds", "http date", "date in the past", "empty", "absent", "negative", "garbage"],
)
def test_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T10:00:00.123456789Z", datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T10:00:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("", None),
        (None, None),
        (1714557600, None),
    ],
    ids=["utc", "nanoseconds", "offset", "naive taken as utc", "empty", "missing", "not a string"],
)
def test_parse_created(text: object, expected: datetime | None) -> None:
    assert parse_created(text) == expected


AMD, ARM = Platform("linux", "amd64"), Platform("linux", "arm64", "v8")
OLD, NEW = datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("children", "wanted", "expected"),
    [
        ((IndexChild("a", AMD), IndexChild("b", ARM)), (AMD,), (True, OLD)),
        ((IndexChild("a", AMD), IndexChild("b", ARM)), (Platform("linux", "arm64"),), (True, NEW)),
        ((IndexChild("a", AMD), IndexChild("b", ARM)), (AMD, Platform("linux", "arm64")), (True, NEW)),
        ((IndexChild("a", AMD), IndexChild("b", ARM)), (Platform("linux", "arm64", "v7"),), (False, None)),
        ((IndexChild("a", AMD), IndexChild("u", None)), (AMD,), (True, OLD)),
        ((IndexChild("n", AMD),), (AMD,), (True, None)),
    ],
    ids=[
        "amd64 only",
        "variant-less wanted matches v8",
        "newest of two",
        "variant mismatch",
        "attestation without platform ignored",
        "child without created",
    ],
)
def test_newest_matching_created(
    children: tuple[IndexChild, ...], wanted: tuple[Platform, ...], expected: tuple[bool, datetime | None]
) -> None:
    times = {"a": OLD, "b": NEW, "u": NEW, "n": None}
    assert newest_matching_created(children, times, wanted) == expected
