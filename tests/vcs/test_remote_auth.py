"""Credentials over real transports: smart HTTP with Basic auth (askpass) and sshd (a private key)."""

from __future__ import annotations

import logging
import subprocess
import tempfile
from pathlib import Path

import pytest

from ferry.errors import AuthenticationError
from ferry.vcs import GitCredentials, RepoCache, write_back
from tests.fixtures.git import BareRepoFactory, GitHttpServer, GitSshServer
from tests.vcs.helpers import AUTHOR, planned


def _files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and needle in p.read_bytes()]


def _temp_leftovers() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("ferry-git-*")}


@pytest.fixture(autouse=True)
def private_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Askpass scripts go to a temp dir of this test alone: other git users on the machine must not
    make the leftover check flaky."""
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))


def test_http_basic_auth_through_askpass_never_stores_the_password(
    bare_repo: BareRepoFactory,
    git_http_server: GitHttpServer,
    cache: RepoCache,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    remote = bare_repo("deploy", {"values.yaml": "tag: v1\n"})
    url = git_http_server.url_for(remote)
    creds = GitCredentials(git_http_server.username, git_http_server.password)
    leftovers = _temp_leftovers()
    with cache.open(url, creds) as clone:
        result = write_back(
            clone,
            base_branch=None,
            write_branch=None,
            commits=[planned("app", {"values.yaml": "tag: v2\n"})],
            author=AUTHOR,
        )
    with cache.open(url, creds) as clone:  # a warm cycle authenticates its fetch the same way
        assert clone.read("values.yaml", revision="main") == b"tag: v2\n"
    assert result.pushed and remote.read("values.yaml") == b"tag: v2\n"

    requests = git_http_server.requests_log.read_text().splitlines()
    assert any("auth=missing-or-wrong" in r for r in requests), "the server must have challenged"
    assert any("git-receive-pack auth=ok" in r for r in requests), "the push must have authenticated"
    config = (cache.path_for(url) / ".git" / "config").read_text()
    assert f"url = {url}\n" in config
    secret = git_http_server.password.encode()
    assert _files_containing(cache.root, secret) == []
    assert git_http_server.password not in caplog.text
    assert _temp_leftovers() == leftovers, "askpass scripts must not outlive the call"


@pytest.mark.parametrize(
    "creds",
    [GitCredentials("ferry-bot", "wrong-password-123"), None],
    ids=["wrong password", "no credentials"],
)
def test_http_bad_credentials_fail_fast_and_quietly(
    bare_repo: BareRepoFactory, git_http_server: GitHttpServer, cache: RepoCache, creds: GitCredentials | None
) -> None:
    remote = bare_repo()
    with pytest.raises(AuthenticationError) as caught:
        cache.open(git_http_server.url_for(remote), creds)
    assert "wrong-password-123" not in str(caught.value)
    assert git_http_server.password not in str(caught.value)


def test_ssh_private_key(
    bare_repo: BareRepoFactory,
    git_ssh_server: GitSshServer,
    cache: RepoCache,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    remote = bare_repo("deploy", {"values.yaml": "tag: v1\n"})
    url = git_ssh_server.url_for(remote)
    creds = GitCredentials(ssh_private_key=git_ssh_server.private_key)
    leftovers = _temp_leftovers()
    with cache.open(url, creds) as clone:
        result = write_back(
            clone,
            base_branch=None,
            write_branch=None,
            commits=[planned("app", {"values.yaml": "tag: v2\n"})],
            author=AUTHOR,
        )
    assert result.pushed and remote.read("values.yaml") == b"tag: v2\n"
    assert "ssh-ed25519" in cache.known_hosts.read_text(), "the host key is remembered in the cache"
    key_body = git_ssh_server.private_key.splitlines()[1].encode()
    assert _files_containing(cache.root, key_body) == []
    assert key_body.decode() not in caplog.text
    assert _temp_leftovers() == leftovers, "the key file must not outlive the call"


def test_ssh_without_the_key_is_refused(
    bare_repo: BareRepoFactory, git_ssh_server: GitSshServer, cache: RepoCache, tmp_path: Path
) -> None:
    other = tmp_path / "other-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    with pytest.raises(AuthenticationError):
        cache.open(git_ssh_server.url_for(bare_repo()), GitCredentials(ssh_private_key=other.read_text()))
