"""Turn git's failures into Ferry's errors, with every secret scrubbed out.

GitPython's ``GitCommandError`` quotes the command line and git's stderr, and
either may carry a URL or a token. The original exception is therefore never
chained as ``__cause__`` (a traceback would print it): the scrubbed text of the
command, exit status and stderr goes into the new error's message instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from git.exc import GitCommandError

from ferry.errors import (
    AuthenticationError,
    FerryError,
    GitError,
    GitPushRejected,
    GitUnavailable,
    NotFoundError,
)
from ferry.vcs.credentials import GitCredentials, scrub

__all__ = ["PushVerdict", "describe", "judge_push", "translate"]

_AUTH = re.compile(
    r"authentication failed|could not read (username|password)|permission denied|"
    r"invalid username or password|terminal prompts disabled|http basic: access denied|"
    r"returned error: 40[13]|host key verification failed",
    re.IGNORECASE,
)
_NOT_FOUND = re.compile(
    r"repository .* not found|does not appear to be a git repository|returned error: 404|"
    r"couldn't find remote ref|no such file or directory",
    re.IGNORECASE,
)
_UNREACHABLE = re.compile(
    r"could not resolve host|connection refused|connection timed out|operation timed out|"
    r"network is unreachable|couldn't connect|failed to connect|connection reset|"
    r"the remote end hung up unexpectedly|returned error: 5\d\d|empty reply from server|"
    r"ssh: connect to host",
    re.IGNORECASE,
)
# What a push that lost a race looks like. Anything else the remote refuses
# (a hook, branch protection) will refuse again, so it is not retried.
_LOST_RACE = re.compile(
    r"fetch first|non-fast-forward|failed to update ref|cannot lock ref|unable to lock|"
    r"failed to lock|stale info|incorrect old value|reference already exists|updates were rejected",
    re.IGNORECASE,
)


def describe(exc: GitCommandError, credentials: GitCredentials | None) -> str:
    """One scrubbed line-ish description of a failed git command."""
    command = exc.command if isinstance(exc.command, str) else " ".join(str(part) for part in exc.command)
    stderr = str(exc.stderr or "").strip()
    # GitPython prefixes stderr with "stderr: '" and quotes; keep just git's words.
    stderr = re.sub(r"^\s*stderr: '(.*)'\s*$", r"\1", stderr, flags=re.DOTALL).strip()
    return scrub(f"`{command}` exited {exc.status}: {stderr or 'no message'}", credentials)


def translate(exc: GitCommandError, action: str, credentials: GitCredentials | None) -> FerryError:
    """Map a failed git command to the Ferry error a caller can act on.

    Args:
        exc: what GitPython raised.
        action: what we were doing, for the message ("fetch https://…").
        credentials: whose secrets to scrub from the text.

    Returns:
        AuthenticationError, NotFoundError, GitPushRejected, GitUnavailable (the
        remote is unreachable) or GitError. Raise it ``from None``.
    """
    detail = describe(exc, credentials)
    message = f"{scrub(action, credentials)} failed: {detail}"
    if _AUTH.search(detail):
        return AuthenticationError(message)
    if _LOST_RACE.search(detail):
        return GitPushRejected(message)
    if _UNREACHABLE.search(detail):
        return GitUnavailable(message)
    if _NOT_FOUND.search(detail):
        return NotFoundError(message)
    return GitError(message)


@dataclass(frozen=True, slots=True)
class PushVerdict:
    """How one push went: ``accepted``, or why not and whether another attempt may help."""

    accepted: bool
    retryable: bool
    reason: str


def judge_push(returncode: int, porcelain: str, stderr: str) -> PushVerdict | None:
    r"""Read ``git push --porcelain``'s per-ref lines (``<flag>\t<from>:<to>\t<summary>``).

    Args:
        returncode: git's exit status.
        porcelain: its standard output.
        stderr: its error lines, already scrubbed, for the reason text.

    Returns:
        The verdict, or None when git failed before any ref was judged (the caller
        translates ``stderr``: authentication, an unreachable remote).

    >>> judge_push(1, "To r\n!\trefs/heads/main:refs/heads/main\t[rejected] (fetch first)\nDone\n", "")
    PushVerdict(accepted=False, retryable=True, reason='refs/heads/main: [rejected] (fetch first)')
    >>> judge_push(1, "!\tm:m\t[remote rejected] (pre-receive hook declined)\n", "").retryable
    False
    """
    judged = False
    for line in porcelain.splitlines():
        flag, tab, rest = line.partition("\t")
        if not tab or len(flag) != 1:
            continue
        judged = True
        refspec, _, summary = rest.partition("\t")
        if flag != "!":
            continue
        reason = f"{refspec.rsplit(':', 1)[-1]}: {summary.strip()}"
        if summary.startswith("[rejected]"):
            return PushVerdict(False, True, reason)  # non-fast-forward: someone pushed first
        if summary.startswith(("[remote rejected]", "[remote failure]")):
            return PushVerdict(False, bool(_LOST_RACE.search(reason + "\n" + stderr)), reason)
        return PushVerdict(False, True, reason)  # an error without detail: worth another try
    if not judged:
        return None if returncode != 0 else PushVerdict(False, False, stderr or "git reported no ref update")
    if returncode != 0:
        return PushVerdict(False, bool(_LOST_RACE.search(stderr)), stderr or f"git push exited {returncode}")
    return PushVerdict(True, False, "")
