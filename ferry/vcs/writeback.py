"""Write image updates back to a deployment repository (one commit per application, one push per
repo), and revert them: both go through the same fetch/reset/apply/push loop of :mod:`ferry.vcs.publish`.

Callers describe *how* to change each file (a transform of its bytes), not the
new bytes, so that after a lost push race the same transforms run again on the
winner's tree. See :mod:`ferry.vcs.publish` for why that gives no lost update
and no duplicate commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ferry.errors import ConfigError, FerryError
from ferry.vcs.clone import CommitAuthor, WorkingClone
from ferry.vcs.credentials import scrub
from ferry.vcs.paths import resolve_inside
from ferry.vcs.publish import publish
from ferry.vcs.series import SeriesCommit, commit_series, needs_work_tree, overlay_edit

__all__ = ["CommitAuthor", "FileEdit", "PlannedCommit", "WriteBackResult", "revert", "write_back"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FileEdit:
    """A change to one file, as a function of its current bytes.

    ``transform`` receives the file's bytes, or None when the file does not exist,
    and returns the new bytes, or None to leave the file as it is. It may run
    more than once (once per push attempt) and must depend only on its input. A
    :class:`~ferry.errors.FerryError` it raises fails only its own commit.
    """

    path: str
    transform: Callable[[bytes | None], bytes | None]


@dataclass(frozen=True, slots=True)
class PlannedCommit:
    """One application's update: the edits that make up one commit.

    ``key`` names the commit in the result (the application name).
    """

    key: str
    message: str
    edits: tuple[FileEdit, ...]


@dataclass(frozen=True, slots=True)
class WriteBackResult:
    """What :func:`write_back` did to one repository.

    ``commits`` maps every planned key to its new commit SHA, or None when it
    changed nothing or failed; ``errors`` holds the failures by key. ``pushed``
    is False on a dry run and when nothing changed. ``attempts`` counts fetch →
    push rounds (more than one means a race was lost and the edits re-applied).
    """

    commits: Mapping[str, str | None]
    pushed: bool
    attempts: int
    branch: str
    errors: Mapping[str, FerryError] = field(default_factory=dict)


def _apply(clone: WorkingClone, planned: PlannedCommit) -> bool:
    """Run one commit's transforms against the work tree. True when some file changed."""
    changed = False
    for edit in planned.edits:
        file = resolve_inside(clone.path, edit.path)
        if file.exists() and not file.is_file():
            raise ConfigError("is not a regular file", application=planned.key, key=edit.path)
        current = file.read_bytes() if file.exists() else None
        new = edit.transform(current)
        if new is None or new == current:
            continue
        if not isinstance(new, bytes):
            raise TypeError(f"transform for {edit.path!r} returned {type(new).__name__}, not bytes")
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(new)
        changed = True
    return changed


def _build_commits(
    clone: WorkingClone, commits: Sequence[PlannedCommit], author: CommitAuthor
) -> tuple[dict[str, str | None], dict[str, FerryError]]:
    if needs_work_tree(clone.tracked_files(), clone.git_dir):
        return _commit_in_work_tree(clone, commits, author)
    shas: dict[str, str | None] = {}
    errors: dict[str, FerryError] = {}
    overlay: dict[str, tuple[str, bytes]] = {}
    series: list[SeriesCommit] = []
    for planned in commits:
        try:
            files = _apply_in_memory(clone, planned, overlay)
        except FerryError as exc:
            _skipped(planned, exc, shas, errors)
            continue  # its pending files were never in the overlay: nothing of it rides along
        shas[planned.key] = None
        if files:
            overlay.update(files)
            series.append(SeriesCommit(planned.key, planned.message, files))
    shas.update(commit_series(clone, series, author.name, author.email))
    return shas, errors


def _apply_in_memory(
    clone: WorkingClone, planned: PlannedCommit, overlay: Mapping[str, tuple[str, bytes]]
) -> dict[str, tuple[str, bytes]]:
    """One commit's transforms over the work tree as the earlier commits left it; the files it changes."""
    pending: dict[str, tuple[str, bytes]] = {}
    for edit in planned.edits:
        path, mode, current = overlay_edit(
            clone.path, resolve_inside(clone.path, edit.path), {**overlay, **pending}
        )
        new = edit.transform(current)
        if new is None or new == current:
            continue
        if not isinstance(new, bytes):
            raise TypeError(f"transform for {edit.path!r} returned {type(new).__name__}, not bytes")
        pending[path] = (mode, new)
    return pending


