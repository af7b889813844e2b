"""Credential references: env, file, block and the seed's secret forms; secrets never shown."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from ferry.credentials import Credential, CredentialResolver
from ferry.errors import AuthenticationError, ConfigError

DOCKER_CONFIG = {"auths": {"reg.example.com": {"auth": base64.b64encode(b"puller:pullpw").decode()}}}
BLOCKS: dict[tuple[str, str], Any] = {
    ("secret", "argocd-acr"): {"acr": "acruser:acrpw"},
    ("secret", "argocd-git-creds"): {"username": "gituser", "password": "gitpw"},
    ("secret", "argocd-git-ssh"): {"sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n"},
    ("secret", "argocd-pull"): {".dockerconfigjson": json.dumps(DOCKER_CONFIG)},
    ("secret", "plain"): "user:pw",
}


def fake_loader(type_slug: str, name: str) -> Any:
    try:
        return BLOCKS[(type_slug, name)]
    except KeyError:
        raise ValueError(f"no block {type_slug}/{name}") from None


@pytest.fixture
def resolver(tmp_path: Path) -> CredentialResolver:
    (tmp_path / "token").write_text("fileuser:filepw\n")
    return CredentialResolver(base_dir=tmp_path, block_loader=fake_loader, environ={"REG": "envuser:envpw"})


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("env:REG", Credential("envuser", "envpw")),
        ("file:token", Credential("fileuser", "filepw")),
        ("block:secret/plain", Credential("user", "pw")),
        ("secret:argocd/acr#acr", Credential("acruser", "acrpw")),
        ("git:secret:argocd/git-creds", Credential("gituser", "gitpw")),
        ("git:secret:argocd/git-ssh", Credential(None, None, "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n")),
        ("pullsecret:argocd/pull", Credential("puller", "pullpw")),
    ],
    ids=["env", "file", "block", "seed-acr-secret", "git-secret-userpass", "git-secret-ssh", "pull-secret"],
)
def test_references_resolve(resolver: CredentialResolver, ref: str, expected: Credential) -> None:
    assert resolver.resolve(ref, registry_host="reg.example.com") == expected


@pytest.mark.parametrize(
    ("ref", "error", "fragment"),
    [
        ("env:MISSING", AuthenticationError, "MISSING"),
        ("file:nope", ConfigError, "nope"),
        ("vault:x", ConfigError, "vault:x"),
        ("secret:argocd/acr#nofield", ConfigError, "nofield"),
        ("secret:noslash", ConfigError, "noslash"),
        ("block:secret/absent", ConfigError, "absent"),
        ("pullsecret:argocd/pull", ConfigError, "other.example.com"),
    ],
    ids=[
        "unset-env",
        "missing-file",
        "unknown-scheme",
        "missing-field",
        "no-namespace",
        "missing-block",
        "no-auth-for-host",
    ],
)
def test_bad_references_name_themselves(
    resolver: CredentialResolver, ref: str, error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error) as info:
        resolver.resolve(ref, registry_host="other.example.com")
    assert fragment in str(info.value)


def test_block_reference_without_loader_is_explained() -> None:
    resolver = CredentialResolver(block_loader=None)
    with pytest.raises(ConfigError, match="argocd-acr"):
        resolver.resolve("secret:argocd/acr#acr")


def test_repr_never_shows_secrets() -> None:
    text = repr(Credential("u", "hunter2", "-----BEGIN KEY"))
    assert "hunter2" not in text and "BEGIN" not in text and "u" in text
