"""Networked git commands with a deadline that kills the whole process tree.

A git server that accepts a connection and then never answers leaves ``git fetch``
waiting forever, and with it the worker and the clone's lock. ``kill`` of the git
process alone is not enough: for http(s) the transfer runs in a ``git-remote-http``
child, for ssh in an ``ssh`` child, and an orphaned helper keeps the socket open. So
each networked command runs in a session of its own and the whole process group is
killed when the deadline passes.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from git.exc import GitCommandError

from ferry.errors import FerryError, GitUnavailable
from ferry.vcs.credentials import GitCredentials, scrub
from ferry.vcs.failures import translate

__all__ = ["DEFAULT_NETWORK_TIMEOUT", "GitRun", "run_git"]

#: Seconds one clone, fetch or push may take. A deploy repo transfers in seconds;
#: this only has to end a transfer that will never finish.
DEFAULT_NETWORK_TIMEOUT = 300.0


@dataclass(frozen=True, slots=True)
class GitRun:
    """How one git command ended."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def error(self, action: str, credentials: GitCredentials | None) -> FerryError:
        """The Ferry error for a failed run, as :func:`~ferry.vcs.failures.translate` classifies it."""
        return translate(
            GitCommandError(list(self.argv), self.returncode, self.stderr, self.stdout), action, credentials
        )


def _kill_group(process: subprocess.Popen[str]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_git(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    action: str,
    credentials: GitCredentials | None,
    check: bool = False,
) -> GitRun:
    """Run ``git <args>``; kill its process group after ``timeout`` seconds.

    Args:
        args: git's arguments (never a secret: they are quoted in messages).
        cwd: the working directory.
        env: the complete environment of the command.
        timeout: seconds before the whole process tree is killed.
        action: what is being done, for the timeout message ("fetch https://…").
        credentials: whose secrets to scrub from messages.
        check: raise the translated Ferry error when git exits non-zero.

    Raises:
        GitUnavailable: the deadline passed (the remote stopped answering).
        FerryError: with ``check``, what :func:`~ferry.vcs.failures.translate` makes of the failure.
    """
    argv = ("git", *args)
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.communicate()
        raise GitUnavailable(
            f"{scrub(action, credentials)} timed out after {timeout:.0f}s: the remote stopped answering"
        ) from None
    except BaseException:
        _kill_group(process)
        process.communicate()
        raise
    done = GitRun(argv, process.returncode, stdout, stderr)
    if check and done.returncode != 0:
        raise done.error(action, credentials) from None
    return done
