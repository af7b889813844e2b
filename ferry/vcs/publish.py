"""The fetch → reset → apply → push loop shared by write-back and revert.

Edits are recomputed, not rebased: every attempt starts from the remote's
current head and calls ``build`` again. A writer that lost the race therefore
re-applies its changes to what the winner pushed, which gives no lost update
(the winner's edits are in the starting tree) and no duplicate commit (an edit
the winner already made yields no change, so no commit). Never force-pushes.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ferry.errors import GitError, GitPushRejected, NotFoundError
from ferry.vcs.clone import WorkingClone
from ferry.vcs.credentials import scrub
from ferry.vcs.process import retry_blinks

__all__ = ["Published", "publish"]

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Published(Generic[T]):
    """What :func:`publish` did.

    ``outcome`` is what the last call of ``build`` returned; ``head`` is the SHA the
    branch ends at locally (pushed unless dry run or nothing changed).
    """

    outcome: T
    branch: str
    pushed: bool
    attempts: int
    head: str


def _backoff(attempt: int) -> float:
    """A short, jittered pause so that racing writers do not collide again in lock-step."""
    # Not security relevant: jitter only spreads retries apart.
    return min(2.0, 0.05 * 2.0**attempt) * random.uniform(0.5, 1.5)  # noqa: S311


def publish(
    clone: WorkingClone,
    *,
    base_branch: str | None,
    write_branch: str | None,
    build: Callable[[], T],
    max_attempts: int = 5,
    dry_run: bool = False,
) -> Published[T]:
    """Start from the remote head, let ``build`` commit, push once; on a lost race, start over.

    Args:
        clone: the locked working clone.
        base_branch: the branch to start from; None for the remote's default branch.
        write_branch: the branch to push to; None for ``base_branch``. When it does
            not exist on the remote yet it is created from ``base_branch``; when it
            does, it is continued.
        build: makes zero or more commits on the checked-out branch; called once
            per attempt, so it must be a pure function of the work tree.
        max_attempts: pushes to try before giving up.
        dry_run: run ``build`` and commit locally, but push nothing.

    Raises:
        GitPushRejected: every attempt lost the race.
        GitUnavailable: the fetch could not reach the remote, even after a retry.
        GitError: the remote refused the push for a reason retrying will not fix.
        NotFoundError: the base branch does not exist on the remote.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    for name in (base_branch, write_branch):
        if name is not None:
            clone.check_branch_name(name)
    last_reason = ""
    for attempt in range(1, max_attempts + 1):
        retry_blinks(f"fetch of {scrub(clone.url)}", clone.fetch)
        base = base_branch or clone.default_branch()
        target = write_branch or base
        start = clone.remote_head(target)
        if start is None and target != base:
            start = clone.remote_head(base)  # a new write branch grows from the base
        if start is None:
            raise NotFoundError(f"branch {base!r} does not exist on {scrub(clone.url)}")
        clone.reset_branch(target, start)
        outcome = build()
        head = clone.head_sha()
        if head == start:
            return Published(outcome, target, pushed=False, attempts=attempt, head=head)
        if dry_run:
            logger.info("dry run: not pushing %s to %s", target, scrub(clone.url))
            return Published(outcome, target, pushed=False, attempts=attempt, head=head)
        verdict = clone.push_branch(target)
        if verdict.accepted:
            logger.info("pushed %s to %s at %s (attempt %d)", target, scrub(clone.url), head[:12], attempt)
            return Published(outcome, target, pushed=True, attempts=attempt, head=head)
        if not verdict.retryable:
            raise GitError(f"{scrub(clone.url)} refused the push to {target}: {verdict.reason}")
        last_reason = verdict.reason
        logger.info(
            "push to %s of %s rejected (attempt %d/%d): %s; fetching and re-applying",
            target,
            scrub(clone.url),
            attempt,
            max_attempts,
            verdict.reason,
        )
        if attempt < max_attempts:
            time.sleep(_backoff(attempt))
    raise GitPushRejected(
        f"push to {target} of {scrub(clone.url)} rejected {max_attempts} times; last: {last_reason}"
    )
