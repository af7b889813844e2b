"""Detection: which refs a rule builds (pure table), and ls-remote against real git remotes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ferry.ci.detect import ls_remote, match_refs, parse_ls_remote
from ferry.errors import AuthenticationError, ConfigError, NotFoundError
from ferry.schema.builds import BuildRule, RefType
from ferry.vcs.credentials import GitCredentials
from tests.fixtures.git import BareRepoFactory, GitHttpServer, git

A = "a" * 40
B = "b" * 40


def _rule(**override: Any) -> BuildRule:
    base: dict[str, Any] = {
        "name": "echo",
        "repo": "file:///src.git",
        "pattern": r"^release-(?P<version>.+)$",
        "image": "127.0.0.1:5000/cidemo/echo-server",
        "tag": "{version}-{sha:6}",
    }
    return BuildRule.model_validate({**base, **override})


@pytest.mark.parametrize(
    ("rule", "refs", "tags", "ignored"),
    [
        (_rule(), {"refs/tags/release-v3": A}, ["v3-aaaaaa"], []),
        (_rule(), {"refs/tags/v3": A}, [], ["refs/tags/v3"]),
        (_rule(), {"refs/tags/xrelease-v3": A}, [], ["refs/tags/xrelease-v3"]),
        (
            _rule(pattern=r"release-(?P<version>v\d+)"),
            {"refs/tags/release-v3-rc": A},
            [],
            ["refs/tags/release-v3-rc"],
        ),
        (_rule(), {"refs/heads/release-v3": A}, [], ["refs/heads/release-v3"]),
        (_rule(ref_type="branch"), {"refs/heads/release-v4": B}, ["v4-bbbbbb"], []),
        (_rule(), {"refs/tags/release-v3/evil": A}, [], ["refs/tags/release-v3/evil"]),
        (
            _rule(),
            {"refs/tags/release-v1": A, "refs/tags/release-v2": B, "refs/tags/other": A},
            ["v1-aaaaaa", "v2-bbbbbb"],
            ["refs/tags/other"],
        ),
    ],
    ids=[
        "seed release tag",
        "tag without the release prefix is ignored",
        "pattern must match the whole name",
        "pattern without anchors still matches whole names only",
        "a branch is ignored by a tag rule",
        "branch rule",
        "captured slash makes an invalid tag: ignored",
        "several refs, one ignored",
    ],
)
def test_match_refs(rule: BuildRule, refs: dict[str, str], tags: list[str], ignored: list[str]) -> None:
    candidates, skipped = match_refs(rule, refs)
    assert [c.tag for c in candidates] == tags
    assert skipped == ignored


def test_candidate_values_and_names() -> None:
    (candidate,), _ = match_refs(_rule(), {"refs/tags/release-v3": A})
    assert candidate.reference == "127.0.0.1:5000/cidemo/echo-server:v3-aaaaaa"
    assert candidate.short_ref == "release-v3"
    assert dict(candidate.values) == {"version": "v3", "sha": A, "ref": "release-v3"}


def test_parse_ls_remote_peels_annotated_tags() -> None:
    out = f"{A}\trefs/tags/release-v1\n{B}\trefs/tags/release-v1^{{}}\n{A}\trefs/tags/light\n"
    assert parse_ls_remote(out) == {"refs/tags/release-v1": B, "refs/tags/light": A}


def test_ls_remote_file_remote_with_annotated_tag(bare_repo: BareRepoFactory, tmp_path: Path) -> None:
    repo = bare_repo("source", {"Dockerfile": "FROM scratch\n"})
    sha = repo.head()
    git("tag", "-a", "-m", "release", "release-v3", sha, cwd=repo.path)
    git("tag", "release-v4", sha, cwd=repo.path)
    tags = ls_remote(repo.url, RefType.tag, None, known_hosts=tmp_path / "kh")
    assert tags == {"refs/tags/release-v3": sha, "refs/tags/release-v4": sha}
    assert ls_remote(repo.url, RefType.branch, None, known_hosts=tmp_path / "kh") == {"refs/heads/main": sha}


def test_ls_remote_over_http_with_credentials(
    bare_repo: BareRepoFactory, git_http_server: GitHttpServer, tmp_path: Path
) -> None:
    repo = bare_repo("source", {"Dockerfile": "FROM scratch\n"})
    git("tag", "release-v3", repo.head(), cwd=repo.path)
    url = git_http_server.url_for(repo)
    good = GitCredentials(git_http_server.username, git_http_server.password)
    assert ls_remote(url, RefType.tag, good, known_hosts=tmp_path / "kh") == {
        "refs/tags/release-v3": repo.head()
    }
    wrong = GitCredentials(git_http_server.username, "not-the-password")
    with pytest.raises(AuthenticationError) as caught:
        ls_remote(url, RefType.tag, wrong, known_hosts=tmp_path / "kh")
    assert "not-the-password" not in str(caught.value)


def test_ls_remote_refuses_password_in_url_and_reports_missing_repo(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="password in its URL"):
        ls_remote("https://bot:secret@example.com/r.git", RefType.tag, None, known_hosts=tmp_path / "kh")
    with pytest.raises(NotFoundError):
        ls_remote((tmp_path / "nope.git").as_uri(), RefType.tag, None, known_hosts=tmp_path / "kh")
