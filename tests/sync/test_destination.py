"""Destination resolution: server or name to a clusters: entry; unknown ones are clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry.argocd.application import parse_application
from ferry.config import parse_config
from ferry.errors import ConfigError
from ferry.sync.clusters import ClusterResolver

KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster: {server: "https://10.0.0.3:6443"}
contexts:
- name: prod-admin
  context: {cluster: prod, user: admin}
users:
- name: admin
  user: {}
current-context: prod-admin
"""


@pytest.fixture
def resolver(tmp_path: Path) -> ClusterResolver:
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    config = parse_config(
        {
            "clusters": [
                {
                    "name": "dev",
                    "server": "https://127.0.0.1:6443/",
                    "kubeconfig": "kubeconfig",
                    "context": "dev",
                },
                {"name": "production", "kubeconfig": "kubeconfig", "context": "prod-admin"},
                {"name": "staging", "server": "https://10.0.0.2:6443", "block": "staging-cluster"},
            ]
        },
        source="ferry.yaml",
        base_dir=tmp_path,
    )
    return ClusterResolver(config)


def app(destination: dict[str, str]):
    return parse_application(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "a"},
            "spec": {"source": {"repoURL": "file:///r"}, "destination": destination},
        },
        source="t",
    )


@pytest.mark.parametrize(
    ("destination", "cluster"),
    [
        ({"server": "https://127.0.0.1:6443"}, "dev"),
        ({"server": "https://127.0.0.1:6443/"}, "dev"),
        ({"name": "staging"}, "staging"),
        ({"server": "https://10.0.0.3:6443"}, "production"),
        ({"name": "dev", "server": "https://127.0.0.1:6443"}, "dev"),
    ],
    ids=[
        "by server",
        "trailing slash",
        "by name",
        "server read from the kubeconfig context",
        "name and server agree",
    ],
)
def test_destination_resolves(resolver: ClusterResolver, destination: dict[str, str], cluster: str) -> None:
    assert resolver.cluster_for(app(destination)).name == cluster


@pytest.mark.parametrize(
    ("destination", "message"),
    [
        ({"server": "https://kubernetes.default.svc"}, "unknown destination server"),
        ({"name": "qa"}, "unknown destination cluster name 'qa'"),
        ({"name": "dev", "server": "https://10.0.0.2:6443"}, "are different clusters"),
        ({}, "names no server and no cluster name"),
    ],
    ids=["unknown server", "unknown name", "name and server disagree", "no destination"],
)
def test_bad_destination_is_a_config_error(
    resolver: ClusterResolver, destination: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        resolver.cluster_for(app(destination))
    assert raised.value.application == "a"


def test_block_without_loader_is_a_config_error(resolver: ClusterResolver) -> None:
    entry = resolver.cluster_for(app({"name": "staging"}))
    with pytest.raises(ConfigError, match="no cluster block loader"):
        resolver.connect(entry)


def test_block_loader_is_used(tmp_path: Path) -> None:
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    import yaml

    calls: list[str] = []

    def loader(name: str):
        calls.append(name)
        return yaml.safe_load(KUBECONFIG), "prod-admin"

    config = parse_config(
        {"clusters": [{"name": "p", "server": "https://10.0.0.3:6443", "block": "prod"}]},
        source="ferry.yaml",
        base_dir=tmp_path,
    )
    resolver = ClusterResolver(config, block_loader=loader)
    # The server does not exist: discovery fails as transient, after the block was loaded.
    from ferry.errors import ClusterUnavailable

    entry = config.clusters[0]
    entry = entry.model_copy(update={"request_timeout": 1.0})
    with pytest.raises(ClusterUnavailable):
        resolver.connect(entry)
    assert calls == ["prod"]
