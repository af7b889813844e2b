"""Every Ferry block follows Prefect's integration standards: titled, described, secrets as SecretStr."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from blocks.credentials import GitCredentialsBlock, RegistryCredentialsBlock
from blocks.results import PrivateLocalFileSystem
from ferry.credentials import Credential

BLOCKS = [RegistryCredentialsBlock, GitCredentialsBlock, PrivateLocalFileSystem]


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.__name__)
def test_block_fields_have_title_and_description(block: type) -> None:
    assert block._description  # type: ignore[attr-defined]
    for name, field in block.model_fields.items():  # type: ignore[attr-defined]
        assert field.title, f"{block.__name__}.{name} has no title"
        assert field.description, f"{block.__name__}.{name} has no description"


# Every field that holds a secret, per block. A rename or a new secret field must show up here.
SECRET_FIELDS = {
    RegistryCredentialsBlock: {"password"},
    GitCredentialsBlock: {"password", "ssh_private_key"},
    PrivateLocalFileSystem: set(),
}
_SECRET_WORDS = ("password", "token", "secret", "key", "credential")


def _is_secretstr(annotation: object) -> bool:
    return annotation is SecretStr or SecretStr in getattr(annotation, "__args__", ())


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.__name__)
def test_secret_fields_are_secretstr(block: type) -> None:
    fields = block.model_fields  # type: ignore[attr-defined]
    secret = {name for name, field in fields.items() if _is_secretstr(field.annotation)}
    assert secret == SECRET_FIELDS[block]
    looks_secret = {name for name in fields if any(word in name for word in _SECRET_WORDS)}
    assert looks_secret <= secret, f"{block.__name__}: {looks_secret - secret} hold secrets as plain text"


def test_secrets_are_masked_until_unwrapped() -> None:
    password, key = "hunter2-Zq8-not-in-any-output", "-----BEGIN OPENSSH PRIVATE KEY-----\nk3y-Zq8\n"
    git = GitCredentialsBlock(username="bot", password=SecretStr(password), ssh_private_key=SecretStr(key))
    registry = RegistryCredentialsBlock(
        api_url="http://127.0.0.1:1", username="u", password=SecretStr(password)
    )
    for block in (git, registry):
        shown = [repr(block), str(block), block.model_dump_json(), json.dumps(block.model_dump(mode="json"))]
        for text in shown:
            assert password not in text and "k3y-Zq8" not in text, text
        assert "**********" in block.model_dump_json()  # masked, not dropped
    assert git.get_credentials() == Credential("bot", password, key)
    assert registry.get_credentials() == Credential("u", password)
