"""Prefect blocks for Ferry's credentials, and the private result storage.

Clusters reuse ``prefect-kubernetes``' ``KubernetesClusterConfig`` and plain
secrets reuse Prefect's ``Secret`` block, so only what those do not cover is
defined here.
"""

from blocks.credentials import GitCredentialsBlock, RegistryCredentialsBlock
from blocks.results import PrivateLocalFileSystem

__all__ = ["GitCredentialsBlock", "PrivateLocalFileSystem", "RegistryCredentialsBlock"]
