"""Shared test configuration.

Fixture modules live in ``tests/fixtures`` (one per real service: registry, git,
clusters, Prefect) and are registered here as plugins, so every test directory
sees the same session-scoped servers.
"""

import os

import pytest
from hypothesis import settings

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

# Hypothesis' default 200 ms deadline per example is a wall-clock bound: on this shared 2-core
# machine under load it fails correct code (seen at load 13). Speed belongs in bench/.
settings.register_profile("ferry", deadline=None)
settings.load_profile("ferry")

pytest_plugins: list[str] = [
    "tests.fixtures.needs",
    "tests.fixtures.oracles",
    "tests.fixtures.registry",
    "tests.fixtures.git",
    "tests.fixtures.clusters",
    "tests.fixtures.prefect",
    "tests.fixtures.prometheus",
    "tests.fixtures.deployed",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The PostgreSQL group runs last (a stable sort, on top of pytest-randomly's shuffle).

    Its deployed system installs into the session's clusters, and every other deployed-system
    test expects those as the session's own system left them (CI saw the chain test find
    Staging on the PostgreSQL system's v5 when that module happened to run first).
    """
    items.sort(key=lambda item: item.get_closest_marker("postgres") is not None)
