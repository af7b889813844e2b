"""The on-disk metadata cache: warm cycles cost one tags/list per repository and nothing per known tag."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ferry.devenv.oci import OciPusher
from ferry.image.platform import Platform
from ferry.registry import ManifestKind, ManifestRecord, MetadataCache, RegistryClient
from tests.fixtures.registry import RunningRegistry

pytestmark = pytest.mark.registry

AMD64 = (Platform("linux", "amd64"),)
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _cycle(client: RegistryClient, repositories: list[str]) -> dict[str, dict[str, datetime | None]]:
    """What one newest-build cycle asks of the registry."""
    out = {}
    for repo in repositories:
        tags = client.list_tags(repo)
        found = client.tag_metadata(repo, tags, platforms=AMD64, need_created=True, need_digest=False)
        out[repo] = {t.name: t.created for t in found.values()}
    return out


def test_warm_cycle_costs_one_request_per_repository(registry: RunningRegistry, tmp_path: Path) -> None:
    repos = [f"warm-{tmp_path.name[-8:]}/one", f"warm-{tmp_path.name[-8:]}/two"]
    with OciPusher(registry.url) as pusher:
        for r, repo in enumerate(repos):
            for i in range(5):
                pusher.push_image(repo, f"v{i}", created=T0 + timedelta(hours=r, minutes=i))
        pusher.push_index(repos[0], "multi", {"linux/amd64": T0, "linux/arm64": T0})
    cache_dir = tmp_path / "cache"

    with RegistryClient(registry.url, cache=MetadataCache(cache_dir)) as cold:
        first = _cycle(cold, repos)
        cold_requests = cold.request_count
    with RegistryClient(registry.url, cache=MetadataCache(cache_dir)) as warm:
        second = _cycle(warm, repos)
        assert warm.request_count == len(repos)
        third = _cycle(warm, repos)
        assert warm.request_count == 2 * len(repos)
    assert first == second == third
    assert cold_requests > 20


def test_new_tag_costs_only_its_own_requests(
    registry: RunningRegistry, repository: str, tmp_path: Path
) -> None:
    with OciPusher(registry.url) as pusher:
        for i in range(4):
            pusher.push_image(repository, f"v{i}", created=T0 + timedelta(minutes=i))
        cache = MetadataCache(tmp_path)
        with RegistryClient(registry.url, cache=cache) as client:
            _cycle(client, [repository])
            before = client.request_count
            pusher.push_image(repository, "v9", created=T0 + timedelta(days=1))
            result = _cycle(client, [repository])
            # tags/list + manifest + config of the one new tag
            assert client.request_count - before == 3
    assert result[repository]["v9"] == T0 + timedelta(days=1)


def test_cache_survives_reopen_and_keeps_records(tmp_path: Path) -> None:
    record = ManifestRecord(
        "sha256:" + "a" * 64,
        ManifestKind.IMAGE,
        "sha256:" + "b" * 64,
        T0,
        Platform("linux", "arm64", "v8"),
        config_read=True,
    )
    first = MetadataCache(tmp_path)
    first.store_manifest(record)
    first.store_tag_digests("http://r", "a/b", {"v1": record.digest})
    first.close()
    second = MetadataCache(tmp_path)
    assert second.manifest(record.digest) == record
    assert second.tag_digests("http://r", "a/b") == {"v1": record.digest}
    assert second.tag_digests("http://other", "a/b") == {}
    second.close()


def test_corrupt_cache_file_is_set_aside(tmp_path: Path) -> None:
    (tmp_path / "metadata.sqlite3").write_bytes(b"this is not a database" * 100)
    cache = MetadataCache(tmp_path)
    assert cache.manifest("sha256:" + "0" * 64) is None
    cache.close()
    assert any(p.name.startswith("metadata.broken-") for p in tmp_path.iterdir())


def _writer(directory: str, worker: int) -> None:
    cache = MetadataCache(directory)
    for i in range(200):
        digest = f"sha256:{worker:02d}{i:062d}"
        cache.store_manifest(ManifestRecord(digest, ManifestKind.IMAGE, config_read=True))
        cache.store_tag_digests("http://r", "repo", {f"w{worker}-{i}": digest})
        if i % 50 == 0:
            cache.flush()
    cache.close()


def test_concurrent_processes_share_one_cache(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(str(tmp_path), n)) for n in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    cache = MetadataCache(tmp_path)
    assert len(cache.tag_digests("http://r", "repo")) == 600
    assert len(cache) == 600
    cache.close()
