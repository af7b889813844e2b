"""Shared pieces of the CI tests: a fresh registry per module, the demo source repo, a config."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ferry.config import FerryConfig, parse_config
from ferry.devenv.registry import RunningRegistry, start_registry
from ferry.devenv.source import SourceRepo, build_rule, create_source_repo


@pytest.fixture(scope="module")
def ci_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    """A real Distribution registry for one test module (so 'nothing was pushed' is checkable)."""
    server = start_registry(tmp_path_factory.mktemp("ci-registry"))
    try:
        yield server
    finally:
        server.stop()


@dataclass
class CiSetup:
    """The demo source repo, the registry, and a config whose one rule builds the echo server."""

    source: SourceRepo
    registry: RunningRegistry
    root: Path

    def config(self, **override: Any) -> FerryConfig:
        rule = {**build_rule(self.source.url, self.registry.host), **override}
        data = {"builds": [rule], "cache_dir": str(self.root / "cache"), "applications": "apps"}
        return parse_config(data, source=str(self.root / "ferry.yaml"), base_dir=self.root)

    def write_config(self, **override: Any) -> Path:
        import yaml

        rule = {**build_rule(self.source.url, self.registry.host), **override}
        (self.root / "apps").mkdir(exist_ok=True)
        path = self.root / "ferry.yaml"
        path.write_text(
            yaml.safe_dump({"builds": [rule], "cache_dir": str(self.root / "cache"), "applications": "apps"})
        )
        return path


@pytest.fixture
def ci_setup(tmp_path: Path, ci_registry: RunningRegistry) -> CiSetup:
    """A fresh demo source repo (echo server on busybox) and a config pointing at ``ci_registry``."""
    return CiSetup(create_source_repo(tmp_path / "src" / "echo-server.git"), ci_registry, tmp_path)
