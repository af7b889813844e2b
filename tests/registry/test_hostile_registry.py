"""A registry that lies: injected tags, foreign pagination links, foreign token realms, huge bodies.

Each server is a small loopback front of the real Distribution registry (or, for the
huge body, a loopback server of its own): Distribution cannot be made to misbehave.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from ferry.devenv.oci import push_image
from ferry.errors import AuthenticationError, FerryError, RegistryError
from ferry.registry import RegistryClient
from tests.fixtures.registry import RunningRegistry
from tests.registry.servers import BearerGateway, RequestRecorder, StreamingServer, TagListRewriter

pytestmark = pytest.mark.registry

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
EVIL = "zz,image.repository=evil.example/pwn"


def _attempt(call: Callable[[], object]) -> object:
    """What ``call`` returned, or the Ferry error it raised (so that leaks are asserted first)."""
    try:
        return call()
    except FerryError as exc:
        return exc


def test_tags_that_are_not_oci_tags_are_never_listed(registry: RunningRegistry, repository: str) -> None:
    """Finding 3: a tag with ',' and '=' sorted last alphabetically and was written into Helm values."""
    push_image(registry.url, repository, "v1", created=T0)
    injected = [EVIL, "../../etc", "-rf", "é1", "a" * 129, "", ".hidden", "ok_2.0-rc"]
    with (
        TagListRewriter(registry.url, lambda tags: ([*tags, *injected], None)) as proxy,
        RegistryClient(proxy.url) as client,
    ):
        listed = client.list_tags(repository)
    assert listed == ["v1", "ok_2.0-rc"]


def test_pagination_never_leaves_the_registry_origin(auth_registry: RunningRegistry, repository: str) -> None:
    """Finding 4: ``Link: <http://other-host/...>; rel="next"`` got the Basic credentials."""
    assert auth_registry.auth is not None
    push_image(auth_registry.url, repository, "v1", created=T0, auth=auth_registry.auth)
    with RequestRecorder() as foreign:
        link = f'<{foreign.url}/v2/{repository}/tags/list?last=v1>; rel="next"'
        with (
            TagListRewriter(auth_registry.url, lambda tags: (tags, link)) as proxy,
            RegistryClient(
                proxy.url, username=auth_registry.auth[0], password=auth_registry.auth[1]
            ) as client,
        ):
            outcome = _attempt(lambda: client.list_tags(repository))
    assert foreign.authorizations == [], "the registry's credentials went to another origin"
    assert foreign.requests == [], "nothing at all is sent to a foreign page"
    assert isinstance(outcome, RegistryError) and "another origin" in str(outcome), outcome
    assert foreign.url in str(outcome)


def test_credentials_never_go_to_a_plain_http_realm_on_another_host(
    registry: RunningRegistry, repository: str
) -> None:
    """Finding 4: a bearer realm on another origin, over plain http, got the Basic credentials."""
    push_image(registry.url, repository, "v1", created=T0)
    with RequestRecorder() as token_service:
        # localhost is loopback too, but it is not the registry's host (127.0.0.1).
        realm = token_service.url.replace("127.0.0.1", "localhost") + "/token"
        with (
            BearerGateway(registry.url, {"bot": "s3cret-pass"}, realm=realm) as gateway,
            RegistryClient(gateway.url, username="bot", password="s3cret-pass") as client,
        ):
            outcome = _attempt(lambda: client.list_tags(repository))
    assert token_service.authorizations == [], "Basic credentials went over plain http to another host"
    assert isinstance(outcome, AuthenticationError) and "plain http" in str(outcome), outcome
    assert "s3cret-pass" not in str(outcome)


@pytest.mark.parametrize(
    ("registry_url", "realm", "insecure", "allowed"),
    [
        ("https://reg.example", "https://auth.example/token", False, True),
        ("https://reg.example", "http://auth.example/token", False, False),
        ("https://reg.example", "http://auth.example/token", True, False),
        ("https://reg.example", "http://reg.example/token", False, False),
        ("https://reg.example", "http://reg.example/token", True, True),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5001/token", False, True),
        ("http://127.0.0.1:5000", "http://localhost:5001/token", False, False),
        ("https://reg.example", "http://127.0.0.1/token", False, False),
        ("http://reg.example:5000", "http://reg.example:5001/token", True, True),
        ("https://reg.example", "ftp://reg.example/token", True, False),
    ],
    ids=[
        "https realm elsewhere",
        "plain http realm elsewhere",
        "plain http elsewhere even when insecure",
        "plain http realm on the same host, secure registry",
        "plain http realm on the same host, insecure registry",
        "loopback registry, loopback realm on the same host",
        "loopback registry, loopback realm on another host name",
        "secure registry, plain http loopback realm",
        "insecure registry, same host other port",
        "not http at all",
    ],
)
def test_which_realms_may_receive_credentials(
    registry_url: str, realm: str, insecure: bool, allowed: bool
) -> None:
    from ferry.registry.urls import may_send_credentials

    assert may_send_credentials(registry_url, realm, insecure=insecure) is allowed


@pytest.mark.parametrize("declare_length", [True, False], ids=["Content-Length says so", "streamed"])
def test_a_huge_tags_list_is_cut_off(repository: str, declare_length: bool) -> None:
    """Finding 9: a 600 MiB tags/list body was read whole. 40 MiB stands in for it here."""
    body = (b'{"name":"x","tags":["', b"a" * (1 << 20), 40, b'"]}')
    with (
        StreamingServer(*body, declare_length=declare_length) as server,
        RegistryClient(server.url) as client,
        pytest.raises(RegistryError, match="more than") as caught,
    ):
        client.list_tags(repository)
    assert server.finished.wait(10)
    assert server.sent < server.total, "the client hung up instead of reading everything"
    assert "tags/list" in str(caught.value)
