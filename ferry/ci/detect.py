"""Find the refs a build rule wants built, with ``git ls-remote`` only: no clone, no fetch.

:func:`ls_remote` lists the remote's refs (peeling annotated tags to their
commits), :func:`match_refs` keeps those whose short name the rule's pattern
matches and renders their image tag, and :func:`already_built` tells from the
registry whether that tag already holds an image of that very commit
(``org.opencontainers.image.revision``). Matching is pure, so it is tested by
tables; the two I/O functions are thin.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ferry.ci.template import render_tag
from ferry.errors import AuthenticationError, GitError, GitUnavailable, NotFoundError
from ferry.registry.client import RegistryClient
from ferry.schema.builds import BuildRule, RefType
from ferry.vcs.credentials import GitCredentials, git_environment, reject_secret_in_url, scrub
from ferry.vcs.process import run_git

__all__ = ["REVISION_LABEL", "BuildCandidate", "already_built", "ls_remote", "match_refs"]

logger = logging.getLogger(__name__)

REVISION_LABEL = "org.opencontainers.image.revision"
SOURCE_LABEL = "org.opencontainers.image.source"
CREATED_LABEL = "org.opencontainers.image.created"


@dataclass(frozen=True, slots=True)
class BuildCandidate:
    """One ref of a source repository that a rule maps to an image tag.

    Attributes:
        rule: the rule's name.
        ref: the full ref, ``refs/tags/release-v3``.
        sha: the commit the ref points at (annotated tags peeled).
        image: ``host/repository`` of the target.
        tag: the rendered tag.
        values: what the template saw (named groups, ``sha``, ``ref``).
    """

    rule: str
    ref: str
    sha: str
    image: str
    tag: str
    values: tuple[tuple[str, str], ...]

    @property
    def reference(self) -> str:
        """``host/repository:tag``."""
        return f"{self.image}:{self.tag}"

    @property
    def short_ref(self) -> str:
        """``release-v3`` for ``refs/tags/release-v3``."""
        return self.ref.removeprefix("refs/tags/").removeprefix("refs/heads/")


def ls_remote(
    url: str, ref_type: RefType, credentials: GitCredentials | None, *, known_hosts: Path, timeout: float = 60
) -> dict[str, str]:
    """The remote's refs of one kind: full ref name → commit SHA (annotated tags peeled).

    Raises:
        ConfigError: the URL carries a password.
        AuthenticationError, NotFoundError, GitUnavailable, GitError.
    """
    reject_secret_in_url(url)
    kind = "--tags" if ref_type is RefType.tag else "--heads"
    with git_environment(url, credentials, known_hosts=known_hosts) as env:
        # run_git kills the whole process group at the deadline: the http/ssh helper too.
        done = run_git(
            ["ls-remote", kind, "--", url],
            cwd=Path("/"),  # outside any repository, whose config git would read
            env={**_base_env(), **env},
            timeout=timeout,
            action=f"git ls-remote {url}",
            credentials=credentials,
        )
    if done.returncode != 0:
        raise _ls_remote_error(url, done.stderr, credentials)
    return parse_ls_remote(done.stdout)


def _base_env() -> dict[str, str]:
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0"}


def _ls_remote_error(url: str, stderr: str, credentials: GitCredentials | None) -> Exception:
    text = scrub(stderr.strip() or "no message", credentials)
    message = f"git ls-remote {scrub(url, credentials)} failed: {text}"
    lowered = text.lower()
    if any(
        s in lowered
        for s in (
            "authentication failed",
            "could not read username",
            "permission denied",
            "terminal prompts disabled",
            "returned error: 401",
            "returned error: 403",
        )
    ):
        return AuthenticationError(message)
    if any(
        s in lowered for s in ("not found", "does not appear to be a git repository", "returned error: 404")
    ):
        return NotFoundError(message)
    if any(
        s in lowered
        for s in (
            "could not resolve host",
            "connection refused",
            "timed out",
            "unable to access",
            "returned error: 5",
            "hung up",
        )
    ):
        return GitUnavailable(message)
    return GitError(message)


def parse_ls_remote(output: str) -> dict[str, str]:
    """Parse ``git ls-remote`` output; a peeled ``^{}`` line wins over its tag object.

    >>> parse_ls_remote("aaa\\trefs/tags/v1\\nbbb\\trefs/tags/v1^{}\\nccc\\trefs/tags/v2\\n")
    {'refs/tags/v1': 'bbb', 'refs/tags/v2': 'ccc'}
    """
    refs: dict[str, str] = {}
    peeled: dict[str, str] = {}
    for line in output.splitlines():
        sha, _, name = line.strip().partition("\t")
        if not sha or not name:
            continue
        if name.endswith("^{}"):
            peeled[name[:-3]] = sha
        else:
            refs[name] = sha
    return {name: peeled.get(name, sha) for name, sha in refs.items()}


def match_refs(rule: BuildRule, refs: Mapping[str, str]) -> tuple[list[BuildCandidate], list[str]]:
    """The refs ``rule`` builds, and the refs it ignores (as full names).

    A ref is ignored when its kind is not the rule's, its short name does not
    fully match the pattern, or the rendered tag is not a valid image tag (the
    latter is logged at WARNING: the pattern probably captures too much).
    """
    regex = rule.regex
    template = rule.tag_template
    prefix = rule.ref_type.prefix
    candidates: list[BuildCandidate] = []
    ignored: list[str] = []
    for ref, sha in sorted(refs.items()):
        if not ref.startswith(prefix):
            ignored.append(ref)
            continue
        short = ref[len(prefix) :]
        match = regex.fullmatch(short)
        if match is None:
            ignored.append(ref)
            continue
        values: dict[str, str | None] = {**match.groupdict(), "sha": sha, "ref": short}
        tag = render_tag(template, values)
        if tag is None:
            logger.warning(
                "build rule '%s': ref %s renders tag %r, which is not a valid image tag; skipped",
                rule.name,
                ref,
                template.render(values),
            )
            ignored.append(ref)
            continue
        candidates.append(
            BuildCandidate(
                rule=rule.name,
                ref=ref,
                sha=sha,
                image=rule.image,
                tag=tag,
                values=tuple(sorted((k, v or "") for k, v in values.items())),
            )
        )
    return candidates, ignored


def already_built(client: RegistryClient, repository: str, candidate: BuildCandidate) -> bool:
    """True when the candidate's tag exists and carries the candidate's commit as its revision label."""
    labels = client.image_labels(repository, candidate.tag)
    if labels is None:
        return False
    revision = labels.get(REVISION_LABEL)
    if revision == candidate.sha:
        return True
    logger.info(
        "%s exists with revision %s, not %s: it will be rebuilt",
        candidate.reference,
        revision or "(no label)",
        candidate.sha[:12],
    )
    return False
