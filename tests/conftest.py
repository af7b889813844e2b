"""Shared test configuration.

Fixture modules live in ``tests/fixtures`` (one per real service: registry, git,
clusters, Prefect) and are registered here as plugins, so every test directory
sees the same session-scoped servers.
"""

import os

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
