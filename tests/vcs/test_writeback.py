"""write_back against real bare repositories over file://."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ferry.errors import ConfigError, GitError, GitPushRejected, NotFoundError, UnsafePathError
from ferry.vcs import FileEdit, PlannedCommit, RepoCache, revert, write_back
from tests.fixtures.git import BareRepo, BareRepoFactory, git
from tests.vcs.helpers import AUTHOR, append_line, planned, set_to


def _push_count(remote: BareRepo, branch: str = "main") -> int:
    return len(git("reflog", "show", "--format=%H", f"refs/heads/{branch}", cwd=remote.path).split())


@pytest.fixture
def remote(bare_repo: BareRepoFactory) -> BareRepo:
    repo = bare_repo("deploy", {"values-dev.yaml": "tag: v1\n", "values-prod.yaml": "tag: v1\n"})
    # Record every ref update, so a test can count pushes.
    git("config", "core.logAllRefUpdates", "always", cwd=repo.path)
    return repo


def test_one_commit_per_application_in_a_single_push(remote: BareRepo, cache: RepoCache) -> None:
    before = remote.head()
    with cache.open(remote.url) as clone:
        result = write_back(
            clone,
            base_branch=None,
            write_branch=None,
            commits=[
                planned("app-dev", {"values-dev.yaml": "tag: v2\n"}, "update dev"),
                planned(
                    "app-prod",
                    {"values-prod.yaml": "tag: v2\n", "new/dir/extra.yaml": "x: 1\n"},
                    "update prod",
                ),
            ],
            author=AUTHOR,
        )
    assert result.pushed and result.attempts == 1 and result.branch == "main" and not result.errors
    log = remote.log()
    assert [subject for _, subject in log[:2]] == ["update prod", "update dev"]
    assert result.commits == {"app-dev": log[1][0], "app-prod": log[0][0]}
    assert git("rev-parse", f"{log[1][0]}^", cwd=remote.path).strip() == before
    assert remote.read("new/dir/extra.yaml") == b"x: 1\n"
    assert _push_count(remote) == 1, "both commits must go out in ONE push"
    who = git("log", "-1", "--format=%an|%ae|%cn|%ce", cwd=remote.path).strip()
    assert who == "Ferry Bot|ferry@example.com|Ferry Bot|ferry@example.com"


def test_nothing_changed_means_no_commit_and_no_push(remote: BareRepo, cache: RepoCache) -> None:
    commits = [
        planned("app-dev", {"values-dev.yaml": "tag: v2\n"}),
        planned("noop", {"values-prod.yaml": "tag: v1\n"}),
    ]
    with cache.open(remote.url) as clone:
        first = write_back(clone, base_branch=None, write_branch=None, commits=commits, author=AUTHOR)
        head = remote.head()
        second = write_back(clone, base_branch=None, write_branch=None, commits=commits, author=AUTHOR)
    assert first.commits["app-dev"] is not None and first.commits["noop"] is None
    assert second.commits == {"app-dev": None, "noop": None}
    assert not second.pushed
    assert remote.head() == head and _push_count(remote) == 1


def test_dry_run_pushes_nothing(remote: BareRepo, cache: RepoCache) -> None:
    head = remote.head()
    with cache.open(remote.url) as clone:
        result = write_back(
            clone,
            base_branch=None,
            write_branch=None,
            commits=[planned("app-dev", {"values-dev.yaml": "tag: v9\n"})],
            author=AUTHOR,
            dry_run=True,
        )
        assert clone.read("values-dev.yaml") == b"tag: v9\n"  # the local commit shows what would go out
    assert not result.pushed and result.commits["app-dev"] is not None
    assert remote.head() == head and _push_count(remote) == 0


def test_write_branch_is_created_from_base_then_continued(remote: BareRepo, cache: RepoCache) -> None:
    base_head = remote.head()
    with cache.open(remote.url) as clone:
        first = write_back(
            clone,
            base_branch="main",
            write_branch="image-updates",
            commits=[planned("dev", {"values-dev.yaml": "tag: v2\n"})],
            author=AUTHOR,
        )
        remote.commit({"values-prod.yaml": "tag: hotfix\n"}, "hotfix on main")
        second = write_back(
            clone,
            base_branch="main",
            write_branch="image-updates",
            commits=[planned("prod", {"values-prod.yaml": "tag: v3\n"})],
            author=AUTHOR,
        )
    assert first.branch == second.branch == "image-updates"
    assert remote.branches() == {"main", "image-updates"}
    assert remote.log("image-updates")[1][0] == first.commits["dev"]
    assert git("rev-parse", f"{first.commits['dev']}^", cwd=remote.path).strip() == base_head
    assert remote.read("values-prod.yaml", "image-updates") == b"tag: v3\n"
    assert remote.read("values-dev.yaml", "main") == b"tag: v1\n", "main must not be touched"


def test_explicit_base_branch_and_missing_base(remote: BareRepo, cache: RepoCache) -> None:
    remote.commit({"values-dev.yaml": "tag: staging\n"}, "staging branch", branch="staging")
    with cache.open(remote.url) as clone:
        result = write_back(
            clone,
            base_branch="staging",
            write_branch=None,
            commits=[planned("dev", {"values-dev.yaml": "tag: v2\n"})],
            author=AUTHOR,
        )
        assert result.branch == "staging" and remote.read("values-dev.yaml", "staging") == b"tag: v2\n"
        with pytest.raises(NotFoundError, match="nope"):
            write_back(clone, base_branch="nope", write_branch=None, commits=[], author=AUTHOR)
        with pytest.raises(ConfigError, match="branch"):
            write_back(clone, base_branch=None, write_branch="bad..name", commits=[], author=AUTHOR)


def test_a_failing_transform_fails_only_its_own_commit(remote: BareRepo, cache: RepoCache) -> None:
    def explode(_: bytes | None) -> bytes | None:
        raise ConfigError("helm path image.tag not found", key="helm.image-tag")

    broken = PlannedCommit(
        "broken",
        "half an update",
        (FileEdit("values-prod.yaml", set_to("tag: half\n")), FileEdit("values-dev.yaml", explode)),
    )
    with cache.open(remote.url) as clone:
        result = write_back(
            clone,
            base_branch=None,
            write_branch=None,
            commits=[planned("before", {"a.txt": "a\n"}), broken, planned("after", {"b.txt": "b\n"})],
            author=AUTHOR,
        )
    assert result.pushed and result.commits["broken"] is None
    assert isinstance(result.errors["broken"], ConfigError)
    assert result.errors["broken"].application == "broken"
    assert set(result.errors) == {"broken"}
    assert remote.read("a.txt") == b"a\n" and remote.read("b.txt") == b"b\n"
    assert remote.read("values-prod.yaml") == b"tag: v1\n", "the failed commit's first edit leaked"
    assert [s for _, s in remote.log()[:2]] == ["update after", "update before"]


def test_unsafe_paths_are_errors_and_nothing_escapes(
    remote: BareRepo, cache: RepoCache, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("untouched\n")
    # The repo itself carries a symlink that points out of it.
    git("clone", "--quiet", remote.url, str(tmp_path / "w"))
    os.symlink(outside, tmp_path / "w" / "evil.yaml")
    git("add", "evil.yaml", cwd=tmp_path / "w")
    git("commit", "--quiet", "-m", "add a symlink out of the repo", cwd=tmp_path / "w")
    git("push", "--quiet", "origin", "HEAD:main", cwd=tmp_path / "w")
    bad_paths = {
        "climber": "../outside.txt",
        "app-../../x": ".argocd-source-app-../../x.yaml",
        "absolute": str(outside),
        "symlink": "evil.yaml",
        "hooks": ".git/hooks/post-commit",
    }
    commits = [planned(key, {path: "pwned\n"}) for key, path in bad_paths.items()]
    with cache.open(remote.url) as clone:
        result = write_back(
            clone,
            base_branch=None,
            write_branch=None,
            commits=[*commits, planned("good", {"values-dev.yaml": "tag: v2\n"})],
            author=AUTHOR,
        )
    assert outside.read_text() == "untouched\n"
    assert remote.read("values-dev.yaml") == b"tag: v2\n"
    for key, path in bad_paths.items():
        assert isinstance(result.errors[key], UnsafePathError), key
        assert path in str(result.errors[key]), "the error must name the path"
        assert result.commits[key] is None
    assert result.commits["good"] is not None


def test_a_lost_race_reapplies_on_the_winners_tree(remote: BareRepo, cache: RepoCache) -> None:
    calls: list[bytes | None] = []

    def racing_append(current: bytes | None) -> bytes | None:
        calls.append(current)
        if len(calls) == 1:  # another writer lands between our fetch and our push
            remote.commit({"list.txt": "theirs\n"}, "their update")
        return append_line("ours")(current)

    with cache.open(remote.url) as clone:
        result = write_back(
            clone,
            base_branch=None,
            write_branch=None,
            commits=[PlannedCommit("ours", "our update", (FileEdit("list.txt", racing_append),))],
            author=AUTHOR,
        )
    assert result.attempts == 2 and result.pushed
    assert calls == [None, b"theirs\n"], "the transform must run again on the fresh contents"
    assert remote.read("list.txt") == b"theirs\nours\n"
    assert [s for _, s in remote.log()[:2]] == ["our update", "their update"]


def test_gives_up_after_max_attempts_without_forcing(remote: BareRepo, cache: RepoCache) -> None:
    def always_beaten(current: bytes | None) -> bytes | None:
        remote.commit({"other.txt": f"{os.urandom(4).hex()}\n"}, "someone else again")
        return b"ours\n"

    with cache.open(remote.url) as clone, pytest.raises(GitPushRejected, match="3 times"):
        write_back(
            clone,
            base_branch=None,
            write_branch=None,
            commits=[PlannedCommit("ours", "our update", (FileEdit("ours.txt", always_beaten),))],
            author=AUTHOR,
            max_attempts=3,
        )
    assert remote.read("ours.txt") is None
    assert [s for _, s in remote.log()[:3]] == ["someone else again"] * 3


def test_a_hook_that_refuses_is_permanent(remote: BareRepo, cache: RepoCache) -> None:
    hook = remote.path / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected branch' >&2\nexit 1\n")
    hook.chmod(0o755)
    with cache.open(remote.url) as clone, pytest.raises(GitError, match="declined"):
        write_back(
            clone,
            base_branch=None,
            write_branch=None,
            commits=[planned("dev", {"values-dev.yaml": "tag: v2\n"})],
            author=AUTHOR,
        )


def test_duplicate_keys_are_a_bug(remote: BareRepo, cache: RepoCache) -> None:
    with cache.open(remote.url) as clone, pytest.raises(ValueError, match="unique"):
        write_back(
            clone,
            base_branch=None,
            write_branch=None,
            commits=[planned("a", {"x": "1"}), planned("a", {"y": "2"})],
            author=AUTHOR,
        )


def test_revert_undoes_commits_in_one_pushed_commit(remote: BareRepo, cache: RepoCache) -> None:
    with cache.open(remote.url) as clone:
        update = write_back(
            clone,
            base_branch=None,
            write_branch=None,
            commits=[
                planned("dev", {"values-dev.yaml": "tag: v2\n"}),
                planned("prod", {"values-prod.yaml": "tag: v2\n"}),
            ],
            author=AUTHOR,
        )
        remote.commit({"unrelated.txt": "keep me\n"}, "unrelated")
        shas = [update.commits["prod"], update.commits["dev"]]
        assert all(shas)
        sha = revert(clone, [s for s in shas if s], "rollback dev and prod", AUTHOR)
        assert sha is not None and remote.head() == sha
        assert (
            remote.read("values-dev.yaml") == b"tag: v1\n" and remote.read("values-prod.yaml") == b"tag: v1\n"
        )
        assert remote.read("unrelated.txt") == b"keep me\n"
        assert remote.log()[0][1] == "rollback dev and prod"
        assert revert(clone, [s for s in shas if s], "again", AUTHOR) is None, "nothing left to revert"
        assert remote.head() == sha
        remote.commit({"side.txt": "x\n"}, "on a side branch", branch="side")
        with pytest.raises(NotFoundError, match="not on the branch"):
            revert(clone, [remote.head("side")], "wrong branch", AUTHOR)
