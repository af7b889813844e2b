"""Networked git commands with a deadline that kills the whole process tree.

A git server that accepts a connection and then never answers leaves ``git fetch``
waiting forever, and with it the worker and the clone's lock. ``kill`` of the git
process alone is not enough: for http(s) the transfer runs in a ``git-remote-http``
child, for ssh in an ``ssh`` child, and an orphaned helper keeps the socket open. So
each networked command runs in a session of its own and the whole process group is
killed when the deadline passes.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from git.exc import GitCommandError

from ferry.errors import FerryError, GitTimeout, GitUnavailable
from ferry.vcs.credentials import GitCredentials, scrub
from ferry.vcs.failures import translate

__all__ = ["BLINK_ATTEMPTS", "DEFAULT_NETWORK_TIMEOUT", "GitRun", "retry_blinks", "run_git"]

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
        GitTimeout: the deadline passed (the remote stopped answering).
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
        raise GitTimeout(
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


_logger = logging.getLogger(__name__)
_T = TypeVar("_T")
BLINK_ATTEMPTS = 3


def retry_blinks(what: str, step: Callable[[], _T], attempts: int = BLINK_ATTEMPTS) -> _T:
    """``step()``, tried again when the remote blinked: a reset, a refused or empty reply.

    A timeout is not retried: the remote stopped answering, and asking again at once would
    cost the whole timeout again. Nothing else is retried either (auth, not found, refused
    push): those answer the same the next time.
    """
    for attempt in range(1, attempts + 1):
        try:
            return step()
        except GitTimeout:
            raise
        except GitUnavailable as error:
            if attempt == attempts:
                raise
            _logger.info("%s failed (attempt %d/%d): %s; trying again", what, attempt, attempts, error)
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")  # the loop returns or raises
