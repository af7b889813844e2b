"""A locked working clone: fetch, read, check out, commit, push and revert.

Clones come from :class:`ferry.vcs.cache.RepoCache`. Every git process runs with
prompts disabled and literal pathspecs; networked ones also get the short-lived
credential environment of :func:`ferry.vcs.credentials.git_environment`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from git import Repo
from git.exc import BadName, GitCommandError

from ferry.errors import ConfigError, FerryError, GitError, GitUnavailable, NotFoundError
from ferry.vcs.credentials import GitCredentials, git_environment, scrub
from ferry.vcs.failures import PushVerdict, judge_push, translate
from ferry.vcs.paths import normalize_repo_path, resolve_inside
from ferry.vcs.process import DEFAULT_NETWORK_TIMEOUT, GitRun, run_git

__all__ = ["CommitAuthor", "CommitInfo", "WorkingClone"]


# Every git process: no prompts (a worker must fail, not hang) and paths taken literally,
# so a file named "*.yaml" or ":(top)x" from configuration means exactly that file.
BASE_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_LITERAL_PATHSPECS": "1"}


@dataclass(frozen=True, slots=True)
class CommitAuthor:
    """Who write-back commits are attributed to; used as both author and committer."""

    name: str
    email: str


@dataclass(frozen=True, slots=True)
class CommitInfo:
    """One commit as :meth:`WorkingClone.log` reports it."""

    sha: str
    message: str
    author_name: str
    author_email: str
    authored_at: datetime
    parents: tuple[str, ...]


class WorkingClone:
    """One locked working clone. Obtain it from :meth:`RepoCache.open`; close it to unlock.

    Not thread-safe: one worker drives one clone at a time (the flock guarantees
    no other worker holds it meanwhile). Local branches are scratch space; the
    truth is always the remote, re-fetched before every write.
    """

    def __init__(
        self,
        url: str,
        path: Path,
        repo: Repo,
        credentials: GitCredentials | None,
        known_hosts: Path,
        lock_fd: int,
        network_timeout: float = DEFAULT_NETWORK_TIMEOUT,
    ) -> None:
        self.url = url
        self.path = path
        self._repo = repo
        self._credentials = credentials
        self._known_hosts = known_hosts
        self._lock_fd: int | None = lock_fd
        self.network_timeout = network_timeout
        # Remote-tracking heads and tags change only when this clone fetches or pushes; a cycle
        # asks for them several times per application, so each answer is kept until then.
        self._remote_heads: dict[str, str | None] = {}
        self._resolved: dict[str, str] = {}
        repo.git.update_environment(**BASE_ENV)

    def __repr__(self) -> str:
        return f"WorkingClone(url={scrub(self.url)!r}, path={str(self.path)!r})"

    def __enter__(self) -> WorkingClone:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop GitPython's helper processes and release the lock. Safe to call twice."""
        self._repo.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None

    # -- remote -----------------------------------------------------------------

    def _remote_git(self, *args: str, action: str, check: bool = True) -> GitRun:
        """Run a networked git command in the work tree, with credentials and the network deadline."""
        with git_environment(self.url, self._credentials, known_hosts=self._known_hosts) as env:
            return run_git(
                args,
                cwd=self.path,
                env={**os.environ, **BASE_ENV, **env},
                timeout=self.network_timeout,
                action=action,
                credentials=self._credentials,
                check=check,
            )

    def fetch(self) -> None:
        """Bring every remote branch and tag up to date (pruning deleted ones)."""
        self._forget_remote()
        self._remote_git(
            "fetch", "--prune", "--prune-tags", "--tags", "--force", "origin", action=f"fetch {self.url}"
        )

    def default_branch(self) -> str:
        """The branch the remote's HEAD points at, as of the clone (or the last time it was missing)."""
        ref = "refs/remotes/origin/HEAD"
        target = self._git_quiet("symbolic-ref", "--quiet", ref)
        if target is None:
            action = f"find the default branch of {self.url}"
            done = self._remote_git("remote", "set-head", "origin", "--auto", action=action, check=False)
            if done.returncode != 0:
                error = done.error(action, self._credentials)
                if not isinstance(error, GitError):
                    raise error from None  # auth or network trouble, not an empty repo
                raise NotFoundError(f"{scrub(self.url)} has no default branch (is it empty?)") from None
            target = self._git_quiet("symbolic-ref", "--quiet", ref)
        if target is None:
            raise NotFoundError(f"{scrub(self.url)} has no default branch (is it empty?)")
        return target.removeprefix("refs/remotes/origin/")

    def remote_head(self, branch: str) -> str | None:
        """The SHA of ``branch`` on the remote as of the last fetch, or None if it does not exist."""
        if branch not in self._remote_heads:
            ref = f"refs/remotes/origin/{branch}^{{commit}}"
            self._remote_heads[branch] = self._git_quiet("rev-parse", "--verify", "--quiet", ref)
        return self._remote_heads[branch]

    def push_branch(self, branch: str) -> PushVerdict:
        """Push the local ``branch`` to the same name on the remote. Never forced."""
        refspec = f"refs/heads/{branch}:refs/heads/{branch}"
        action = f"push {branch} to {self.url}"
        self._forget_remote()  # an accepted push moves the remote-tracking branch
        try:
            done = self._remote_git(
                "push", "--porcelain", "--no-verify", "origin", refspec, action=action, check=False
            )
        except GitUnavailable as exc:  # timed out: the remote may or may not have the commits
            return PushVerdict(False, True, str(exc))
        stderr = scrub(done.stderr.strip(), self._credentials)
        verdict = judge_push(done.returncode, done.stdout, stderr)
        if verdict is not None:
            return verdict
        error = done.error(action, self._credentials)
        if error.retryable:  # lost the race (or the remote blinked): the loop fetches and retries
            return PushVerdict(False, True, str(error))
        raise error from None

    def _forget_remote(self) -> None:
        self._remote_heads.clear()
        self._resolved.clear()

    # -- local ------------------------------------------------------------------

    def _git(self, *args: str, **kwargs: Any) -> str:
        try:
            return str(self._repo.git.execute(["git", *args], **kwargs))
        except GitCommandError as exc:
            raise translate(exc, f"git {args[0]} in {self.path}", self._credentials) from None

    def _status(self, *args: str) -> tuple[int, str]:
        """Run a query that answers with its exit status as much as its output."""
        status, out, _ = self._repo.git.execute(
            ["git", *args], with_exceptions=False, with_extended_output=True
        )
        return int(status), str(out).strip()

    def _git_quiet(self, *args: str) -> str | None:
        """The output of a query, or None when it exits non-zero or prints nothing."""
        status, out = self._status(*args)
        return (out or None) if status == 0 else None

    def resolve(self, revision: str) -> str:
        """Turn a remote branch name, tag or (abbreviated) SHA into a full commit SHA.

        Remote branches win over local ones: local branches in a cache clone are scratch.
        """
        if not revision or revision.startswith("-"):
            raise ConfigError(f"revision {revision!r} is not a branch, tag or commit")
        if revision in self._resolved:
            return self._resolved[revision]
        candidates = (f"refs/remotes/origin/{revision}", f"refs/tags/{revision}", revision)
        for index, candidate in enumerate(candidates):
            sha = self._git_quiet("rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}")
            if sha:
                # Kept only when nothing but a fetch or push can change the answer: a remote branch,
                # a tag, a commit SHA. A local branch (or HEAD) moves with every reset and commit.
                if index < 2 or revision == sha or revision.startswith(("refs/remotes/", "refs/tags/")):
                    self._resolved[revision] = sha
                return sha
        raise NotFoundError(f"revision {revision!r} not found in {scrub(self.url)}")

    def head_sha(self) -> str:
        """The SHA of the commit checked out now."""
        sha = self._git_quiet("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
        if sha is None:
            raise NotFoundError(f"{scrub(self.url)} has no commits checked out")
        return sha

    def checkout(self, revision: str) -> str:
        """Check out a branch, tag or SHA detached, with a clean work tree; return its SHA."""
        sha = self.resolve(revision)
        self._git("checkout", "--force", "--detach", sha)
        self._git("clean", "-ffdx")
        return sha

    def reset_branch(self, branch: str, start: str) -> None:
        """Point local ``branch`` at ``start`` and make the work tree exactly that commit."""
        self._git("checkout", "--force", "--no-track", "-B", branch, start)
        self._git("clean", "-ffdx")

    def discard_changes(self) -> None:
        """Throw away uncommitted edits: the work tree goes back to HEAD."""
        self._git("reset", "--hard", "--quiet", "HEAD")
        self._git("clean", "-ffdx")

    def commit_all(self, message: str, author: CommitAuthor) -> str | None:
        """Stage everything and commit it; None (and no commit) when the tree did not change."""
        self._git("add", "--all")
        if self._status("diff", "--cached", "--quiet")[0] == 1:
            env = {
                "GIT_AUTHOR_NAME": author.name,
                "GIT_AUTHOR_EMAIL": author.email,
                "GIT_COMMITTER_NAME": author.name,
                "GIT_COMMITTER_EMAIL": author.email,
            }
            self._git(
                "commit",
                "--quiet",
                "--no-verify",
                "--no-gpg-sign",
                "--cleanup=verbatim",
                "-m",
                message,
                env={**BASE_ENV, **env},
            )
            return self.head_sha()
        return None

    @property
    def git_dir(self) -> Path:
        return Path(self._repo.git_dir)

    def head_ref(self) -> str:
        """The branch ref checked out (``refs/heads/...``)."""
        return self._git("symbolic-ref", "--quiet", "HEAD").strip()

    def tracked_files(self) -> list[str]:
        """Every path in the index."""
        return [p for p in self._git("ls-files", "-z").split("\0") if p]

    def fast_import(self, stream: bytes) -> dict[str, str]:
        """Feed ``stream`` to ``git fast-import`` and bring the work tree to the new HEAD; its marks.

        The stream must end with ``done`` (``--done``): a cut-off stream then fails whole.
        """
        with tempfile.TemporaryDirectory(prefix="ferry-import-") as scratch:
            marks, source = Path(scratch) / "marks", Path(scratch) / "stream"
            source.write_bytes(stream)
            with source.open("rb") as stdin:
                self._git(
                    "fast-import", "--quiet", "--done", f"--export-marks={marks}", istream=stdin, env=BASE_ENV
                )
            found = dict(line.split(" ", 1) for line in marks.read_text().splitlines() if line)
        self._git("reset", "--hard", "--quiet", "HEAD")
        return found

    def commit_tree(self, base: str, files: Mapping[str, bytes], message: str = "ferry: preview") -> str:
        """A commit of ``base`` with ``files`` replaced, reachable from no branch; return its SHA.

        Work tree, index and branches stay as they are (a scratch index is used), so a
        planned edit can be rendered before it is committed for real.
        """
        sha = self.resolve(base)
        with tempfile.TemporaryDirectory(prefix="ferry-index-") as scratch:
            env = {**BASE_ENV, "GIT_INDEX_FILE": str(Path(scratch) / "index")}
            self._git("read-tree", sha, env=env)
            for index, (path, data) in enumerate(files.items()):
                staged = Path(scratch) / f"blob-{index}"
                staged.write_bytes(data)
                blob = self._git("hash-object", "-w", "--no-filters", str(staged), env=env).strip()
                entry = f"100644,{blob},{normalize_repo_path(path)}"
                self._git("update-index", "--add", "--cacheinfo", entry, env=env)
            tree = self._git("write-tree", env=env).strip()
            identity = {
                "GIT_AUTHOR_NAME": "ferry",
                "GIT_AUTHOR_EMAIL": "ferry@localhost",
                "GIT_COMMITTER_NAME": "ferry",
                "GIT_COMMITTER_EMAIL": "ferry@localhost",
            }
            return self._git("commit-tree", tree, "-p", sha, "-m", message, env={**env, **identity}).strip()

    def read(self, path: str, revision: str | None = None) -> bytes | None:
        """The bytes of ``path`` in the work tree (or at ``revision``); None when it does not exist.

        Raises:
            UnsafePathError: the path would leave the repository.
        """
        if revision is None:
            file = resolve_inside(self.path, path)
            if not file.exists():
                return None
            if not file.is_file():
                raise ConfigError("is not a regular file", key=path)
            return file.read_bytes()
        normalized = normalize_repo_path(path)
        sha = self.resolve(revision)
        try:
            blob = self._repo.commit(sha).tree / normalized
        except KeyError:
            return None
        except BadName as exc:
            raise NotFoundError(f"revision {revision!r} not found in {scrub(self.url)}") from exc
        if blob.type != "blob":
            raise ConfigError(f"is not a file at {revision}", key=path)
        data: bytes = blob.data_stream.read()
        return data

    def list_tree(self, sha: str) -> dict[str, tuple[str, str]]:
        """Every entry of commit ``sha``'s tree, subtrees included: path → (type, object SHA)."""
        listing = self._git("ls-tree", "-r", "-t", "-z", "--full-tree", sha, strip_newline_in_stdout=False)
        entries: dict[str, tuple[str, str]] = {}
        for record in listing.split("\0"):
            if record:
                meta, _, path = record.partition("\t")
                _, kind, obj = meta.split(" ", 2)
                entries[path] = (kind, obj)
        return entries

    def read_object(self, sha: str) -> bytes:
        """The content of object ``sha``, through GitPython's long-lived ``cat-file --batch``."""
        data: bytes = self._repo.odb.stream(bytes.fromhex(sha)).read()
        return data

    def log(
        self, path: str | None = None, *, revision: str | None = None, max_count: int = 20
    ) -> list[CommitInfo]:
        """The newest ``max_count`` commits reachable from ``revision`` (default HEAD), touching ``path``."""
        rev = self.resolve(revision) if revision else self.head_sha()
        paths = [normalize_repo_path(path)] if path else []
        return [
            CommitInfo(
                sha=commit.hexsha,
                message=str(commit.message),
                author_name=str(commit.author.name),
                author_email=str(commit.author.email),
                authored_at=commit.authored_datetime,
                parents=tuple(parent.hexsha for parent in commit.parents),
            )
            for commit in self._repo.iter_commits(rev, paths=paths, max_count=max_count)
        ]

    def stage_revert(self, sha: str) -> None:
        """Undo ``sha`` in the work tree and index, without committing (the first parent of a merge).

        :func:`ferry.vcs.writeback.revert` calls this once per commit inside its push loop.

        Raises:
            NotFoundError: ``sha`` is not reachable from HEAD.
            GitError: the revert conflicts with later changes; the work tree is left clean.
        """
        full = self.resolve(sha)
        if self._status("merge-base", "--is-ancestor", full, "HEAD")[0] != 0:
            raise NotFoundError(f"commit {sha} is not on the branch being reverted")
        mainline = ["-m", "1"] if len(self._repo.commit(full).parents) > 1 else []
        try:
            self._git("revert", "--no-commit", "--no-edit", *mainline, full)
        except FerryError as exc:
            self._git_quiet("revert", "--abort")
            self.discard_changes()
            raise GitError(f"reverting {sha} conflicts with later changes: {exc}") from None

    def check_branch_name(self, branch: str) -> None:
        """Refuse a branch name git would not accept (it comes from an annotation template)."""
        if branch.startswith("-") or self._git_quiet("check-ref-format", "--branch", branch) is None:
            raise ConfigError(f"{branch!r} is not a valid branch name", key="git-branch")
