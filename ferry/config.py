"""``ferry.yaml``: where the Applications are, and how to reach registries, repositories and clusters.

The ``registries`` entries take the keys of Argo CD Image Updater's
``registries.conf`` unchanged, so an existing file can be pasted in. Relative
paths are relative to the config file, so a config and its Applications can be
moved together.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from ferry import safeyaml
from ferry.errors import ConfigError
from ferry.schema.base import FrozenModel
from ferry.schema.builds import BuildRule
from ferry.schema.releases import ReleaseConfig

_DURATION = re.compile(r"^(\d+)([smhd])$")
_DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Parse Image Updater's ``credsexpire`` style durations.

    >>> parse_duration("10h")
    36000.0
    """
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"invalid duration {text!r}: expected <number><s|m|h|d>, e.g. 10h")
    return float(int(match.group(1)) * _DURATION_SECONDS[match.group(2)])


class RegistryConfig(FrozenModel):
    """One entry of ``registries:``, Image Updater's registries.conf keys."""

    name: str
    prefix: str = Field(description="Image name prefix served by this registry, e.g. 127.0.0.1:5000")
    api_url: str = Field(description="Base URL of the registry API, e.g. http://127.0.0.1:5000")
    credentials: str | None = Field(
        default=None, description="A credential reference (see ferry.credentials)"
    )
    credsexpire: str | None = None
    insecure: bool = False
    default: bool = False
    defaultns: str | None = None
    limit: float | None = Field(default=None, gt=0, description="Requests per second")

    @field_validator("credsexpire")
    @classmethod
    def _valid_duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @property
    def credentials_ttl(self) -> float | None:
        return parse_duration(self.credsexpire) if self.credsexpire else None


class RepositoryConfig(FrozenModel):
    """One deployment repository, as the Applications' ``repoURL`` names it."""

    url: str
    credentials: str | None = None


class CommitConfig(FrozenModel):
    """Who writes the commits and what they say."""

    author_name: str = "Ferry Image Updater"
    author_email: str = "ferry@localhost"
    message: str | None = None  # None: Image Updater's default template
    skip_without_effect: bool = Field(
        default=False,
        description="Leave out image changes whose write-back changes nothing the app renders "
        "(Image Updater commits them; so does Ferry by default, with a warning)",
    )
    effect_check: Literal["grouped", "exact", "off"] = Field(
        default="grouped",
        description="How write-backs are rendered to find those that change nothing: once per group of "
        "apps writing the same values into the same chart (a 'no effect' is still checked per app), "
        "per app, or not at all",
    )

    @model_validator(mode="after")
    def _skip_needs_check(self) -> CommitConfig:
        if self.skip_without_effect and self.effect_check == "off":
            raise ValueError("skip_without_effect needs an effect check: effect_check cannot be 'off'")
        return self


class ClusterConfig(FrozenModel):
    """A target cluster; ``spec.destination.server`` or ``.name`` resolves to one of these."""

    name: str
    server: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    block: str | None = Field(default=None, description="A prefect-kubernetes KubernetesClusterConfig block")
    force_conflicts: bool = Field(
        default=True, description="Server-side apply takes over fields other managers own, as Argo CD does"
    )
    request_timeout: float = Field(default=30.0, gt=0, description="Seconds per Kubernetes API request")
    labels: dict[str, str] = Field(
        default_factory=dict, description="The cluster Secret's labels, for the clusters generator"
    )
    annotations: dict[str, str] = Field(
        default_factory=dict, description="The cluster Secret's annotations, for the clusters generator"
    )
    project: str = Field(default="", description="The cluster Secret's project, the generator's {{project}}")
    max_syncs: int = Field(
        default=8, ge=1, description="Syncs and rollbacks applying to this cluster at once, on all workers"
    )


