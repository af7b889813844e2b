"""ferry.yaml: registries.conf keys, relative paths, and errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry.config import load_config
from ferry.errors import ConfigError


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ferry.yaml"
    path.write_text(text)
    return path


def test_registries_conf_keys_and_lookup(tmp_path: Path) -> None:
    cfg = load_config(
        _config(
            tmp_path,
            """
applications: apps
registries:
  - {name: acr, prefix: reg.example.com, api_url: https://reg.example.com,
     credentials: "secret:argocd/acr#acr",
     credsexpire: 10h, insecure: false, default: true, defaultns: library, limit: 20}
  - {name: local, prefix: 127.0.0.1:5000, api_url: http://127.0.0.1:5000}
repositories:
  - {url: "git@github.com:ivan-cai/gitops-demo.git", credentials: "git:secret:argocd/git-creds"}
""",
        )
    )
    assert cfg.applications_dir == (tmp_path / "apps").resolve()
    assert cfg.registries[0].credentials_ttl == 36000
    assert cfg.registry_for("127.0.0.1:5000/cidemo/echo-server").name == "local"  # type: ignore[union-attr]
    assert cfg.registry_for("nginx") is None  # no prefix matches; registry_target applies the default
    assert cfg.default_registry is not None and cfg.default_registry.name == "acr"
    repo = cfg.repository_for("git@github.com:ivan-cai/gitops-demo")
    assert repo is not None and repo.credentials == "git:secret:argocd/git-creds"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("registries:\n  - {name: x, prefix: p}\n", "registries.0.api_url"),
        ("registries:\n  - {name: x, prefix: p, api_url: u, credsexpire: soon}\n", "soon"),
        ("registries:\n  - {name: x, prefix: p, api_url: u, limit: 0}\n", "limit"),
        (
            "registries:\n  - {name: x, prefix: p, api_url: u, default: true}\n"
            "  - {name: y, prefix: q, api_url: u, "
            "default: true}\n",
            "more than one default",
        ),
        ("bogus: 1\n", "bogus"),
        ("- a\n- b\n", "mapping"),
        ("a: [\n", "cannot read"),
    ],
    ids=[
        "missing-api-url",
        "bad-duration",
        "zero-limit",
        "two-defaults",
        "unknown-key",
        "not-mapping",
        "bad-yaml",
    ],
)
def test_invalid_config_names_file_and_key(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_config(tmp_path, text))
    assert "ferry.yaml" in str(info.value)
    assert fragment in str(info.value)
