"""Secrets stay out of reprs, messages, URLs and the disk."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from git import Git
from git.exc import GitCommandError

from ferry.errors import (
    AuthenticationError,
    ConfigError,
    GitError,
    GitPushRejected,
    GitUnavailable,
    NotFoundError,
    TransientError,
)
from ferry.vcs.credentials import GitCredentials, git_environment, reject_secret_in_url, scrub
from ferry.vcs.failures import translate

KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"
    "-----END OPENSSH PRIVATE KEY-----"
)


def test_repr_masks_every_secret() -> None:
    text = repr(GitCredentials(username="bot", password="hunter2", ssh_private_key=KEY))
    assert "hunter2" not in text and "b3BlbnNzaC1rZXkt" not in text
    assert "bot" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://bot:hunter2@h/r.git", "https://bot:***@h/r.git"),
        ("'http://u:p%40ss@127.0.0.1:80/x'", "'http://u:***@127.0.0.1:80/x'"),
        ("ssh://git@h:22/r", "ssh://git@h:22/r"),
        ("no url at all", "no url at all"),
    ],
    ids=["https userinfo", "quoted with port", "ssh user only", "plain text"],
)
def test_scrub_removes_url_passwords(text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_scrub_removes_credential_secrets_anywhere() -> None:
    creds = GitCredentials("bot", "tok-123456", KEY)
    text = scrub(
        f"token tok-123456 and key line b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ and\n{KEY}", creds
    )
    assert "tok-123456" not in text and "b3BlbnNzaC1rZXkt" not in text


def test_url_with_password_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        reject_secret_in_url("https://bot:hunter2@example.com/r.git")
    assert "hunter2" not in str(caught.value)
    reject_secret_in_url("https://bot@example.com/r.git")
    reject_secret_in_url("git@example.com:team/r.git")


def test_real_git_error_with_password_url_is_scrubbed() -> None:
    """GitPython's own exception quotes stderr verbatim; ours must not."""
    url = "http://bot:hunter2-secret@127.0.0.1:9/deploy.git"
    with pytest.raises(GitCommandError) as raw:
        Git().execute(["git", "ls-remote", url], env={"GIT_TERMINAL_PROMPT": "0"})
    creds = GitCredentials("bot", "hunter2-secret")
    error = translate(raw.value, f"fetch {url}", creds)
    assert isinstance(error, TransientError)  # connection refused: worth retrying
    assert "hunter2-secret" not in str(error)
    assert "127.0.0.1:9" in str(error)


@pytest.mark.parametrize(
    ("stderr", "kind"),
    [
        ("fatal: Authentication failed for 'https://h/r/'", AuthenticationError),
        ("git@h: Permission denied (publickey).", AuthenticationError),
        ("fatal: could not read Username for 'https://h': terminal prompts disabled", AuthenticationError),
        ("fatal: repository 'https://h/r/' not found", NotFoundError),
        ("fatal: unable to access 'https://h/': Could not resolve host: h", GitUnavailable),
        ("! [rejected] main -> main (fetch first)", GitPushRejected),
        ("! [remote rejected] main -> main (failed to update ref)", GitPushRejected),
        ("fatal: bad object abc", GitError),
    ],
    ids=["http auth", "ssh auth", "no prompt", "repo missing", "dns", "fetch first", "ref lock", "other"],
)
def test_git_failures_map_to_ferry_errors(stderr: str, kind: type[Exception]) -> None:
    error = translate(GitCommandError(["git", "fetch"], 128, stderr), "fetch", None)
    assert type(error) is kind


def test_environment_lives_only_for_the_call(tmp_path: Path) -> None:
    creds = GitCredentials("bot", "pw-1", KEY)
    with git_environment("ssh://git@h/r.git", creds, known_hosts=tmp_path / "kh") as env:
        askpass = Path(env["GIT_ASKPASS"])
        key_file = Path(env["GIT_SSH_COMMAND"].split(" -i ")[1].split()[0])
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert key_file.read_text().endswith("\n")
        assert "pw-1" not in askpass.read_text()  # the script reads the secret from the env
        assert env["FERRY_GIT_ASKPASS_PASSWORD"] == "pw-1"
        assert "UserKnownHostsFile=" + str(tmp_path / "kh") in env["GIT_SSH_COMMAND"]
        assert "pw-1" not in os.environ.values()
    assert not askpass.exists() and not key_file.exists()


def test_https_gets_no_ssh_key(tmp_path: Path) -> None:
    with git_environment("https://h/r.git", GitCredentials(ssh_private_key=KEY), known_hosts=tmp_path) as env:
        assert "GIT_SSH_COMMAND" not in env
        assert "FERRY_GIT_ASKPASS_PASSWORD" not in env
