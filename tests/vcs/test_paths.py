"""Paths from configuration must stay inside the work tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ferry.errors import UnsafePathError
from ferry.vcs.paths import normalize_repo_path, resolve_inside

SAFE = [
    ("plain file", "values.yaml", "values.yaml"),
    ("nested", "manifests/helm/values-dev.yaml", "manifests/helm/values-dev.yaml"),
    ("leading dot slash", "./.argocd-source-app.yaml", ".argocd-source-app.yaml"),
    ("double slash", "a//b.yaml", "a/b.yaml"),
    ("dots inside a name", "a..b/c...yaml", "a..b/c...yaml"),
    ("gitignore is not .git", ".gitignore", ".gitignore"),
]

UNSAFE = [
    ("parent", "../outside.yaml", "'..'"),
    ("app name with ../", ".argocd-source-../../etc/x.yaml", "'..'"),
    ("parent that comes back", "a/../b.yaml", "'..'"),
    ("absolute", "/etc/passwd", "relative"),
    ("backslash absolute", "\\share\\x", "relative"),
    ("windows drive", "C:/x", "relative"),
    ("empty", "", "non-empty"),
    ("NUL byte", "a\x00b", "NUL"),
    ("root itself", ".", "root"),
    ("into .git", ".git/config", ".git"),
    ("into .GIT on a case-insensitive disk", "sub/.GIT/hooks/pre-commit", ".git"),
]


@pytest.mark.parametrize(("path", "expected"), [(p, e) for _, p, e in SAFE], ids=[i for i, _, _ in SAFE])
def test_safe_paths_normalize(path: str, expected: str) -> None:
    assert normalize_repo_path(path) == expected


@pytest.mark.parametrize(("path", "reason"), [(p, r) for _, p, r in UNSAFE], ids=[i for i, _, _ in UNSAFE])
def test_unsafe_paths_are_refused_naming_the_path(path: str, reason: str) -> None:
    with pytest.raises(UnsafePathError) as caught:
        normalize_repo_path(path)
    assert caught.value.key == path
    assert reason in str(caught.value)


def test_symlink_that_leaves_the_tree_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    (tmp_path / "secret").write_text("x")
    os.symlink(tmp_path / "secret", root / "link.yaml")
    os.symlink(tmp_path, root / "dir-link")
    os.symlink("/nonexistent/target", root / "dangling")
    os.symlink(root / ".git", root / "git-link")
    for path in ("link.yaml", "dir-link/secret", "dangling", "git-link/config"):
        with pytest.raises(UnsafePathError, match="resolves"):
            resolve_inside(root, path)


def test_symlink_inside_the_tree_resolves_to_its_target(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    (root / "real").mkdir(parents=True)
    os.symlink("real", root / "alias")
    assert resolve_inside(root, "alias/values.yaml") == (root / "real" / "values.yaml").resolve()


_segment = st.sampled_from(["a", "b.yaml", "..", ".", "", ".git", "x..y", "/"])


@given(st.lists(_segment, min_size=1, max_size=6))
def test_whatever_is_accepted_stays_inside(parts: list[str]) -> None:
    root = Path("/srv/tree")
    path = "/".join(parts)
    try:
        normalized = normalize_repo_path(path)
    except UnsafePathError:
        return
    joined = Path(os.path.normpath(root / normalized))
    assert joined.is_relative_to(root) and joined != root
    assert ".git" not in Path(normalized).parts
