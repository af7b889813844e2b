"""Shared test configuration.

Fixture modules live in ``tests/fixtures`` (one per real service: registry, git,
clusters, Prefect) and are registered here as plugins, so every test directory
sees the same session-scoped servers.
"""

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

pytest_plugins: list[str] = [
    "tests.fixtures.registry",
    "tests.fixtures.git",
    "tests.fixtures.clusters",
    "tests.fixtures.prefect",
    "tests.fixtures.deployed",
]
