"""Every Ferry block follows Prefect's integration standards: titled, described, secrets as SecretStr."""

from __future__ import annotations

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


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.__name__)
def test_secret_fields_are_secretstr(block: type) -> None:
    for name in ("password", "ssh_private_key"):
        if name in block.model_fields:  # type: ignore[attr-defined]
            annotation = str(block.model_fields[name].annotation)  # type: ignore[attr-defined]
            assert "SecretStr" in annotation, f"{block.__name__}.{name} must be SecretStr"


def test_secrets_are_masked_until_unwrapped() -> None:
    block = GitCredentialsBlock(username="bot", password=SecretStr("hunter2"), ssh_private_key=None)
    assert "hunter2" not in repr(block) and "hunter2" not in block.model_dump_json()
    assert block.get_credentials() == Credential("bot", "hunter2", None)
    reg = RegistryCredentialsBlock(api_url="http://127.0.0.1:1", username="u", password=SecretStr("pw"))
    assert "pw'" not in repr(reg)
    assert reg.get_credentials() == Credential("u", "pw")
