"""Registry faults: 503s and 429 with Retry-After are retried, logged, and the call still succeeds."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from ferry.devenv.oci import push_image
from ferry.errors import RegistryError, RegistryUnavailable
from ferry.image.platform import Platform
from ferry.image.tags import ImageTag
from ferry.registry import RegistryClient
from tests.fixtures.registry import RunningRegistry, free_port
from tests.registry.servers import FaultInjectingProxy, Reply

pytestmark = pytest.mark.registry

AMD64 = (Platform("linux", "amd64"),)
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _retry_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "ferry.registry" and r.levelno == logging.WARNING
    ]


def test_503_twice_then_429_with_retry_after_still_succeeds(
    registry: RunningRegistry, repository: str, caplog: pytest.LogCaptureFixture
) -> None:
    digest = push_image(registry.url, repository, "v1", created=T0)
    script = [Reply(503), Reply(503), Reply(429, {"Retry-After": "1"})]
    caplog.set_level(logging.WARNING, logger="ferry.registry")
    with FaultInjectingProxy(registry.url, script) as proxy, RegistryClient(proxy.url) as client:
        tags = client.list_tags(repository)
        found = client.tag_metadata(repository, tags, platforms=AMD64, need_created=True, need_digest=True)
        assert client.request_count == 4 + 2  # three refused tags/list + the real one; manifest; config
    assert found == {"v1": ImageTag("v1", created=T0, digest=digest)}
    lines = _retry_lines(caplog)
    url = f"{proxy.url}/v2/{repository}/tags/list"
    assert lines == [
        f"GET {url} answered 503; retry 1/4 in 0.2s",
        f"GET {url} answered 503; retry 2/4 in 0.4s",
        f"GET {url} answered 429; retry 3/4 in 1.0s",
    ]
    assert [status for _, _, status in proxy.seen[:4]] == [503, 503, 429, 200]


def test_faults_on_manifest_and_blob_reads_are_retried(registry: RunningRegistry, repository: str) -> None:
    push_image(registry.url, repository, "v1", created=T0)
    script = [Reply(502), Reply(500)]
    with FaultInjectingProxy(registry.url, script, matches=lambda m, p: "/blobs/" in p) as proxy:
        with RegistryClient(proxy.url) as client:
            found = client.tag_metadata(
                repository, ["v1"], platforms=AMD64, need_created=True, need_digest=False
            )
    assert found["v1"].created == T0
    assert [s for m, p, s in proxy.seen if "/blobs/" in p] == [502, 500, 200]


def test_exhausted_retries_raise_registry_unavailable(registry: RunningRegistry, repository: str) -> None:
    script = [Reply(503, {"Retry-After": "0"})] * 3
    with (
        FaultInjectingProxy(registry.url, script) as proxy,
        RegistryClient(proxy.url, max_attempts=3) as client,
    ):
        with pytest.raises(RegistryUnavailable, match="gave up after 3 attempts") as caught:
            client.list_tags(repository)
        assert client.request_count == 3
    assert caught.value.retryable


def test_long_retry_after_is_handed_to_the_caller(registry: RunningRegistry, repository: str) -> None:
    with FaultInjectingProxy(registry.url, [Reply(429, {"Retry-After": "3600"})]) as proxy:
        with RegistryClient(proxy.url) as client, pytest.raises(RegistryUnavailable) as caught:
            client.list_tags(repository)
    assert caught.value.retry_after == 3600.0


def test_connection_refused_is_retried_then_unavailable(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="ferry.registry")
    with RegistryClient(f"http://127.0.0.1:{free_port()}", max_attempts=2) as client:
        with pytest.raises(RegistryUnavailable, match="ConnectError"):
            client.ping()
    assert len(_retry_lines(caplog)) == 1


def test_other_4xx_and_bad_json_are_registry_errors(registry: RunningRegistry, repository: str) -> None:
    with FaultInjectingProxy(
        registry.url, [Reply(400, body=b"nope"), Reply(200, body=b"{not json")]
    ) as proxy:
        with RegistryClient(proxy.url) as client:
            with pytest.raises(RegistryError, match="HTTP 400"):
                client.list_tags(repository)
            with pytest.raises(RegistryError, match="invalid JSON"):
                client.list_tags(repository)
