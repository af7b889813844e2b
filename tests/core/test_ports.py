"""The ports: every engine, resolver and hold reader built from one value reaches the loaders it carries.

The CLI's ports (:data:`ferry.ports.NO_PORTS`) carry none: a Prefect block is then a
configuration error that names the setting holding it, and Prefect is never asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from ferry.argocd.application import parse_application
from ferry.cli import app as cli
from ferry.config import FerryConfig, parse_config
from ferry.errors import ConfigError
from ferry.ports import NO_PORTS, Ports

APPLICATION = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Application",
    "metadata": {"name": "web"},
    "spec": {
        "source": {"repoURL": "file:///nowhere.git", "path": "."},
        "destination": {"name": "staging", "namespace": "web"},
    },
}


def config(tmp_path: Path) -> FerryConfig:
    (tmp_path / "applications").mkdir()
    (tmp_path / "applications" / "web.yaml").write_text(yaml.safe_dump(APPLICATION))
    raw = {
        "applications": "applications",
        "cache_dir": str(tmp_path / "cache"),
        "clusters": [{"name": "staging", "server": "https://10.0.0.2:6443", "block": "staging-cluster"}],
    }
    (tmp_path / "ferry.yaml").write_text(yaml.safe_dump(raw))
    return parse_config(raw, source="ferry.yaml", base_dir=tmp_path)


class Recorder:
    """Fake block loaders: record each block asked for, and find none."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def cluster(self, name: str) -> tuple[dict[str, Any], str | None]:
        self.asked.append(f"cluster {name}")
        raise ValueError("no such block")

    def secret(self, type_slug: str, name: str) -> Any:
        self.asked.append(f"secret {type_slug}/{name}")
        raise ValueError("no such block")


def test_engines_resolvers_and_hold_readers_all_use_the_ports_loaders(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    fake = Recorder()
    ports = Ports(secret_blocks=fake.secret, cluster_blocks=fake.cluster)
    web = parse_application(APPLICATION, source="t")
    with ports.engine(cfg) as engine, pytest.raises(ConfigError, match="could not be loaded: no such block"):
        engine.connect("web")
    with ports.held_tags(cfg) as holds, pytest.raises(ConfigError, match="could not be loaded"):
        holds.for_app(web)
    with pytest.raises(ConfigError, match="could not be loaded"):
        ports.credentials(cfg).resolve("block:secret/acr")
    assert fake.asked == ["cluster staging-cluster", "cluster staging-cluster", "secret secret/acr"]


def test_without_ports_a_block_is_a_config_error_naming_its_setting(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    with NO_PORTS.engine(cfg) as engine, pytest.raises(ConfigError) as raised:
        engine.connect("web")
    assert raised.value.key == "clusters.staging.block"
    assert "no cluster block loader" in str(raised.value)
    with pytest.raises(ConfigError, match="'block:secret/acr' needs the Prefect block secret/acr"):
        NO_PORTS.credentials(cfg).resolve("block:secret/acr")
    # The updater must not write back over a hold it cannot read.
    with NO_PORTS.held_tags(cfg) as holds, pytest.raises(ConfigError, match="no cluster block loader"):
        holds.for_app(parse_application(APPLICATION, source="t"))


def test_the_cli_says_which_cluster_needs_a_block_and_exits_2(tmp_path: Path) -> None:
    config(tmp_path)
    result = CliRunner().invoke(cli, ["rollback", "web", "--config", str(tmp_path / "ferry.yaml")])
    assert result.exit_code == 2, result.output
    assert "staging-cluster" in result.output and "no cluster block loader" in result.output
