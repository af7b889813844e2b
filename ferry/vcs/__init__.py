"""The Git adapter: cached working clones, safe credentials, and race-proof write-back.

Typical use::

    cache = RepoCache(Path("/var/cache/ferry/git"))
    with cache.open(url, credentials) as clone:
        result = write_back(clone, base_branch=None, write_branch=None,
                            commits=[PlannedCommit(app, message, (FileEdit(path, transform),))],
                            author=CommitAuthor("ferry", "ferry@example.com"))
"""

from ferry.vcs.cache import RepoCache
from ferry.vcs.clone import CommitAuthor, CommitInfo, WorkingClone
from ferry.vcs.credentials import GitCredentials, scrub
from ferry.vcs.paths import normalize_repo_path, resolve_inside
from ferry.vcs.writeback import FileEdit, PlannedCommit, WriteBackResult, revert, write_back

__all__ = [
    "CommitAuthor",
    "CommitInfo",
    "FileEdit",
    "GitCredentials",
    "PlannedCommit",
    "RepoCache",
    "WorkingClone",
    "WriteBackResult",
    "normalize_repo_path",
    "resolve_inside",
    "revert",
    "scrub",
    "write_back",
]
