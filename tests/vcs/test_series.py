"""A write-back's commits made in one fast-import are the commits ``git add``/``git commit`` make.

Each case writes the same planned commits into two bare repos with the same content, one
through the fast-import series and one through the work tree (the path repos with
``.gitattributes`` keep), and compares what landed: trees, messages, authors, modes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import ferry.vcs.writeback as writeback
from ferry.errors import ConfigError
from ferry.vcs import PlannedCommit, RepoCache, write_back
from ferry.vcs.series import SeriesCommit, fast_import_stream, identity_line, needs_work_tree
from tests.fixtures.git import BareRepo, BareRepoFactory, git
from tests.vcs.helpers import AUTHOR, append_line, planned

FILES = {"values-dev.yaml": "tag: v1\n", "values-prod.yaml": "tag: v1\n", "run.sh": "echo v1\n"}


def _landed(remote: BareRepo, count: int) -> list[tuple[str, ...]]:
    """Per new commit, oldest first: tree, raw message, author and committer names and e-mails."""
    out = []
    for index in reversed(range(count)):
        rev = f"HEAD~{index}"
        tree = git("rev-parse", f"{rev}^{{tree}}", cwd=remote.path).strip()
        who = git("log", "-1", "--format=%an|%ae|%cn|%ce", rev, cwd=remote.path).strip()
        body = git("cat-file", "commit", rev, cwd=remote.path).split("\n\n", 1)[1]
        out.append((tree, who, body))
    return out


def _write(remote: BareRepo, cache: RepoCache, commits: Sequence[PlannedCommit]) -> dict[str, str | None]:
    with cache.open(remote.url) as clone:
        result = write_back(clone, base_branch=None, write_branch=None, commits=commits, author=AUTHOR)
        # The work tree and index stand at the pushed head, as after `git commit`.
        assert git("status", "--porcelain", cwd=clone.path) == ""
        assert clone.head_sha() == remote.head()
    return dict(result.commits)


COMMITS = [
    planned("app-dev", {"values-dev.yaml": "tag: v2\n"}, "update dev\n\nwith a body"),
    planned("noop", {"values-prod.yaml": "tag: v1\n"}, "no change"),
    PlannedCommit(
        "app-prod",
        "update prod",
        (
            writeback.FileEdit("values-prod.yaml", append_line("extra: 1")),
            writeback.FileEdit("values-dev.yaml", append_line("seen: v2")),  # sees app-dev's commit
            writeback.FileEdit("run.sh", append_line("echo v2")),
            writeback.FileEdit("new/dir/extra.yaml", append_line("x: 1")),
        ),
    ),
]


def test_the_series_lands_what_the_work_tree_path_lands(
    bare_repo: BareRepoFactory, cache: RepoCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    landed = {}
    for way in ("series", "work tree"):
        remote = bare_repo(f"deploy-{way.replace(' ', '-')}", FILES)
        with cache.open(remote.url) as clone:  # an executable script must stay executable
            script = clone.path / "run.sh"
            os.chmod(script, 0o755)
            git("add", "run.sh", cwd=clone.path)
            git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "exec", cwd=clone.path)
            git("push", "-q", "origin", "HEAD:main", cwd=clone.path)
        series: list[str] = []
        real = writeback.commit_series

        def counted(clone: Any, commits: Any, *args: Any) -> Any:
            series.append(clone.url)  # noqa: B023 - called within this iteration only
            return real(clone, commits, *args)  # noqa: B023

        monkeypatch.setattr(writeback, "commit_series", counted)
        if way == "work tree":
            monkeypatch.setattr(writeback, "needs_work_tree", lambda *_: True)
        shas = _write(remote, cache, COMMITS)
        assert shas["noop"] is None and shas["app-dev"] and shas["app-prod"]
        assert len(series) == (1 if way == "series" else 0)
        landed[way] = _landed(remote, 2)
        modes = git("ls-tree", "HEAD", "run.sh", cwd=remote.path).split()[0]
        assert modes == "100755", way
    # Same trees (so same blobs and modes), same messages, same people; only the times may differ.
    assert landed["series"] == landed["work tree"]
    assert landed["series"][1][2] == "update prod\n"


def test_a_failed_commit_leaves_nothing_in_the_next(bare_repo: BareRepoFactory, cache: RepoCache) -> None:
    remote = bare_repo("deploy", FILES)

    def broken(_: bytes | None) -> bytes | None:
        raise ConfigError("cannot parse")

    commits = [
        PlannedCommit(
            "bad",
            "bad",
            (
                writeback.FileEdit("values-dev.yaml", append_line("half: written")),
                writeback.FileEdit("values-prod.yaml", broken),
            ),
        ),
        planned("good", {"values-prod.yaml": "tag: v2\n"}, "good"),
    ]
    shas = _write(remote, cache, commits)
    assert shas["bad"] is None and shas["good"]
    assert remote.read("values-dev.yaml") == b"tag: v1\n"
    assert remote.read("values-prod.yaml") == b"tag: v2\n"


def test_a_repo_with_attributes_is_committed_in_the_work_tree(
    bare_repo: BareRepoFactory, cache: RepoCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With eol=crlf, `git add` stores LF for what the work tree holds as CRLF; fast-import would not.
    remote = bare_repo("deploy", {**FILES, ".gitattributes": "*.yaml text eol=crlf\n"})
    monkeypatch.setattr(writeback, "commit_series", lambda *_: pytest.fail("fast-import used"))
    _write(remote, cache, [planned("app", {"values-dev.yaml": "tag: v2\r\n"})])
    assert remote.read("values-dev.yaml") == b"tag: v2\n"


@pytest.mark.parametrize(
    ("tracked", "info", "expected"),
    [
        (["a.yaml", "charts/x/values.yaml"], False, False),
        ([".gitattributes"], False, True),
        (["charts/x/.gitattributes"], False, True),
        (["charts/not.gitattributes.yaml"], False, False),
        (["a.yaml"], True, True),
    ],
)
def test_needs_work_tree(tmp_path: Path, tracked: list[str], info: bool, expected: bool) -> None:
    if info:
        (tmp_path / "info").mkdir()
        (tmp_path / "info" / "attributes").write_text("* -text\n")
    assert needs_work_tree(tracked, tmp_path) is expected


def test_the_stream_chains_the_commits_and_ends_with_done() -> None:
    commits = [
        SeriesCommit("a", "one", {"x.yaml": ("100644", b"1\n")}),
        SeriesCommit("b", "two\n", {'"odd.yaml': ("100755", b"2")}),
    ]
    who = identity_line("author", "Ferry", "f@x", when=0)
    stream = fast_import_stream("refs/heads/main", "c" * 40, commits, who, who)
    assert stream.count(b"commit refs/heads/main\n") == 2
    assert b"from " + b"c" * 40 + b"\n" in stream and b"from :1\n" in stream
    assert b"data 4\none\n" in stream and b"data 4\ntwo\n" in stream  # one newline added, none doubled
    assert b'M 100755 inline "\\"odd.yaml"\ndata 1\n2\n' in stream
    assert stream.endswith(b"done\n")


@pytest.mark.parametrize(
    ("name", "email"), [("Evil <x@y>", "a@b"), ("Ferry", "a@b>\ncommitter z"), ("A\nB", "a@b")]
)
def test_an_identity_that_would_break_the_stream_is_refused(name: str, email: str) -> None:
    with pytest.raises(ConfigError, match=r"commit\.author_"):
        identity_line("author", name, email)
