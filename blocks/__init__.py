"""Prefect blocks for Ferry's credentials.

Clusters reuse ``prefect-kubernetes``' ``KubernetesClusterConfig`` and plain
secrets reuse Prefect's ``Secret`` block, so only what those do not cover is
defined here.
"""

from blocks.credentials import GitCredentialsBlock, RegistryCredentialsBlock

__all__ = ["GitCredentialsBlock", "RegistryCredentialsBlock"]
