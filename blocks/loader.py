"""Resolves ``block:``/``secret:`` credential references through Prefect blocks.

Registered as the ``ferry.block_loaders`` entry point, so ``ferry.credentials``
can use Prefect blocks without importing Prefect.
"""

from __future__ import annotations

from typing import Any

from prefect.blocks.core import Block
from prefect.blocks.system import Secret

from blocks.credentials import GitCredentialsBlock, RegistryCredentialsBlock


def load_block_secret(type_slug: str, name: str) -> Any:
    """Load block ``type_slug/name`` and return its secret material (a str or a dict).

    Raises:
        ValueError: the block does not exist or is of a kind that holds no credential.
    """
    block = Block.load(f"{type_slug}/{name}")
    if isinstance(block, Secret):
        return block.get()
    if isinstance(block, RegistryCredentialsBlock | GitCredentialsBlock):
        cred = block.get_credentials()
        return {
            k: v
            for k, v in {
                "username": cred.username,
                "password": cred.password,
                "sshPrivateKey": cred.ssh_private_key,
            }.items()
            if v is not None
        }
    raise ValueError(f"block {type_slug}/{name} is a {type(block).__name__}, which holds no credential")