def _as_configmap_value(value: Any) -> str:
    """A ConfigMap holds strings: YAML booleans and mappings are written back as argocd-cm would hold them."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return yaml.safe_dump(value, sort_keys=False)


class FerryConfig(FrozenModel):
    """The whole ``ferry.yaml``."""

    applications: str = "applications"
    registries: tuple[RegistryConfig, ...] = ()
    repositories: tuple[RepositoryConfig, ...] = ()
    clusters: tuple[ClusterConfig, ...] = ()
    builds: tuple[BuildRule, ...] = Field(
        default=(), description="CI build rules: source repo refs to build and push (ferry.schema.builds)"
    )
    commit: CommitConfig = CommitConfig()
    releases: tuple[ReleaseConfig, ...] = Field(
        default=(), description="Release pipelines with human gates (ferry.schema.releases)"
    )
    cache_dir: str | None = None
    push_attempts: int = Field(default=5, ge=1, le=50)
    argocd_cm: str | None = Field(
        default=None,
        description="An argocd-cm ConfigMap file whose resource.customizations.* keys Ferry honours",
    )
    resource_customizations: dict[str, str] = Field(
        default_factory=dict,
        description="argocd-cm's resource.customizations.* keys, written at the top level of ferry.yaml",
    )
    base_dir: str = ""  # set by load_config: the directory of the file

    @model_validator(mode="before")
    @classmethod
    def _argocd_cm_keys(cls, data: Any) -> Any:
        # argocd-cm keys are dotted (resource.customizations.health.<group>_<kind>); teams paste them
        # into ferry.yaml as they are, so they are gathered here rather than declared one by one.
        if not isinstance(data, dict):
            return data
        keys = [
            k for k in data if isinstance(k, str) and k.split(".", 2)[:2] == ["resource", "customizations"]
        ]
        if not keys:
            return data
        gathered = {**(data.get("resource_customizations") or {})}
        gathered.update({k: _as_configmap_value(data[k]) for k in keys})
        rest = {k: v for k, v in data.items() if k not in keys}
        return {**rest, "resource_customizations": gathered}

    @field_validator("builds")
    @classmethod
    def _unique_build_names(cls, value: tuple[BuildRule, ...]) -> tuple[BuildRule, ...]:
        names = [rule.name for rule in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"build rule names must be unique: {', '.join(duplicates)}")
        return value

    @property
    def argocd_cm_path(self) -> Path | None:
        """The ``argocd_cm`` file, relative to ``ferry.yaml``."""
        return (Path(self.base_dir) / self.argocd_cm).resolve() if self.argocd_cm else None

    @property
    def applications_dir(self) -> Path:
        return (Path(self.base_dir) / self.applications).resolve()

    @property
    def cache_path(self) -> Path:
        """Clones and registry metadata: ``$FERRY_CACHE_DIR``, else ``cache_dir``, else ``~/.cache/ferry``."""
        if os.environ.get("FERRY_CACHE_DIR"):
            return Path(os.environ["FERRY_CACHE_DIR"])
        if self.cache_dir:
            return (Path(self.base_dir) / os.path.expanduser(self.cache_dir)).resolve()
        return Path.home() / ".cache" / "ferry"

    def registry_for(self, image_name: str) -> RegistryConfig | None:
        """The registry whose ``prefix`` is the longest match for ``image_name``, or None."""
        matches = [
            r
            for r in self.registries
            if image_name == r.prefix or image_name.startswith(r.prefix.rstrip("/") + "/")
        ]
        return max(matches, key=lambda r: len(r.prefix)) if matches else None

    @property
    def default_registry(self) -> RegistryConfig | None:
        """The ``default: true`` entry: it serves images that name no registry host."""
        return next((r for r in self.registries if r.default), None)

    def repository_for(self, url: str) -> RepositoryConfig | None:
        return repository_for(self.repositories, url)


def repository_for(repositories: Sequence[RepositoryConfig], url: str) -> RepositoryConfig | None:
    """The entry for ``url``, ignoring a trailing slash and ``.git``, or None."""
    normalized = url.rstrip("/").removesuffix(".git")
    for repo in repositories:
        if repo.url.rstrip("/").removesuffix(".git") == normalized:
            return repo
    return None


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}"


def parse_config(data: dict[str, Any], *, source: str, base_dir: Path) -> FerryConfig:
    """Validate a loaded ``ferry.yaml`` mapping."""
    try:
        config = FerryConfig.model_validate({**data, "base_dir": str(base_dir)})
    except ValidationError as exc:
        raise ConfigError(_validation_message(exc), source=source) from exc
    defaults = [r.name for r in config.registries if r.default]
    if len(defaults) > 1:
        raise ConfigError(f"more than one default registry: {', '.join(defaults)}", source=source)
    return config


def load_config(path: Path) -> FerryConfig:
    """Read and validate ``ferry.yaml``; errors name the file and the key."""
    try:
        data = safeyaml.load(path.read_bytes(), source=str(path)) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config: {exc}", source=str(path)) from exc
    if not isinstance(data, dict):
        raise ConfigError("config must be a mapping", source=str(path))
    return parse_config(data, source=str(path), base_dir=path.resolve().parent)
