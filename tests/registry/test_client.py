"""RegistryClient against a real CNCF Distribution registry (no auth)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ferry.devenv.oci import OciPusher, push_docker_image, push_image, push_index
from ferry.errors import ConfigError, NotFoundError
from ferry.image.platform import Platform
from ferry.image.tags import ImageTag
from ferry.registry import RegistryClient
from tests.fixtures.registry import RunningRegistry
from tests.registry.servers import PaginatingProxy

pytestmark = pytest.mark.registry

AMD64 = (Platform("linux", "amd64"),)
ARM64 = (Platform("linux", "arm64"),)
T0 = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


def test_ping_answers(registry: RunningRegistry) -> None:
    with RegistryClient(registry.url) as client:
        client.ping()
        assert client.request_count == 1


def test_list_tags_returns_every_pushed_tag(registry: RunningRegistry, repository: str) -> None:
    with OciPusher(registry.url) as pusher:
        for i, tag in enumerate(["v1", "v2", "latest", "v10"]):
            pusher.push_image(repository, tag, created=T0 + timedelta(minutes=i))
    with RegistryClient(registry.url) as client:
        assert sorted(client.list_tags(repository)) == ["latest", "v1", "v10", "v2"]
        assert client.request_count == 1


def test_list_tags_of_unknown_repository_is_not_found(registry: RunningRegistry) -> None:
    with RegistryClient(registry.url) as client, pytest.raises(NotFoundError, match="no-such/repo"):
        client.list_tags("no-such/repo")


def test_created_and_digest_from_oci_config(registry: RunningRegistry, repository: str) -> None:
    created = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    digest = push_image(registry.url, repository, "v1", created=created)
    with RegistryClient(registry.url) as client:
        found = client.tag_metadata(repository, ["v1"], platforms=AMD64, need_created=True, need_digest=True)
    assert found == {"v1": ImageTag("v1", created=created, digest=digest)}


def test_created_from_docker_schema2_config(registry: RunningRegistry, repository: str) -> None:
    digest = push_docker_image(registry.url, repository, "d1", created=T0)
    with RegistryClient(registry.url) as client:
        found = client.tag_metadata(repository, ["d1"], platforms=AMD64, need_created=True, need_digest=True)
    assert found["d1"] == ImageTag("d1", created=T0, digest=digest)


def test_only_requested_fields_are_filled(registry: RunningRegistry, repository: str) -> None:
    push_image(registry.url, repository, "v1", created=T0)
    with RegistryClient(registry.url) as client:
        only_created = client.tag_metadata(
            repository, ["v1"], platforms=AMD64, need_created=True, need_digest=False
        )
        neither = client.tag_metadata(
            repository, ["v1"], platforms=AMD64, need_created=False, need_digest=False
        )
    assert only_created["v1"] == ImageTag("v1", created=T0)
    assert neither == {"v1": ImageTag("v1")}


@pytest.mark.parametrize(
    ("schema", "wanted", "expected_created"),
    [
        ("oci", AMD64, T0),
        ("oci", ARM64, T0 + timedelta(days=2)),
        ("oci", (Platform("linux", "amd64"), Platform("linux", "arm64")), T0 + timedelta(days=2)),
        ("docker", AMD64, T0),
        ("oci", (Platform("windows", "amd64"),), None),
    ],
    ids=[
        "oci index: amd64 child only",
        "oci index: arm64 child only",
        "oci index: newest of both matching",
        "docker manifest list: amd64",
        "oci index: no matching platform drops the tag",
    ],
)
def test_index_created_is_newest_matching_child(
    registry: RunningRegistry,
    repository: str,
    schema: str,
    wanted: tuple[Platform, ...],
    expected_created: datetime | None,
) -> None:
    images = {
        "linux/amd64": T0,
        "linux/arm64": T0 + timedelta(days=2),
        "linux/arm/v7": T0 + timedelta(days=9),
    }
    digest = push_index(registry.url, repository, "multi", images, schema=schema)  # type: ignore[arg-type]
    with RegistryClient(registry.url) as client:
        found = client.tag_metadata(
            repository, ["multi"], platforms=wanted, need_created=True, need_digest=True
        )
    if expected_created is None:
        assert found == {}
    else:
        assert found == {"multi": ImageTag("multi", created=expected_created, digest=digest)}


def test_single_image_of_another_platform_is_dropped(registry: RunningRegistry, repository: str) -> None:
    push_image(registry.url, repository, "arm-only", created=T0, platform="linux/arm64")
    push_image(registry.url, repository, "amd", created=T0, platform="linux/amd64")
    with RegistryClient(registry.url) as client:
        found = client.tag_metadata(
            repository, ["arm-only", "amd"], platforms=AMD64, need_created=True, need_digest=False
        )
    assert list(found) == ["amd"]


def test_index_digest_only_needs_no_child_fetch(registry: RunningRegistry, repository: str) -> None:
    digest = push_index(registry.url, repository, "multi", {"linux/amd64": T0, "linux/arm64": T0})
    with RegistryClient(registry.url) as client:
        found = client.tag_metadata(
            repository, ["multi"], platforms=AMD64, need_created=False, need_digest=True
        )
        assert client.request_count == 1  # the index GET; no children, no configs
    assert found == {"multi": ImageTag("multi", digest=digest)}


def test_refresh_follows_a_moved_tag(registry: RunningRegistry, repository: str) -> None:
    first = push_image(registry.url, repository, "stable", created=T0)
    with RegistryClient(registry.url) as client:
        before = client.tag_metadata(
            repository, ["stable"], platforms=AMD64, need_created=False, need_digest=True
        )
        second = push_image(registry.url, repository, "stable", created=T0 + timedelta(hours=1))
        cached = client.tag_metadata(
            repository, ["stable"], platforms=AMD64, need_created=False, need_digest=True
        )
        fresh = client.tag_metadata(
            repository, ["stable"], platforms=AMD64, need_created=False, need_digest=True, refresh=True
        )
    assert first != second
    assert before["stable"].digest == first
    assert cached["stable"].digest == first, "tags are immutable unless refresh is asked for"
    assert fresh["stable"].digest == second


def test_vanished_tag_is_left_out(registry: RunningRegistry, repository: str) -> None:
    push_image(registry.url, repository, "here", created=T0)
    with RegistryClient(registry.url) as client:
        found = client.tag_metadata(
            repository, ["here", "gone"], platforms=AMD64, need_created=True, need_digest=False
        )
    assert list(found) == ["here"]


def test_many_tags_in_parallel_keep_their_own_times(registry: RunningRegistry, repository: str) -> None:
    times = {f"b{i:03d}": T0 + timedelta(minutes=i) for i in range(40)}
    with OciPusher(registry.url) as pusher:
        for tag, created in times.items():
            pusher.push_image(repository, tag, created=created)
    with RegistryClient(registry.url, max_concurrency=6) as client:
        tags = client.list_tags(repository)
        found = client.tag_metadata(repository, tags, platforms=AMD64, need_created=True, need_digest=False)
        # one tags/list, then one manifest GET and one config GET per tag
        assert client.request_count == 1 + 2 * len(times)
    assert {t.name: t.created for t in found.values()} == times


def test_link_pagination_is_followed(registry: RunningRegistry, repository: str) -> None:
    tags = [f"p{i:02d}" for i in range(7)]
    with OciPusher(registry.url) as pusher:
        for tag in tags:
            pusher.push_image(repository, tag, created=T0)
    with PaginatingProxy(registry.url, page_size=3) as proxy, RegistryClient(proxy.url) as client:
        listed = client.list_tags(repository)
        pages = [path for method, path, _ in proxy.seen if "/tags/list" in path]
    assert listed == tags
    assert len(pages) == 3
    assert client.request_count == 3


@pytest.mark.parametrize(
    ("api_url", "insecure", "expected"),
    [
        ("127.0.0.1:5000", False, "http://127.0.0.1:5000"),
        ("localhost:5000/", False, "http://localhost:5000"),
        ("registry.example", False, "https://registry.example"),
        ("https://registry.example/v2/", False, "https://registry.example"),
        ("http://registry.example:5000", True, "http://registry.example:5000"),
    ],
    ids=["bare loopback → http", "localhost", "bare host → https", "trailing /v2/ dropped", "insecure http"],
)
def test_api_url_normalisation(api_url: str, insecure: bool, expected: str) -> None:
    client = RegistryClient(api_url, insecure=insecure)
    try:
        assert client.api_url == expected
    finally:
        client.close()


@pytest.mark.parametrize(
    "api_url",
    ["http://registry.example", "ftp://registry.example", "https://user:pw@registry.example", ""],
    ids=["plain http off loopback", "not http", "credentials in url", "empty"],
)
def test_unsafe_or_invalid_api_url_is_a_config_error(api_url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        RegistryClient(api_url)
    assert "pw" not in str(caught.value)


def test_invalid_repository_name_is_a_config_error(registry: RunningRegistry) -> None:
    with RegistryClient(registry.url) as client, pytest.raises(ConfigError, match=r"Bad/\.\./name"):
        client.list_tags("Bad/../name")
