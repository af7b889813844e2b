"""Cold scans send only what the answer needs, counted by method at a loopback proxy.

* A manifest or index carrying ``org.opencontainers.image.created`` is not followed by a config
  blob GET; a missing or malformed annotation falls back to the blob.
* HEAD where only the digest is needed (the digest strategy's refresh, a refresh that compares
  with the cache); GET where the body is.
* The disk cache still answers a warm scan with the one ``tags/list``.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ferry.devenv.oci import OciPusher, created_annotation
from ferry.image.platform import Platform
from ferry.image.tags import ImageTag
from ferry.registry import MetadataCache, RegistryClient
from ferry.registry.model import CREATED_ANNOTATION
from tests.fixtures.registry import RunningRegistry
from tests.registry.servers import LoopbackProxy

pytestmark = pytest.mark.registry

AMD64 = (Platform("linux", "amd64"),)
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
# The configs say T0; the annotations say a day later, so a result shows which one was read.
ANNOTATED = T0 + timedelta(days=1)


def _kinds(proxy: LoopbackProxy) -> Counter[tuple[str, str]]:
    """(method, what) of every request the proxy saw: what is tags, manifest or blob."""
    counts: Counter[tuple[str, str]] = Counter()
    for method, path, _ in proxy.seen:
        what = "tags" if "/tags/list" in path else "manifest" if "/manifests/" in path else "blob"
        counts[(method, what)] += 1
    return counts


def _newest_build(client: RegistryClient, repository: str, *, refresh: bool = False) -> dict[str, ImageTag]:
    tags = client.list_tags(repository)
    return client.tag_metadata(
        repository, tags, platforms=AMD64, need_created=True, need_digest=False, refresh=refresh
    )


def test_annotated_tags_cost_no_config_blob(registry: RunningRegistry, repository: str) -> None:
    with OciPusher(registry.url) as pusher:
        for i in range(5):
            when = ANNOTATED + timedelta(minutes=i)
            pusher.push_image(repository, f"a{i}", created=T0, annotations=created_annotation(when))
    with LoopbackProxy(registry.url) as proxy, RegistryClient(proxy.url) as client:
        found = _newest_build(client, repository)
        assert _kinds(proxy) == {("GET", "tags"): 1, ("GET", "manifest"): 5}
        assert client.request_count == 6
    assert {t.name: t.created for t in found.values()} == {
        f"a{i}": ANNOTATED + timedelta(minutes=i) for i in range(5)
    }


def test_unannotated_tags_read_the_config_blob(registry: RunningRegistry, repository: str) -> None:
    with OciPusher(registry.url) as pusher:
        for i in range(3):
            pusher.push_image(repository, f"u{i}", created=T0 + timedelta(minutes=i))
    with LoopbackProxy(registry.url) as proxy, RegistryClient(proxy.url) as client:
        found = _newest_build(client, repository)
        assert _kinds(proxy) == {("GET", "tags"): 1, ("GET", "manifest"): 3, ("GET", "blob"): 3}
    assert {t.name: t.created for t in found.values()} == {
        f"u{i}": T0 + timedelta(minutes=i) for i in range(3)
    }


@pytest.mark.parametrize(
    "value",
    ["2024-03-02", "2024-03-02T12:00:00", "yesterday", "2024-13-45T99:00:00Z", ""],
    ids=["date only", "no offset", "not a time", "impossible date", "empty"],
)
def test_a_bad_annotation_falls_back_to_the_config(
    registry: RunningRegistry, repository: str, value: str
) -> None:
    with OciPusher(registry.url) as pusher:
        pusher.push_image(repository, "bad", created=T0, annotations={CREATED_ANNOTATION: value})
    with LoopbackProxy(registry.url) as proxy, RegistryClient(proxy.url) as client:
        found = _newest_build(client, repository)
        assert _kinds(proxy)[("GET", "blob")] == 1
    assert found == {"bad": ImageTag("bad", created=T0)}


def test_an_annotated_index_is_one_request_and_still_platform_checked(
    registry: RunningRegistry, repository: str
) -> None:
    with OciPusher(registry.url) as pusher:
        images = {"linux/amd64": T0, "linux/arm64": T0 + timedelta(days=5)}
        pusher.push_index(repository, "multi", images, annotations=created_annotation(ANNOTATED))
    with LoopbackProxy(registry.url) as proxy, RegistryClient(proxy.url) as client:
        found = _newest_build(client, repository)
        windows = client.tag_metadata(
            repository,
            ["multi"],
            platforms=(Platform("windows", "amd64"),),
            need_created=True,
            need_digest=False,
        )
        # The index's own annotation is the tag's time: its children are never read.
        assert _kinds(proxy) == {("GET", "tags"): 1, ("GET", "manifest"): 1}
    assert found == {"multi": ImageTag("multi", created=ANNOTATED)}
    assert windows == {}


def test_warm_scan_of_annotated_tags_is_one_request(
    registry: RunningRegistry, repository: str, tmp_path: Path
) -> None:
    with OciPusher(registry.url) as pusher:
        for i in range(4):
            pusher.push_image(repository, f"w{i}", created=T0, annotations=created_annotation(ANNOTATED))
        pusher.push_image(repository, "plain", created=T0)
    with LoopbackProxy(registry.url) as proxy:
        with RegistryClient(proxy.url, cache=MetadataCache(tmp_path)) as cold:
            first = _newest_build(cold, repository)
        proxy.seen.clear()
        # A new client on the same directory: the next cycle, in a new process.
        with RegistryClient(proxy.url, cache=MetadataCache(tmp_path)) as warm:
            second = _newest_build(warm, repository)
            assert _kinds(proxy) == {("GET", "tags"): 1}
            assert warm.request_count == 1
    assert first == second
    assert second["w0"].created == ANNOTATED and second["plain"].created == T0


def test_digest_strategy_refresh_is_one_head(registry: RunningRegistry, repository: str) -> None:
    with OciPusher(registry.url) as pusher:
        digest = pusher.push_image(repository, "stable", created=T0)
        index = pusher.push_index(repository, "multi", {"linux/amd64": T0, "linux/arm64": T0})
    with LoopbackProxy(registry.url) as proxy, RegistryClient(proxy.url) as client:
        image = client.tag_metadata(
            repository, ["stable"], platforms=AMD64, need_created=False, need_digest=True, refresh=True
        )
        assert _kinds(proxy) == {("HEAD", "manifest"): 1}
        proxy.seen.clear()
        # An index needs its body once (for the platform check), fetched by the HEAD's digest.
        listed = client.tag_metadata(
            repository, ["multi"], platforms=AMD64, need_created=False, need_digest=True, refresh=True
        )
        assert [(m, p.rsplit("/", 1)[-1]) for m, p, _ in proxy.seen] == [("HEAD", "multi"), ("GET", index)]
        proxy.seen.clear()
        again = client.tag_metadata(
            repository, ["multi"], platforms=AMD64, need_created=False, need_digest=True, refresh=True
        )
        assert _kinds(proxy) == {("HEAD", "manifest"): 1}
    assert image == {"stable": ImageTag("stable", digest=digest)}
    assert listed == again == {"multi": ImageTag("multi", digest=index)}


def test_refresh_heads_known_tags_and_gets_new_ones(registry: RunningRegistry, repository: str) -> None:
    with OciPusher(registry.url) as pusher:
        pusher.push_image(repository, "old", created=T0)
        with LoopbackProxy(registry.url) as proxy, RegistryClient(proxy.url) as client:
            _newest_build(client, repository, refresh=True)
            # Nothing cached to compare with: the body is needed, so no HEAD before it.
            assert _kinds(proxy) == {("GET", "tags"): 1, ("GET", "manifest"): 1, ("GET", "blob"): 1}
            proxy.seen.clear()
            pusher.push_image(repository, "new", created=T0 + timedelta(hours=1))
            found = _newest_build(client, repository, refresh=True)
            # "old" is compared with the cache by a HEAD; "new" is read in full.
            assert _kinds(proxy) == {
                ("GET", "tags"): 1,
                ("HEAD", "manifest"): 1,
                ("GET", "manifest"): 1,
                ("GET", "blob"): 1,
            }
    assert {t.name: t.created for t in found.values()} == {"old": T0, "new": T0 + timedelta(hours=1)}


def test_an_unannotated_index_reads_its_childrens_annotations(
    registry: RunningRegistry, repository: str
) -> None:
    with OciPusher(registry.url) as pusher:
        entries = []
        for arch, when in (("amd64", ANNOTATED), ("arm64", ANNOTATED + timedelta(days=3))):
            child = pusher.image_manifest(
                repository, created=T0, platform=f"linux/{arch}", annotations=created_annotation(when)
            )
            digest = pusher.push_manifest(repository, f"child-{arch}", child)
            entries.append(
                {
                    "mediaType": child["mediaType"],
                    "digest": digest,
                    "size": 1,
                    "platform": {"os": "linux", "architecture": arch},
                }
            )
        index = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": entries,
        }
        pusher.push_manifest(repository, "multi", index)
    with LoopbackProxy(registry.url) as proxy, RegistryClient(proxy.url) as client:
        found = client.tag_metadata(
            repository, ["multi"], platforms=AMD64, need_created=True, need_digest=False
        )
        # The index, then the one matching child; its annotation spares its config.
        assert _kinds(proxy) == {("GET", "manifest"): 2}
    assert found == {"multi": ImageTag("multi", created=ANNOTATED)}
