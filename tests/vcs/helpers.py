"""Builders for planned commits and transforms, shared by the Git adapter tests."""

from __future__ import annotations

from collections.abc import Callable

from ferry.vcs import CommitAuthor, FileEdit, PlannedCommit

AUTHOR = CommitAuthor("Ferry Bot", "ferry@example.com")


def set_to(content: str) -> Callable[[bytes | None], bytes | None]:
    """A transform that makes the file hold exactly ``content``."""
    return lambda _current: content.encode()


def append_line(line: str) -> Callable[[bytes | None], bytes | None]:
    """A transform that appends ``line`` unless it is already there (idempotent, like a real update)."""

    def transform(current: bytes | None) -> bytes | None:
        lines = (current or b"").decode().splitlines()
        if line in lines:
            return None
        return "\n".join([*lines, line]).encode() + b"\n"

    return transform


def planned(key: str, files: dict[str, str], message: str | None = None) -> PlannedCommit:
    """A commit that sets each of ``files`` to its content."""
    edits = tuple(FileEdit(path, set_to(content)) for path, content in files.items())
    return PlannedCommit(key, message or f"update {key}", edits)
