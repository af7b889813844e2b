"""One working clone per deploy repository for a cycle, and read-only views of its branches."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ferry.config import FerryConfig
from ferry.credentials import CredentialResolver
from ferry.errors import NotFoundError
from ferry.vcs.cache import RepoCache
from ferry.vcs.clone import WorkingClone


@dataclass(frozen=True, slots=True)
class BranchView:
    """The deploy repo as the remote branch has it after this cycle's fetch."""

    clone: WorkingClone
    revision: str

    def read(self, path: str) -> bytes | None:
        return self.clone.read(path, revision=self.revision)


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

    def clone(self, url: str, credentials_ref: str | None = None) -> WorkingClone:
        if url not in self._clones:
            self._clones[url] = self._cache.open(
                url,
                self._resolver.git_credentials(url, credentials_ref, self._config, key="write-back-method"),
            )
        return self._clones[url]

    def view(self, url: str, branch: str | None, credentials_ref: str | None = None) -> BranchView:
        """A view of ``branch`` (the remote's default branch when None) as fetched this cycle."""
        clone = self.clone(url, credentials_ref)
        name = branch or clone.default_branch()
        if clone.remote_head(name) is None:
            raise NotFoundError(f"branch {name!r} does not exist in {url}")
        return BranchView(clone, f"refs/remotes/origin/{name}")

    def close(self) -> None:
        for clone in self._clones.values():
            clone.close()
        self._clones.clear()
