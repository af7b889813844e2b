"""The clone cache: clone once, fetch after, heal corruption, lock against other workers."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ferry.errors import ConfigError, NotFoundError, TransientError, UnsafePathError
from ferry.vcs import RepoCache
from tests.fixtures.git import BareRepoFactory, git


def test_first_open_clones_later_opens_only_fetch(bare_repo: BareRepoFactory, cache: RepoCache) -> None:
    remote = bare_repo("deploy", {"values.yaml": "tag: v1\n"})
    with cache.open(remote.url) as clone:
        assert clone.read("values.yaml") == b"tag: v1\n"
        marker = clone.path / ".git" / "ferry-test-marker"
        marker.write_text("still the same clone")
    remote.commit({"values.yaml": "tag: v2\n"}, "bump")
    with cache.open(remote.url) as clone:
        assert marker.exists(), "the second open re-cloned instead of fetching"
        assert clone.read("values.yaml", revision="main") == b"tag: v2\n"
        assert (clone.path / ".git" / "config").read_text().count(remote.url) == 1


def test_corrupt_cache_is_recloned(bare_repo: BareRepoFactory, cache: RepoCache) -> None:
    remote = bare_repo("deploy", {"a.txt": "a\n"})
    with cache.open(remote.url) as clone:
        path = clone.path
    (path / ".git" / "HEAD").unlink()
    (path / ".git" / "objects").rename(path / ".git" / "objects-gone")
    with cache.open(remote.url) as clone:
        assert clone.path == path
        assert clone.read("a.txt", revision="main") == b"a\n"


def test_cache_dir_for_another_url_is_not_reused(bare_repo: BareRepoFactory, cache: RepoCache) -> None:
    one, two = bare_repo("one", {"f": "1\n"}), bare_repo("two", {"f": "2\n"})
    with cache.open(one.url) as first, cache.open(two.url) as second:
        assert first.path != second.path
        assert second.read("f") == b"2\n"


def test_a_locked_clone_waits_then_times_out(bare_repo: BareRepoFactory, tmp_path: Path) -> None:
    remote = bare_repo()
    holder = RepoCache(tmp_path / "cache").open(remote.url)
    try:
        impatient = RepoCache(tmp_path / "cache", lock_timeout=0.3)
        with pytest.raises(TransientError, match="locked"):
            impatient.open(remote.url)
        released = threading.Timer(0.3, holder.close)
        released.start()
        with RepoCache(tmp_path / "cache", lock_timeout=10).open(remote.url) as clone:
            assert clone.read("README.md") == b"deploy repo\n"
        released.join()
    finally:
        holder.close()


def test_missing_remote_is_not_found(cache: RepoCache, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        cache.open((tmp_path / "nope.git").as_uri())
    assert not any(p.name.endswith(".partial") for p in cache.root.iterdir())


def test_password_in_url_is_refused(cache: RepoCache) -> None:
    with pytest.raises(ConfigError) as caught:
        cache.open("https://bot:hunter2@127.0.0.1:1/deploy.git")
    assert "hunter2" not in str(caught.value)


def test_read_checkout_log_and_head(bare_repo: BareRepoFactory, cache: RepoCache) -> None:
    remote = bare_repo("deploy", {"values.yaml": "tag: v1\n"})
    first = remote.head()
    second = remote.commit({"values.yaml": "tag: v2\n", "other.txt": "x\n"}, "bump to v2")
    third = remote.commit({"other.txt": "y\n"}, "touch other")
    with cache.open(remote.url) as clone:
        assert clone.read("values.yaml", revision=first) == b"tag: v1\n"
        assert clone.read("values.yaml", revision=first[:10]) == b"tag: v1\n"
        assert clone.read("missing.yaml", revision="main") is None
        assert clone.checkout(first) == first
        assert clone.head_sha() == first
        assert clone.read("values.yaml") == b"tag: v1\n"
        assert clone.read("other.txt") is None
        clone.checkout("main")
        assert clone.head_sha() == third
        history = clone.log("values.yaml")
        assert [c.sha for c in history] == [second, first]
        assert history[0].message.startswith("bump to v2")
        assert [c.sha for c in clone.log(max_count=1)] == [third]
        assert clone.log(revision=first)[0].parents == ()
        with pytest.raises(NotFoundError):
            clone.checkout("no-such-branch")
        with pytest.raises(UnsafePathError):
            clone.read("../escape")
        with pytest.raises(ConfigError):
            clone.checkout("--upload-pack=evil")


def test_checkout_of_a_tag(bare_repo: BareRepoFactory, cache: RepoCache) -> None:
    remote = bare_repo("deploy", {"v": "1\n"})
    git("tag", "release-1", "main", cwd=remote.path)
    remote.commit({"v": "2\n"}, "two")
    with cache.open(remote.url) as clone:
        clone.checkout("release-1")
        assert clone.read("v") == b"1\n"
