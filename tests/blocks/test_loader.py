"""Credential references resolved through real Prefect blocks, with the loader the flows' ports use."""

from __future__ import annotations

import json

import pytest
from prefect.blocks.system import Secret
from pydantic import SecretStr

from blocks.credentials import GitCredentialsBlock, RegistryCredentialsBlock
from blocks.ports import load_block_secret
from ferry.credentials import Credential, CredentialResolver
from ferry.errors import ConfigError


@pytest.fixture(scope="module")
def saved_blocks(prefect_harness: str) -> None:
    Secret(value={"acr": "acruser:acrpass"}).save("argocd-acr", overwrite=True)
    Secret(value={"username": "git", "password": "gitpass"}).save("argocd-git-creds", overwrite=True)
    auths = {"auths": {"reg.example.com": {"username": "puller", "password": "pullpass"}}}
    Secret(value={".dockerconfigjson": json.dumps(auths)}).save("argocd-pull", overwrite=True)
    GitCredentialsBlock(username="bot", password=SecretStr("botpass")).save("deploy", overwrite=True)
    RegistryCredentialsBlock(api_url="https://reg.example.com", username="r", password=SecretStr("rp")).save(
        "reg", overwrite=True
    )


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("secret:argocd/acr#acr", Credential("acruser", "acrpass")),
        ("git:secret:argocd/git-creds", Credential("git", "gitpass")),
        ("pullsecret:argocd/pull", Credential("puller", "pullpass")),
        ("block:ferry-git-credentials/deploy", Credential("bot", "botpass")),
        ("block:ferry-registry-credentials/reg", Credential("r", "rp")),
    ],
    ids=["seed-acr-secret", "seed-git-secret", "pull-secret", "git-block", "registry-block"],
)
def test_references_resolve_through_prefect_blocks(
    saved_blocks: None, ref: str, expected: Credential
) -> None:
    resolver = CredentialResolver(block_loader=load_block_secret)
    assert resolver.resolve(ref, registry_host="reg.example.com") == expected


def test_missing_block_names_it(saved_blocks: None) -> None:
    with pytest.raises(ConfigError, match="secret/argocd-nope"):
        CredentialResolver(block_loader=load_block_secret).resolve("secret:argocd/nope#x")
