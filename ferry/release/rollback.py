"""Rollback: quickly, from the sync history, or end to end, by reverting the write-back commits.

* Quick (``argocd app rollback``): sync the revision of a history entry and put
  a hold on the app, so auto-sync and the image updater leave the rollback alone
  until someone releases the hold (Argo CD refuses to roll back an automated
  app for exactly this reason, argo-cd #9570).
* ``--git-revert``: hold the tags being rolled away from (so the updater does
  not write them back again, image-updater #1249), then revert the write-back
  commits made since that entry in one commit, with the write-back's
  fetch/retry push loop. The normal pipeline carries the revert: auto-sync for
  Dev, the release gates for the rest.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

from ferry.credentials import CredentialResolver
from ferry.errors import ConfigError
from ferry.release.holds import Hold, place_hold, rolled_away_tags
from ferry.sync.engine import SyncEngine
from ferry.sync.model import HistoryEntry, Initiator
from ferry.sync.target import AppRef
from ferry.vcs.clone import CommitAuthor
from ferry.vcs.pool import RepoPool
from ferry.vcs.writeback import revert

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RollbackResult:
    """What a rollback did."""

    app: str
    history_id: int
    revision: str
    images: tuple[str, ...]
    hold: Hold
    synced_history_id: int | None = None
    revert_commit: str | None = None
    reverted: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "app": self.app,
            "history_id": self.history_id,
            "revision": self.revision,
            "images": list(self.images),
            "hold": self.hold.as_dict(),
            "synced_history_id": self.synced_history_id,
            "revert_commit": self.revert_commit,
            "reverted": list(self.reverted),
        }


def target_entry(history: Sequence[HistoryEntry], history_id: int | None) -> HistoryEntry:
    """The entry to roll back to: ``history_id``, else the one before the latest.

    Raises:
        ConfigError: No such entry, or no earlier entry to go back to.
    """
    if history_id is not None:
        for entry in history:
            if entry.id == history_id:
                return entry
        raise ConfigError(f"no history entry {history_id} (have {[e.id for e in history]})")
    if len(history) < 2:
        raise ConfigError("the app has no earlier history entry to roll back to")
    return history[-2]


def quick_rollback(
    engine: SyncEngine,
    app: AppRef,
    history_id: int | None = None,
    *,
    initiator: Initiator,
    wait_timeout: float | None = None,
) -> RollbackResult:
    """Sync ``app`` to a history entry's revision and hold it there."""
    destination = engine.target(app)
    name = destination.name
    history = engine.history(destination)
    target = target_entry(history, history_id)
    current = history[-1] if history else None
    hold = Hold(
        name,
        f"rolled back to history entry {target.id} ({target.revision[:12]})",
        initiator.user,
        sync=True,
        tags=rolled_away_tags(current.images if current else (), target.images),
    )
    # The hold goes first: an auto-sync running meanwhile must not re-apply the newer revision.
    stored = place_hold(engine, hold, destination)
    result = engine.rollback(destination, target.id, initiator=initiator, wait_timeout=wait_timeout)
    logger.info("%s: rolled back to entry %d (%s), now on hold", name, target.id, target.revision[:12])
    return RollbackResult(name, target.id, target.revision, target.images, stored, result.history_id)


def write_back_file(engine: SyncEngine, app: AppRef) -> str:
    """The file Image Updater's git write-back changes for ``app`` (``.argocd-source-<app>.yaml``)."""
    application = engine.application(app)
    return posixpath.normpath(
        posixpath.join(application.source.path or ".", f".argocd-source-{application.name}.yaml")
    )


def git_revert_rollback(
    engine: SyncEngine,
    app: AppRef,
    history_id: int | None = None,
    *,
    initiator: Initiator,
    credentials: CredentialResolver,
    author: CommitAuthor | None = None,
) -> RollbackResult:
    """Revert the write-back commits of ``app`` made after a history entry, and hold the reverted tags.

    ``credentials`` resolve the deploy repo's references: the caller's ports decide whether
    ``block:`` ones can be loaded.

    Raises:
        ConfigError: Nothing to revert, or no such entry.
        GitError: A revert conflicts with later changes (nothing is pushed).
        GitPushRejected: The push kept being rejected.
    """
    config = engine.config
    destination = engine.target(app)
    name = destination.name
    history = engine.history(destination)
    target = target_entry(history, history_id)
    application = destination.app
    path = write_back_file(engine, destination)
    pool = RepoPool(config, credentials, config.cache_path / "release-repos")
    try:
        clone = pool.clone(application.source.repo_url)
        branch = application.source.target_revision
        branch = clone.default_branch() if branch in ("HEAD", "") else branch
        before = {c.sha for c in clone.log(path, revision=target.revision, max_count=1000)}
        writer = author or CommitAuthor(config.commit.author_name, config.commit.author_email)
        commits = [
            c
            for c in clone.log(path, revision=branch, max_count=1000)
            if c.sha not in before and c.author_email == config.commit.author_email
        ]
        if not commits:
            raise ConfigError(
                f"no write-back commit to {path} after history entry {target.id} ({target.revision[:12]})",
                application=name,
            )
        current = history[-1]
        hold = Hold(
            name,
            f"git revert of {', '.join(c.sha[:12] for c in commits)}",
            initiator.user,
            sync=False,
            tags=rolled_away_tags(current.images, target.images),
        )
        # Held before the push: an updater cycle between the two must not write the tag back.
        stored = place_hold(engine, hold, destination)
        message = (
            f"Revert image update(s) of {name} to history entry {target.id}\n\n"
            + "\n".join(f"This reverts commit {c.sha}." for c in commits)
            + f"\n\nRequested by {initiator.user}"
            + (f" (flow run {initiator.run_id})" if initiator.run_id else "")
            + "\n"
        )
        sha = revert(
            clone, [c.sha for c in commits], message, writer, branch=branch, max_attempts=config.push_attempts
        )
    finally:
        pool.close()
    logger.info("%s: reverted %d write-back commit(s) in %s", name, len(commits), sha and sha[:12])
    return RollbackResult(
        name, target.id, target.revision, target.images, stored, None, sha, tuple(c.sha for c in commits)
    )
