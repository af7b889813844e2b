"""The files the ``git`` generator reads: a local checkout, and nothing outside it.

Argo CD's repo server lists a revision's directories (hidden ones and the root left out) and the
files a pattern names (``git ls-files -- <pattern>``, where ``*`` also matches ``/`` and a
directory names every file under it). :class:`DirectoryTree` does the same over a work tree on
disk. The deploy repo is not trusted: a pattern with ``..`` or a leading ``/`` is refused, symlinks
are never followed out of the root, and ``.git`` is never listed.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from ferry.errors import ConfigError

__all__ = ["DirectoryTree", "Tree", "check_pattern"]


class Tree(Protocol):
    """What the ``git`` generator needs of one repository revision."""

    def directories(self) -> list[str]:
        """Every directory, relative, ``/``-separated, in the order a depth-first lexical walk finds them."""
        ...

    def files(self, pattern: str) -> list[str]:
        """The files ``pattern`` names, relative and sorted."""
        ...

    def read(self, path: str) -> bytes:
        """The content of one file that :meth:`files` listed."""
        ...


def check_pattern(pattern: str, where: str) -> None:
    """Refuse a path pattern that could name something outside the repository."""
    if pattern.startswith("/"):
        raise ConfigError(f"{where} {pattern!r}: an absolute path is not allowed")
    if ".." in PurePosixPath(pattern).parts:
        raise ConfigError(f"{where} {pattern!r}: '..' is not allowed")


def pathspec_matches(pattern: str, path: str) -> bool:
    """Git's pathspec match: a glob whose ``*`` crosses ``/``, or a leading directory.

    >>> pathspec_matches("cluster-config/*/config.json", "cluster-config/eu/west/config.json")
    True
    """
    if pattern in (".", "", "*"):
        return True
    stripped = pattern.rstrip("/")
    return fnmatch.fnmatchcase(path, stripped) or path.startswith(stripped + "/")


@dataclass(frozen=True)
class DirectoryTree:
    """A checkout on disk at ``root``."""

    root: Path

    def _real_root(self) -> Path:
        return self.root.resolve()

    def _walk(self) -> Iterator[tuple[str, list[str], list[str]]]:
        root = self._real_root()
        for current, dirs, files in os.walk(root, followlinks=False):
            # Hidden directories (.git first of all) are skipped, as the repo server does by default.
            dirs[:] = sorted(
                d for d in dirs if not d.startswith(".") and not (Path(current) / d).is_symlink()
            )
            relative = Path(current).relative_to(root).as_posix()
            yield relative, dirs, sorted(files)

    def directories(self) -> list[str]:
        out: list[str] = []
        for relative, dirs, _ in self._walk():
            out.extend(d if relative == "." else f"{relative}/{d}" for d in dirs)
        # os.walk is breadth-first per level; Go's WalkDir is depth-first in lexical order.
        return sorted(out, key=lambda p: p.split("/"))

    def files(self, pattern: str) -> list[str]:
        check_pattern(pattern, "path")
        out: list[str] = []
        for relative, _, files in self._walk():
            for name in files:
                path = name if relative == "." else f"{relative}/{name}"
                if pathspec_matches(pattern, path):
                    out.append(path)
        return sorted(out)

    def read(self, path: str) -> bytes:
        check_pattern(path, "path")
        root = self._real_root()
        target = (root / path).resolve()
        if not target.is_relative_to(root):
            raise ConfigError(f"{path}: resolves outside the repository checkout")
        try:
            return target.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from exc
