"""Credential references, resolved only at the moment a client needs them.

A reference is a short string in ``ferry.yaml`` or an annotation:

=============================== ==========================================================
``env:VAR``                      the environment variable ``VAR``
``file:PATH``                    the file's content (relative to the config file)
``block:<type>/<name>``          a Prefect block, e.g. ``block:secret/acr``
``secret:<ns>/<name>#<field>``   the seed's Kubernetes secret, as the Prefect ``Secret`` block
                                 ``<ns>-<name>``: a JSON object whose ``<field>`` is used
``pullsecret:<ns>/<name>``       a ``.dockerconfigjson`` in the ``Secret`` block ``<ns>-<name>``
``git:secret:<ns>/<name>``       ``username``/``password`` or ``sshPrivateKey`` in the ``Secret``
                                 block ``<ns>-<name>``
=============================== ==========================================================

A plain string value is read as ``user:password``, as a bare token, or, when
it starts with ``-----BEGIN``, as an SSH private key.

``ferry`` never imports Prefect, so block references go through a loader that
the caller passes in: every flow gets it from ``blocks.ports`` (see
:mod:`ferry.ports`). Without one (the ``ferry`` CLI), a block reference is a
clear error naming the reference.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferry.config import RepositoryConfig, repository_for
from ferry.credential import Credential
from ferry.errors import AuthenticationError, ConfigError
from ferry.vcs.credentials import GitCredentials

__all__ = ["BlockLoader", "Credential", "CredentialResolver", "credential_from_text"]

BlockLoader = Callable[[str, str], Any]
"""Loads a block by ``(type_slug, name)`` and returns its secret value (a str or a dict)."""


def credential_from_text(text: str) -> Credential:
    """Interpret a secret string.

    >>> credential_from_text("user:pa:ss")
    Credential(username='user', password='***')
    >>> credential_from_text("tok")
    Credential(username=None, password='***')
    """
    text = text.strip("\n")
    if text.lstrip().startswith("-----BEGIN"):
        return Credential(ssh_private_key=text if text.endswith("\n") else text + "\n")
    user, sep, password = text.partition(":")
    if sep:
        return Credential(username=user, password=password)
    return Credential(password=text)


def _from_mapping(data: dict[str, Any], ref: str) -> Credential:
    key = data.get("sshPrivateKey") or data.get("ssh_private_key")
    if key:
        return Credential(username=data.get("username"), ssh_private_key=str(key))
    if "password" in data or "username" in data:
        return Credential(username=data.get("username"), password=data.get("password"))
    raise ConfigError(f"secret {ref!r} has neither username/password nor sshPrivateKey")


def _docker_config_auth(config: Any, registry_host: str | None, ref: str) -> Credential:
    if isinstance(config, str):
        config = json.loads(config)
    if isinstance(config, dict) and ".dockerconfigjson" in config:
        inner = config[".dockerconfigjson"]
        config = json.loads(inner) if isinstance(inner, str) else inner
    auths = config.get("auths", {}) if isinstance(config, dict) else {}
    for host, entry in auths.items():
        bare = host.removeprefix("https://").removeprefix("http://").rstrip("/")
        if registry_host is None or bare == registry_host or bare.split("/")[0] == registry_host:
            if "auth" in entry:
                return credential_from_text(base64.b64decode(entry["auth"]).decode())
            return Credential(username=entry.get("username"), password=entry.get("password"))
    raise ConfigError(f"pull secret {ref!r} has no auths entry for {registry_host}")


def _secret_block_name(namespaced: str, ref: str) -> str:
    namespace, sep, name = namespaced.partition("/")
    if not sep or not namespace or not name or "/" in name:
        raise ConfigError(f"invalid secret reference {ref!r}: expected <namespace>/<name>")
    return f"{namespace}-{name}".lower()


@dataclass
class CredentialResolver:
    """Turns references into :class:`Credential` values; the single place secrets are read."""

    base_dir: Path = Path(".")
    block_loader: BlockLoader | None = None
    environ: dict[str, str] | None = None

    def _block(self, type_slug: str, name: str, ref: str) -> Any:
        loader = self.block_loader
        if loader is None:
            raise ConfigError(
                f"{ref!r} needs the Prefect block {type_slug}/{name}, and no block loader is available"
            )
        try:
            return loader(type_slug, name)
        except ValueError as exc:
            raise ConfigError(
                f"{ref!r}: Prefect block {type_slug}/{name} could not be loaded: {exc}"
            ) from exc

    def resolve(self, ref: str, *, registry_host: str | None = None) -> Credential:
        """Resolve one reference; raise :class:`ConfigError` naming it when it cannot be."""
        env = self.environ if self.environ is not None else os.environ
        scheme, _, rest = ref.partition(":")
        if scheme == "env":
            if rest not in env:
                raise AuthenticationError(
                    f"credential reference {ref!r}: environment variable {rest} is not set"
                )
            return credential_from_text(env[rest])
        if scheme == "file":
            path = (self.base_dir / os.path.expanduser(rest)).resolve()
            try:
                return credential_from_text(path.read_text(encoding="utf-8"))
            except OSError as exc:
                raise ConfigError(
                    f"credential reference {ref!r}: cannot read {path}: {exc.strerror}"
                ) from exc
        if scheme == "block":
            type_slug, sep, name = rest.partition("/")
            if not sep:
                raise ConfigError(f"invalid block reference {ref!r}: expected block:<type>/<name>")
            value = self._block(type_slug, name, ref)
            return _from_mapping(value, ref) if isinstance(value, dict) else credential_from_text(str(value))
        if scheme == "secret":
            namespaced, _, field_name = rest.partition("#")
            value = self._block("secret", _secret_block_name(namespaced, ref), ref)
            if isinstance(value, dict):
                if field_name:
                    if field_name not in value:
                        raise ConfigError(f"secret {ref!r} has no field {field_name!r}")
                    return credential_from_text(str(value[field_name]))
                return _from_mapping(value, ref)
            return credential_from_text(str(value))
        if scheme == "pullsecret":
            return _docker_config_auth(
                self._block("secret", _secret_block_name(rest, ref), ref), registry_host, ref
            )
        if scheme == "git" and rest.startswith("secret:"):
            value = self._block("secret", _secret_block_name(rest.removeprefix("secret:"), ref), ref)
            return _from_mapping(value, ref) if isinstance(value, dict) else credential_from_text(str(value))
        raise ConfigError(
            f"unknown credential reference {ref!r}: "
            "expected env:, file:, block:, secret:, pullsecret: or git:secret:"
        )

    def git_credentials(
        self, url: str, ref: str | None, repositories: Sequence[RepositoryConfig], *, key: str
    ) -> GitCredentials | None:
        """Credentials for a Git remote: ``ref`` when given, else the entry of ``url`` in ``repositories``.

        ``key`` names the setting that held ``ref``, for the error message.
        """
        if ref is None:
            repo = repository_for(repositories, url)
            ref = repo.credentials if repo else None
            key = "repositories.credentials"
        if ref is None:
            return None
        try:
            cred = self.resolve(ref)
        except ConfigError as exc:
            raise exc.located(key=key) from exc
        return GitCredentials(cred.username, cred.password, cred.ssh_private_key)
