"""Credential blocks for registries and Git remotes.

Secrets are ``SecretStr`` fields and are unwrapped only inside ``get_client()``
/ ``get_credentials()``, the moment a client is built, so they never reach a
log line, a repr or a flow parameter.
"""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from ferry.credentials import Credential
from ferry.registry.cache import MetadataCache
from ferry.registry.client import RegistryClient


class RegistryCredentialsBlock(Block):
    """Access to one container registry (Image Updater's ``registries.conf`` entry plus its secret).

    Example:
        ```python
        from blocks import RegistryCredentialsBlock
        client = RegistryCredentialsBlock.load("acr").get_client()
        print(client.list_tags("cidemo/echo-server"))
        ```
    """

    _block_type_name = "Ferry Registry Credentials"
    _block_type_slug = "ferry-registry-credentials"
    _description = "Username and password (or token) for an OCI registry that Ferry reads tags from."

    api_url: str = Field(
        ..., title="API URL", description="Registry API base URL, e.g. https://reg.example.com"
    )
    username: str | None = Field(default=None, title="Username", description="Registry user name")
    password: SecretStr | None = Field(default=None, title="Password", description="Password or access token")
    insecure: bool = Field(
        default=False, title="Insecure", description="Allow plain HTTP and skip TLS checks"
    )
    limit: float | None = Field(default=None, title="Rate limit", description="Requests per second", gt=0)

    def get_credentials(self) -> Credential:
        """The credential as Ferry's core uses it (the only place the password is unwrapped)."""
        return Credential(self.username, self.password.get_secret_value() if self.password else None)

    def get_client(self, cache: MetadataCache | None = None) -> RegistryClient:
        """A registry client authenticated with this block's credentials."""
        cred = self.get_credentials()
        return RegistryClient(
            self.api_url,
            username=cred.username,
            password=cred.password,
            insecure=self.insecure,
            limit=self.limit,
            cache=cache,
        )


class GitCredentialsBlock(Block):
    """Credentials for a Git remote: username and password/token, or an SSH private key.

    Example:
        ```python
        from blocks import GitCredentialsBlock
        creds = GitCredentialsBlock.load("gitops-demo").get_credentials()
        ```
    """

    _block_type_name = "Ferry Git Credentials"
    _block_type_slug = "ferry-git-credentials"
    _description = "Credentials Ferry uses to fetch from and push to a deployment repository."

    username: str | None = Field(default=None, title="Username", description="User name for HTTP(S) remotes")
    password: SecretStr | None = Field(default=None, title="Password", description="Password or access token")
    ssh_private_key: SecretStr | None = Field(
        default=None,
        title="SSH private key",
        description="OpenSSH private key for ssh:// and scp-like remotes",
    )

    def get_credentials(self) -> Credential:
        """The credential as Ferry's core uses it (the only place secrets are unwrapped)."""
        return Credential(
            self.username,
            self.password.get_secret_value() if self.password else None,
            self.ssh_private_key.get_secret_value() if self.ssh_private_key else None,
        )
