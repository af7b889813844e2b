"""One working clone per deploy repository for a unit of work (a cycle, a render), and read-only views.

The image updater, the sync engine and the release rollbacks all read deploy repos this way;
the pool sits with the clones so that none of them imports another to get it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from ferry.config import FerryConfig
from ferry.credentials import CredentialResolver
from ferry.errors import ConfigError, NotFoundError, TransientError
from ferry.vcs.cache import RepoCache
from ferry.vcs.clone import WorkingClone
from ferry.vcs.credentials import GitCredentials
from ferry.vcs.paths import normalize_repo_path

logger = logging.getLogger(__name__)

_COMMIT = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True, slots=True)
class BranchView:
    """The deploy repo at one revision: a remote branch as this cycle fetched it, or a commit."""

    clone: WorkingClone
    revision: str

    def read(self, path: str) -> bytes | None:
        return self.clone.read(path, revision=self.revision)


class TreeView:
    """A :class:`BranchView` whose commit's tree is listed once and whose blobs are read once.

    A cycle reads the same few files (``Chart.yaml``, ``values.yaml``, override files) for
    every application of a repository; a commit's tree cannot change, so the listing and
    the blobs are kept and each later read is a dictionary lookup.
    """

    def __init__(self, clone: WorkingClone, revision: str, sha: str) -> None:
        self.clone = clone
        self.revision = revision
        self.sha = sha
        self._entries = clone.list_tree(sha)
        self._blobs: dict[str, bytes] = {}

    def read(self, path: str) -> bytes | None:
        """The bytes of ``path`` at the commit, as :meth:`WorkingClone.read` answers them."""
        entry = self._entries.get(normalize_repo_path(path))
        if entry is None:
            return None
        kind, obj = entry
        if kind != "blob":
            raise ConfigError(f"is not a file at {self.revision}", key=path)
        if obj not in self._blobs:
            self._blobs[obj] = self.clone.read_object(obj)
        return self._blobs[obj]


class RepoPool:
    """Opens (clones or fetches) each repository once per cycle and keeps it locked until closed.

    Credentials come from the Application's ``write-back-method: git:secret:…``
    when it names one, else from the matching ``repositories:`` entry.
    """

    def __init__(self, config: FerryConfig, resolver: CredentialResolver, root: Path) -> None:
        self._config = config
        self._resolver = resolver
        self._cache = RepoCache(root)
        self._clones: dict[str, WorkingClone] = {}
        self._trees: dict[tuple[str, str, str], TreeView] = {}

    def clone(self, url: str, credentials_ref: str | None = None) -> WorkingClone:
        if url not in self._clones:
            self._clones[url] = self._cache.open(url, self._credentials(url, credentials_ref))
        return self._clones[url]

    def _credentials(self, url: str, credentials_ref: str | None) -> GitCredentials | None:
        return self._resolver.git_credentials(
            url, credentials_ref, self._config.repositories, key="write-back-method"
        )

    def clone_at(self, url: str, revision: str | None) -> WorkingClone:
        """A clone to read ``revision`` from: fetched when the remote answers.

        When it does not (down, or gone) and ``revision`` is a full commit SHA that the cached
        clone already holds, that clone serves: a commit cannot change, and a rollback to a
        history entry's commit is exactly what must work while Git is down.
        """
        try:
            return self.clone(url)
        except (TransientError, NotFoundError) as exc:
            if revision is None or not _COMMIT.fullmatch(revision):
                raise
            try:
                cached = self._cache.open(url, self._credentials(url, None), fetch=False)
            except NotFoundError:
                raise exc from None
            try:
                cached.resolve(revision)
            except NotFoundError:
                cached.close()
                raise exc from None
            logger.warning("%s; reading commit %s from the cached clone", exc, revision[:12])
            self._clones[url] = cached
            return cached

    def view(self, url: str, branch: str | None, credentials_ref: str | None = None) -> TreeView:
        """A view of ``branch`` (the remote's default branch when None) as fetched this cycle.

        Views are kept by commit, so every application on one revision shares one tree
        listing, and a branch that moved (a push, a later fetch) gets a new view.
        """
        clone = self.clone(url, credentials_ref)
        name = branch or clone.default_branch()
        sha = clone.remote_head(name)
        if sha is None:
            raise NotFoundError(f"branch {name!r} does not exist in {url}")
        key = (url, name, sha)
        if key not in self._trees:
            self._trees[key] = TreeView(clone, f"refs/remotes/origin/{name}", sha)
        return self._trees[key]

    def close(self) -> None:
        for clone in self._clones.values():
            clone.close()
        self._clones.clear()
        self._trees.clear()
