"""Cached working clones of deployment repositories, one per remote URL.

The first :meth:`RepoCache.open` clones; every later one fetches, so a cycle
costs a fetch, never a clone. An ``fcntl.flock`` on a lock file beside each
clone lets several workers (threads or processes) share one cache root without
two of them moving the same work tree at once; the lock is held until the
:class:`~ferry.vcs.clone.WorkingClone` is closed.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import shutil
import time
from pathlib import Path

from git import Repo
from git.exc import GitCommandError, InvalidGitRepositoryError, NoSuchPathError

from ferry.errors import GitError, NotFoundError, TransientError
from ferry.vcs.clone import BASE_ENV, WorkingClone
from ferry.vcs.credentials import GitCredentials, git_environment, reject_secret_in_url, scrub
from ferry.vcs.process import DEFAULT_NETWORK_TIMEOUT, retry_blinks, run_git

__all__ = ["RepoCache"]

logger = logging.getLogger(__name__)


def _cache_dir_name(url: str) -> str:
    """A readable, collision-safe directory name for a remote URL.

    >>> _cache_dir_name("https://git.example.com/team/deploy.git")
    'deploy-4e81ba46263af14f'
    """
    tail = re.sub(r"\.git/*$", "", url.rstrip("/")).rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", tail).strip(".-")[:40] or "repo"
    return f"{slug}-{hashlib.sha256(url.encode()).hexdigest()[:16]}"


class RepoCache:
    """Working clones of remote repositories, one per URL, reused across cycles.

    Args:
        root: the cache directory; created when missing.
        lock_timeout: seconds to wait for another worker to release a clone
            before giving up with a :class:`~ferry.errors.TransientError`.
        network_timeout: seconds one clone, fetch or push may take before its
            git processes are killed (:class:`~ferry.errors.GitUnavailable`), so
            a silent server cannot hold the lock.
    """

    def __init__(
        self, root: Path, *, lock_timeout: float = 600.0, network_timeout: float = DEFAULT_NETWORK_TIMEOUT
    ) -> None:
        self.root = Path(root)
        self.lock_timeout = lock_timeout
        self.network_timeout = network_timeout

    @property
    def known_hosts(self) -> Path:
        """The SSH known_hosts file shared by every clone in this cache (trust on first use)."""
        return self.root / "known_hosts"

    def path_for(self, url: str) -> Path:
        """Where the working clone of ``url`` lives."""
        return self.root / _cache_dir_name(url)

    def open(
        self, url: str, credentials: GitCredentials | None = None, *, fetch: bool = True
    ) -> WorkingClone:
        """Lock, then clone or fetch ``url``, and hand back the working clone.

        Use it as a context manager (or call ``close()``) to release the lock. With
        ``fetch=False`` an existing clone is handed back as it is, without asking the
        remote, and a missing one raises :class:`NotFoundError`.

        Raises:
            ConfigError: the URL carries a password.
            AuthenticationError, NotFoundError, TransientError, GitError: from git.
        """
        reject_secret_in_url(url)
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.path_for(url)
        lock_fd = self._lock(path.with_name(path.name + ".lock"), url)
        try:
            clone = self._reuse(path, url, credentials, lock_fd, fetch=fetch)
            if clone is None and not fetch:
                raise NotFoundError(f"no cached clone of {scrub(url)}")
            if clone is None:
                clone = self._clone(path, url, credentials, lock_fd)
            return clone
        except BaseException:
            os.close(lock_fd)
            raise

    def _lock(self, lock_path: Path, url: str) -> int:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise TransientError(
                        f"working clone of {scrub(url)} stayed locked by another worker for "
                        f"{self.lock_timeout:.0f}s"
                    ) from None
                time.sleep(0.05)

    def _reuse(
        self, path: Path, url: str, credentials: GitCredentials | None, lock_fd: int, *, fetch: bool = True
    ) -> WorkingClone | None:
        if not path.exists():
            return None
        try:
            repo = Repo(path)
            if repo.bare or list(repo.remote("origin").urls) != [url]:
                raise InvalidGitRepositoryError(str(path))
            repo.git.rev_parse("--git-dir")
        except (InvalidGitRepositoryError, NoSuchPathError, ValueError, GitCommandError):
            logger.warning("cached clone of %s at %s is unusable; cloning again", scrub(url), path)
            shutil.rmtree(path, ignore_errors=True)
            return None
        # We hold the flock, so a lock file git left behind belongs to a killed process.
        for stale in ("index.lock", "HEAD.lock"):
            (path / ".git" / stale).unlink(missing_ok=True)
        clone = WorkingClone(url, path, repo, credentials, self.known_hosts, lock_fd, self.network_timeout)
        if not fetch:
            return clone
        try:
            retry_blinks(f"fetch into the cached clone of {scrub(url)}", clone.fetch)
        except GitError as exc:  # auth, not-found and unreachable are other types: those propagate
            logger.warning("fetch into cached clone of %s failed (%s); cloning again", scrub(url), exc)
            repo.close()
            shutil.rmtree(path, ignore_errors=True)
            return None
        except BaseException:
            repo.close()
            raise
        return clone

    def _clone(self, path: Path, url: str, credentials: GitCredentials | None, lock_fd: int) -> WorkingClone:
        # Clone beside the final place and rename: an interrupted clone never looks like a cache hit.
        partial = path.with_name(path.name + ".partial")
        logger.info("cloning %s into %s", scrub(url, credentials), path)

        def clone_once() -> Repo:
            shutil.rmtree(partial, ignore_errors=True)
            with git_environment(url, credentials, known_hosts=self.known_hosts) as env:
                run_git(
                    ["clone", "--", url, str(partial)],
                    cwd=self.root,
                    env={**os.environ, **BASE_ENV, **env},
                    timeout=self.network_timeout,
                    action=f"clone {url}",
                    credentials=credentials,
                    check=True,
                )
            return Repo(partial)

        try:
            repo = retry_blinks(f"clone of {scrub(url, credentials)}", clone_once)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        # gc must not detach and outlive our lock on the work tree.
        with repo.config_writer() as config:
            config.set_value("gc", "autoDetach", "false")
        repo.close()
        partial.rename(path)
        return WorkingClone(
            url, path, Repo(path), credentials, self.known_hosts, lock_fd, self.network_timeout
        )
