"""Authentication: htpasswd Basic on the real registry, and the Bearer token flow through a gateway."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from ferry.devenv.oci import push_image
from ferry.errors import AuthenticationError
from ferry.image.platform import Platform
from ferry.image.tags import ImageTag
from ferry.registry import RegistryClient
from tests.fixtures.registry import RunningRegistry
from tests.registry.servers import BearerGateway

pytestmark = pytest.mark.registry

AMD64 = (Platform("linux", "amd64"),)
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def test_basic_auth_with_right_password(auth_registry: RunningRegistry, repository: str) -> None:
    assert auth_registry.auth is not None
    digest = push_image(auth_registry.url, repository, "v1", created=T0, auth=auth_registry.auth)
    user, password = auth_registry.auth
    with RegistryClient(auth_registry.url, username=user, password=password) as client:
        client.ping()
        assert client.request_count == 2  # the 401 that names the scheme, then the retry
        assert client.list_tags(repository) == ["v1"]
        found = client.tag_metadata(repository, ["v1"], platforms=AMD64, need_created=True, need_digest=True)
        # Basic is sent up front once learnt: tags/list, manifest, config — no more 401s.
        assert client.request_count == 2 + 3
    assert found == {"v1": ImageTag("v1", created=T0, digest=digest)}


def test_wrong_password_is_an_authentication_error(
    auth_registry: RunningRegistry, repository: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert auth_registry.auth is not None
    wrong = "not-the-password-4711"
    caplog.set_level(logging.DEBUG)
    with RegistryClient(auth_registry.url, username=auth_registry.auth[0], password=wrong) as client:
        with pytest.raises(AuthenticationError) as caught:
            client.list_tags(repository)
    message = str(caught.value)
    assert auth_registry.host in message and repository in message
    assert wrong not in message and wrong not in caplog.text


def test_missing_credentials_say_so(auth_registry: RunningRegistry) -> None:
    with (
        RegistryClient(auth_registry.url) as client,
        pytest.raises(AuthenticationError, match="none are configured"),
    ):
        client.ping()


@pytest.mark.parametrize("token_field", ["token", "access_token"], ids=["token field", "access_token field"])
def test_bearer_token_flow(registry: RunningRegistry, repository: str, token_field: str) -> None:
    digest = push_image(registry.url, repository, "v1", created=T0)
    users = {"robot": "s3cret-robot-pass"}
    with BearerGateway(registry.url, users, token_field=token_field) as gateway:
        with RegistryClient(gateway.url, username="robot", password="s3cret-robot-pass") as client:
            client.ping()
            assert client.list_tags(repository) == ["v1"]
            found = client.tag_metadata(
                repository, ["v1"], platforms=AMD64, need_created=True, need_digest=True
            )
            again = client.list_tags(repository)
        scopes = [r.get("scope", "") for r in gateway.token_requests]
    assert found == {"v1": ImageTag("v1", created=T0, digest=digest)}
    assert again == ["v1"]
    # one token for /v2/ (no scope) and one for the repository, reused for every later request
    assert scopes == ["", f"repository:{repository}:pull"]
    assert all(r["service"] == BearerGateway.SERVICE for r in gateway.token_requests)


def test_bearer_with_wrong_password_is_an_authentication_error(
    registry: RunningRegistry, repository: str
) -> None:
    with BearerGateway(registry.url, {"robot": "right"}) as gateway:
        with RegistryClient(gateway.url, username="robot", password="wrong-pass-123") as client:
            with pytest.raises(AuthenticationError) as caught:
                client.list_tags(repository)
    assert "wrong-pass-123" not in str(caught.value)
    assert "token service" in str(caught.value)
