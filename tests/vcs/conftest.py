"""Fixtures for the Git adapter tests (the git servers live in tests/fixtures/git.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry.vcs import RepoCache


@pytest.fixture
def cache(tmp_path: Path) -> RepoCache:
    """An empty clone cache."""
    return RepoCache(tmp_path / "cache")
