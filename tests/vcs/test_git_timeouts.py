"""Git clone, fetch and push against a server that stops answering: a timeout, not a hung worker.

Issue 10, finding 9: none of them had a timeout, and a silent server held the clone's
lock until the socket closed. Here a loopback TCP proxy in front of the real ``git
http-backend`` turns silent on request.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry.errors import GitUnavailable
from ferry.vcs import GitCredentials, RepoCache, write_back
from tests.fixtures.git import BareRepoFactory, GitHttpServer
from tests.fixtures.tcp import FaultyTcpProxy
from tests.vcs.helpers import AUTHOR, planned
from tests.waiting import wait_for

TIMEOUT = 3.0


def _proxied(server: GitHttpServer, proxy: FaultyTcpProxy, url: str) -> str:
    return url.replace(f"127.0.0.1:{server.port}", f"127.0.0.1:{proxy.port}")


def test_a_silent_server_times_out_the_clone_and_frees_the_lock(
    tmp_path: Path, bare_repo: BareRepoFactory, git_http_server: GitHttpServer
) -> None:
    remote = bare_repo("deploy", {"values.yaml": "tag: v1\n"})
    creds = GitCredentials(git_http_server.username, git_http_server.password)
    cache = RepoCache(tmp_path / "cache", lock_timeout=1, network_timeout=TIMEOUT)
    with FaultyTcpProxy(("127.0.0.1", git_http_server.port), mode="silent") as proxy:
        url = _proxied(git_http_server, proxy, git_http_server.url_for(remote))
        with pytest.raises(GitUnavailable, match="timed out") as caught:
            cache.open(url, creds)
        assert git_http_server.password not in str(caught.value)
        # Every git process of the clone is gone (the http helper too): nothing holds the socket.
        wait_for(lambda: proxy.open_connections == 0, 30, "every git process to let go of the server")
        # The lock was released: a second attempt times out on the network again, not on the lock.
        with pytest.raises(GitUnavailable, match="timed out"):
            cache.open(url, creds)
    assert not cache.path_for(url).exists(), "no half clone is left to look like a cache hit"


def test_a_server_that_goes_silent_times_out_fetch_and_push(
    tmp_path: Path, bare_repo: BareRepoFactory, git_http_server: GitHttpServer
) -> None:
    remote = bare_repo("deploy", {"values.yaml": "tag: v1\n"})
    before = remote.head()
    creds = GitCredentials(git_http_server.username, git_http_server.password)
    cache = RepoCache(tmp_path / "cache", lock_timeout=1, network_timeout=TIMEOUT)
    with FaultyTcpProxy(("127.0.0.1", git_http_server.port)) as proxy:
        url = _proxied(git_http_server, proxy, git_http_server.url_for(remote))
        with cache.open(url, creds) as clone:
            proxy.mode = "silent"
            with pytest.raises(GitUnavailable, match="timed out"):
                clone.fetch()
            with pytest.raises(GitUnavailable, match="timed out"):
                write_back(
                    clone,
                    base_branch=None,
                    write_branch=None,
                    commits=[planned("app", {"values.yaml": "tag: v2\n"})],
                    author=AUTHOR,
                    max_attempts=1,
                )
            wait_for(lambda: proxy.open_connections == 0, 30, "every git process to let go of the server")
        # The cache is usable again as soon as the server answers.
        proxy.mode = "forward"
        with cache.open(url, creds) as clone:
            result = write_back(
                clone,
                base_branch=None,
                write_branch=None,
                commits=[planned("app", {"values.yaml": "tag: v2\n"})],
                author=AUTHOR,
            )
    assert result.pushed
    assert remote.read("values.yaml") == b"tag: v2\n"
    assert [sha for sha, _ in remote.log()][1] == before


def test_push_alone_times_out(
    tmp_path: Path, bare_repo: BareRepoFactory, git_http_server: GitHttpServer
) -> None:
    remote = bare_repo("deploy", {"values.yaml": "tag: v1\n"})
    creds = GitCredentials(git_http_server.username, git_http_server.password)
    cache = RepoCache(tmp_path / "cache", network_timeout=TIMEOUT)
    with FaultyTcpProxy(("127.0.0.1", git_http_server.port)) as proxy:
        url = _proxied(git_http_server, proxy, git_http_server.url_for(remote))
        with cache.open(url, creds) as clone:
            clone.reset_branch("main", clone.resolve("main"))
            (clone.path / "values.yaml").write_text("tag: v3\n")
            assert clone.commit_all("v3", AUTHOR)
            proxy.mode = "silent"
            verdict = clone.push_branch("main")
    assert not verdict.accepted and verdict.retryable
    assert "timed out" in verdict.reason
    assert remote.read("values.yaml") == b"tag: v1\n"


def test_ls_remote_of_a_silent_server_times_out_and_leaves_no_helper_behind(tmp_path: Path) -> None:
    from ferry.ci.detect import ls_remote
    from ferry.schema.builds import RefType

    with FaultyTcpProxy(("127.0.0.1", 9), mode="silent") as proxy:
        with pytest.raises(GitUnavailable, match="timed out"):
            ls_remote(
                f"http://127.0.0.1:{proxy.port}/source.git",
                RefType.tag,
                None,
                known_hosts=tmp_path / "known_hosts",
                timeout=TIMEOUT,
            )
        # On a timeout only git itself used to be killed; git-remote-http kept the socket open.
        wait_for(lambda: proxy.open_connections == 0, 30, "the http helper to let go of the server")
