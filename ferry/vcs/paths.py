"""Keep every file Ferry touches inside the work tree it belongs to.

Paths come from annotations and application names, so they are untrusted:
``../../etc/passwd``, an absolute path, a symlink that points out of the repo
or a path into ``.git`` (whose config and hooks would run code) are refused
before anything is read or written.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from ferry.errors import UnsafePathError

__all__ = ["check_symlinks", "normalize_repo_path", "resolve_directory", "resolve_inside"]


def normalize_repo_path(path: str) -> str:
    """Check a repo-relative path lexically and return it in canonical POSIX form.

    No filesystem access: this is what a path inside a Git tree must look like.

    >>> normalize_repo_path("./manifests//values.yaml")
    'manifests/values.yaml'
    >>> normalize_repo_path("../outside.yaml")
    Traceback (most recent call last):
    ...
    ferry.errors.UnsafePathError: '../outside.yaml': path must not contain '..'
    """
    if not path or "\x00" in path:
        raise UnsafePathError("path must be non-empty and free of NUL bytes", key=path)
    if path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":" and path[0].isalpha()):
        raise UnsafePathError("path must be relative to the repository root", key=path)
    pure = PurePosixPath(path)
    # Refuse '..' even when it would come back inside: such a path has no honest use here.
    if ".." in pure.parts:
        raise UnsafePathError("path must not contain '..'", key=path)
    if any(part.lower() == ".git" for part in pure.parts):
        raise UnsafePathError("path must not point into .git", key=path)
    normalized = pure.as_posix()
    if normalized in ("", "."):
        raise UnsafePathError("path names the repository root, not a file", key=path)
    return normalized


def resolve_inside(root: Path, path: str) -> Path:
    """Resolve ``path`` against the work tree ``root``, following symlinks, and insist it stays inside.

    Args:
        root: the work tree root.
        path: a repo-relative path from configuration.

    Returns:
        The absolute, symlink-free path of the file (which need not exist yet).

    Raises:
        UnsafePathError: the path is absolute, climbs out with ``..``, points into
            ``.git``, or passes through a symlink that leads outside the work tree.
    """
    normalized = normalize_repo_path(path)
    real_root = root.resolve()
    # strict=False resolves every existing component, dangling symlinks included,
    # so a link to /etc/passwd that does not exist yet is still caught.
    resolved = (real_root / normalized).resolve(strict=False)
    if resolved == real_root or not resolved.is_relative_to(real_root):
        raise UnsafePathError("path resolves outside the repository (through a symlink?)", key=path)
    first = resolved.relative_to(real_root).parts[0]
    if first.lower() == ".git":
        raise UnsafePathError("path resolves into .git (through a symlink?)", key=path)
    return resolved


def resolve_directory(root: Path, path: str) -> Path:
    """Like :func:`resolve_inside`, but ``""``, ``.`` and ``./`` name the root itself.

    ``spec.source.path: .`` is Argo CD's default: the app lives at the repository root.
    """
    if PurePosixPath(path or ".").as_posix() == ".":
        return root.resolve()
    return resolve_inside(root, path)


def _escapes(real_root: Path, candidate: Path) -> bool:
    return candidate != real_root and not candidate.is_relative_to(real_root)


def check_symlinks(root: Path) -> None:
    """Refuse a tree holding a symlink that leaves ``root``, as Argo CD's repo-server does.

    Every symlink is checked, whether or not anything reads it: a template, a
    ``.Files.Get`` target or a manifest may each be one, and the tools follow
    them. As in Argo CD, absolute links are refused outright (they cannot point
    into a checkout that moves); a relative one is refused when its target,
    taken lexically or resolved through further links, lies outside the root.
    Directory links are not descended into, their own target is what counts.

    Raises:
        UnsafePathError: naming the first offending link, repo-relative. Its
            target is not shown: it is a path on this machine, not the repo's.
    """
    real_root = root.resolve()
    for directory, subdirs, files in os.walk(real_root, followlinks=False):
        for name in sorted([*subdirs, *files]):
            link = Path(directory) / name
            if not link.is_symlink():
                continue
            relative = link.relative_to(real_root).as_posix()
            target = os.readlink(link)
            lexical = Path(os.path.normpath(os.path.join(directory, target)))
            if os.path.isabs(target) or _escapes(real_root, lexical) or _escapes(real_root, link.resolve()):
                raise UnsafePathError(
                    "symlink points outside the repository; refusing to render", key=relative
                )