def _skipped(
    planned: PlannedCommit, exc: FerryError, shas: dict[str, str | None], errors: dict[str, FerryError]
) -> None:
    error = exc.located(application=planned.key) if isinstance(exc, ConfigError) else exc
    logger.warning("write-back of %s skipped: %s", planned.key, scrub(str(error)))
    shas[planned.key] = None
    errors[planned.key] = error


def _commit_in_work_tree(
    clone: WorkingClone, commits: Sequence[PlannedCommit], author: CommitAuthor
) -> tuple[dict[str, str | None], dict[str, FerryError]]:
    """Each commit by ``git add`` and ``git commit``: for repos whose attributes filter what is stored."""
    shas: dict[str, str | None] = {}
    errors: dict[str, FerryError] = {}
    for planned in commits:
        try:
            changed = _apply(clone, planned)
        except FerryError as exc:
            _skipped(planned, exc, shas, errors)
            clone.discard_changes()  # nothing of a failed commit may ride along with the next one
            continue
        shas[planned.key] = clone.commit_all(planned.message, author) if changed else None
    return shas, errors


def write_back(
    clone: WorkingClone,
    *,
    base_branch: str | None,
    write_branch: str | None,
    commits: Sequence[PlannedCommit],
    author: CommitAuthor,
    max_attempts: int = 5,
    dry_run: bool = False,
) -> WriteBackResult:
    """Commit each planned change on its own and push them all at once, retrying lost races.

    Each attempt fetches, hard-resets to the remote head of the write branch (or
    of the base branch when the write branch is new), applies every planned
    commit's edits and commits those that changed the tree, then pushes once.

    Args:
        clone: the locked working clone of the repository.
        base_branch: the branch to start from; None for the remote's default branch.
        write_branch: where to push; None for the base branch. Created from the
            base branch when missing on the remote, continued when present
            (Image Updater's ``git-branch: base:target``).
        commits: the planned commits, in order; keys must be unique.
        author: author and committer of every commit.
        max_attempts: push attempts before giving up.
        dry_run: commit in the local clone only; nothing is pushed.

    Returns:
        Per-key commit SHAs (dry run: the SHAs of the unpushed local commits) and errors.

    Raises:
        GitPushRejected: every attempt lost the race (transient: retry later).
        GitError, AuthenticationError, NotFoundError, TransientError: from git.
    """
    keys = [planned.key for planned in commits]
    if len(set(keys)) != len(keys):
        raise ValueError(f"planned commit keys must be unique, got {keys}")
    published = publish(
        clone,
        base_branch=base_branch,
        write_branch=write_branch,
        build=lambda: _build_commits(clone, commits, author),
        max_attempts=max_attempts,
        dry_run=dry_run,
    )
    shas, errors = published.outcome
    return WriteBackResult(
        commits=shas,
        pushed=published.pushed,
        attempts=published.attempts,
        branch=published.branch,
        errors=errors,
    )


def revert(
    clone: WorkingClone,
    shas: Sequence[str],
    message: str,
    author: CommitAuthor,
    *,
    branch: str | None = None,
    max_attempts: int = 5,
    dry_run: bool = False,
) -> str | None:
    """Revert ``shas`` (applied in the order given: pass newest first) in ONE commit, and push it.

    Args:
        clone: the locked working clone of the repository.
        shas: the commits to undo; each must be on ``branch``.
        message: the revert commit's message.
        author: author and committer.
        branch: the branch to revert on; None for the remote's default branch.
        max_attempts: pushes to try before giving up with GitPushRejected.
        dry_run: commit locally but push nothing.

    Returns:
        The new commit's SHA, or None when the reverts change nothing (already reverted).
    """

    def apply() -> str | None:
        for sha in shas:
            clone.stage_revert(sha)
        return clone.commit_all(message, author)

    published = publish(
        clone, base_branch=branch, write_branch=None, build=apply, max_attempts=max_attempts, dry_run=dry_run
    )
    return published.outcome
