"""Git credentials, and the short-lived environment that hands them to one git process.

Credentials never reach disk inside a URL. For http(s) a tiny ``GIT_ASKPASS``
script answers git's prompts from environment variables that only the git
subprocess receives; for SSH the private key is written to a 0600 file that
lives only as long as the one network call that needs it. Every message that
may quote a command line or a URL goes through :func:`scrub` first.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ferry.errors import ConfigError

__all__ = ["GitCredentials", "git_environment", "reject_secret_in_url", "scrub"]

ASKPASS_USERNAME_VAR = "FERRY_GIT_ASKPASS_USERNAME"
ASKPASS_PASSWORD_VAR = "FERRY_GIT_ASKPASS_PASSWORD"  # noqa: S105 - a variable name, not a password
MASK = "***"

# git asks "Username for 'https://host': " and then "Password for 'https://user@host': ".
# The script reads the answers from the environment, so it holds no secret itself.
_ASKPASS_SCRIPT = f"""#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "${ASKPASS_USERNAME_VAR}" ;;
  *) printf '%s\\n' "${ASKPASS_PASSWORD_VAR}" ;;
esac
"""

# scheme://user:password@host -> the password part, wherever a URL shows up in text.
_URL_PASSWORD = re.compile(r"(?P<prefix>[A-Za-z][A-Za-z0-9+.-]*://[^/@:\s'\"]*:)(?P<password>[^/@\s'\"]+)@")


@dataclass(frozen=True, slots=True)
class GitCredentials:
    """What a git remote needs to let us in. Every field is optional.

    ``username``/``password`` serve http(s) remotes (a token goes in ``password``);
    ``ssh_private_key`` is the OpenSSH private key text for ``ssh://`` and scp-like
    remotes. The repr masks the secrets, so logging a credentials object is safe.

    >>> GitCredentials(username="bot", password="s3cret")
    GitCredentials(username='bot', password='***', ssh_private_key=None)
    """

    username: str | None = None
    password: str | None = None
    ssh_private_key: str | None = None

    def __repr__(self) -> str:
        password = None if self.password is None else MASK
        key = None if self.ssh_private_key is None else MASK
        return f"GitCredentials(username={self.username!r}, password={password!r}, ssh_private_key={key!r})"

    def secrets(self) -> tuple[str, ...]:
        """The secret strings that must never appear in a message, longest first."""
        found: list[str] = []
        if self.password:
            found.append(self.password)
        if self.ssh_private_key:
            found.append(self.ssh_private_key.strip())
            # A traceback may quote one line of a key; mask every substantial line.
            found.extend(
                line.strip()
                for line in self.ssh_private_key.splitlines()
                if len(line.strip()) >= 16 and not line.startswith("-----")
            )
        return tuple(sorted(set(found), key=len, reverse=True))


def scrub(text: str, credentials: GitCredentials | None = None) -> str:
    """Remove passwords from ``text``: the given credentials' secrets and any ``user:pass@`` in a URL.

    >>> scrub("fatal: unable to access 'https://bot:hunter2@example.com/r.git/'")
    "fatal: unable to access 'https://bot:***@example.com/r.git/'"
    >>> scrub("token hunter2 rejected", GitCredentials(password="hunter2"))
    'token *** rejected'
    """
    if credentials is not None:
        for secret in credentials.secrets():
            text = text.replace(secret, MASK)
    return _URL_PASSWORD.sub(lambda match: f"{match.group('prefix')}{MASK}@", text)


def reject_secret_in_url(url: str) -> None:
    """Refuse a remote URL that carries a password: git would store it in ``.git/config``.

    >>> reject_secret_in_url("https://bot@example.com/r.git")
    >>> reject_secret_in_url("https://bot:pw@example.com/r.git")
    Traceback (most recent call last):
    ...
    ferry.errors.ConfigError: repository 'https://bot:***@example.com/r.git' has a password in its URL; \
pass it as credentials instead
    """
    if "://" not in url:
        return  # scp-like "git@host:path" has no password syntax
    try:
        has_password = urlsplit(url).password is not None
    except ValueError as exc:  # a malformed port, for instance
        raise ConfigError(f"repository URL {scrub(url)!r} is malformed: {exc}") from None
    if has_password:
        raise ConfigError(
            f"repository {scrub(url)!r} has a password in its URL; pass it as credentials instead"
        )


def is_ssh_url(url: str) -> bool:
    """True for ``ssh://``, ``git+ssh://`` and scp-like ``user@host:path`` remotes.

    >>> [is_ssh_url(u) for u in ("ssh://h/r", "git@h:r.git", "https://h/r", "file:///r", "/srv/r")]
    [True, True, False, False, False]
    """
    if "://" in url:
        return urlsplit(url).scheme in {"ssh", "git+ssh", "ssh+git"}
    # scp-like syntax: a colon before the first slash, and not a Windows drive letter.
    head, colon, _ = url.partition(":")
    return bool(colon) and "/" not in head and len(head) > 1


@contextmanager
def git_environment(
    url: str, credentials: GitCredentials | None, *, known_hosts: Path
) -> Iterator[Mapping[str, str]]:
    """Yield the environment variables for one networked git call to ``url``.

    The askpass script and any SSH key live in a private temporary directory
    that is removed when the block ends, so a key is on disk only for the
    duration of the call. Prompts are disabled: a missing credential fails fast
    instead of hanging a worker.

    Args:
        url: the remote, only used to decide between SSH and http(s).
        credentials: what to authenticate with, or None for anonymous access.
        known_hosts: the file SSH records host keys in (trust on first use).
    """
    env: dict[str, str] = {
        "GIT_TERMINAL_PROMPT": "0",
        # A credential helper from the user's config could store the password on disk.
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "credential.helper",
        "GIT_CONFIG_VALUE_0": "",
    }
    workdir = Path(tempfile.mkdtemp(prefix="ferry-git-"))
    try:
        askpass = workdir / "askpass.sh"
        askpass.write_text(_ASKPASS_SCRIPT)
        askpass.chmod(0o700)
        env["GIT_ASKPASS"] = str(askpass)
        if credentials is not None and credentials.username is not None:
            env[ASKPASS_USERNAME_VAR] = credentials.username
        if credentials is not None and credentials.password is not None:
            env[ASKPASS_PASSWORD_VAR] = credentials.password
        if credentials is not None and credentials.ssh_private_key and is_ssh_url(url):
            key_file = workdir / "id"
            # Create with 0600 from the start: ssh refuses a key others can read.
            descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                key = credentials.ssh_private_key
                handle.write(key if key.endswith("\n") else key + "\n")
            env["GIT_SSH_COMMAND"] = shlex.join(
                [
                    "ssh",
                    "-i",
                    str(key_file),
                    "-o",
                    "IdentitiesOnly=yes",
                    "-o",
                    "StrictHostKeyChecking=accept-new",
                    "-o",
                    f"UserKnownHostsFile={known_hosts}",
                    "-o",
                    "BatchMode=yes",
                    "-o",
                    "ConnectTimeout=30",
                ]
            )
        yield env
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
