"""Argo CD ``Application`` manifests, parsed into frozen, validated models.

Ferry reads the same manifests a team already keeps for Argo CD, so the field
names follow ``argoproj.io/v1alpha1`` exactly (camelCase aliases). Only the
fields Ferry acts on are modelled; unknown fields are accepted and ignored, as
the Kubernetes API would keep them, so that a manifest never has to be edited
to be read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ferry import safeyaml
from ferry.appset.generators import Cluster
from ferry.argocd import applicationset
from ferry.config import FerryConfig
from ferry.errors import ConfigError

log = logging.getLogger(__name__)

API_VERSION = "argoproj.io/v1alpha1"
KIND = "Application"

# Kubernetes object names: what Argo CD accepts for an Application name. It is
# also what keeps an app name usable inside `.argocd-source-<app>.yaml`.
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class HelmParameterSpec(_Model):
    name: str
    value: str = ""
    force_string: bool = Field(default=False, alias="forceString")


class HelmSource(_Model):
    release_name: str | None = Field(default=None, alias="releaseName")
    value_files: tuple[str, ...] = Field(default=(), alias="valueFiles")
    values: str | None = None
    values_object: dict[str, Any] | None = Field(default=None, alias="valuesObject")
    parameters: tuple[HelmParameterSpec, ...] = ()
    ignore_missing_value_files: bool = Field(default=False, alias="ignoreMissingValueFiles")


class KustomizeSource(_Model):
    images: tuple[str, ...] = ()
    name_prefix: str | None = Field(default=None, alias="namePrefix")
    name_suffix: str | None = Field(default=None, alias="nameSuffix")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    namespace: str | None = None


class DirectorySource(_Model):
    recurse: bool = False
    include: str | None = None
    exclude: str | None = None


class ApplicationSource(_Model):
    repo_url: str = Field(alias="repoURL", min_length=1)
    path: str = "."
    target_revision: str = Field(default="HEAD", alias="targetRevision")
    chart: str | None = None
    helm: HelmSource | None = None
    kustomize: KustomizeSource | None = None
    directory: DirectorySource | None = None


class Destination(_Model):
    server: str | None = None
    name: str | None = None
    namespace: str | None = None


class Automated(_Model):
    prune: bool = False
    self_heal: bool = Field(default=False, alias="selfHeal")
    allow_empty: bool = Field(default=False, alias="allowEmpty")


class SyncPolicy(_Model):
    automated: Automated | None = None
    sync_options: tuple[str, ...] = Field(default=(), alias="syncOptions")

    def option(self, name: str) -> str | None:
        """The value of ``Name=value`` in ``syncOptions``, or None when absent."""
        for item in self.sync_options:
            key, _, value = item.partition("=")
            if key.strip() == name:
                return value.strip()
        return None


class ApplicationSpec(_Model):
    project: str = "default"
    source: ApplicationSource
    destination: Destination = Destination()
    sync_policy: SyncPolicy = Field(default=SyncPolicy(), alias="syncPolicy")
    revision_history_limit: int = Field(default=10, alias="revisionHistoryLimit", ge=0)


class Metadata(_Model):
    name: str
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class Application(_Model):
    """One Argo CD Application, plus the file it was read from."""

    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: Metadata
    spec: ApplicationSpec
    source_file: str = ""

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def annotations(self) -> dict[str, str]:
        return self.metadata.annotations

    @property
    def source(self) -> ApplicationSource:
        return self.spec.source

    @property
    def is_automated(self) -> bool:
        return self.spec.sync_policy.automated is not None


def _first_error_location(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}"


def parse_application(document: dict[str, Any], *, source: str) -> Application:
    """Validate one YAML document as an Application; raise :class:`ConfigError` naming file and app.

    >>> doc = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": "app-helm-dev"},
    ...        "spec": {"source": {"repoURL": "file:///r.git", "path": "manifests"}}}
    >>> parse_application(doc, source="apps.yaml").spec.source.target_revision
    'HEAD'
    """
    name = (
        (document.get("metadata") or {}).get("name") if isinstance(document.get("metadata"), dict) else None
    )
    if document.get("apiVersion") != API_VERSION:
        raise ConfigError(
            f"apiVersion must be {API_VERSION}, got {document.get('apiVersion')!r}",
            source=source,
            application=name,
        )
    try:
        app = Application.model_validate({**document, "source_file": source})
    except ValidationError as exc:
        raise ConfigError(
            f"invalid Application: {_first_error_location(exc)}", source=source, application=name
        ) from exc
    if not _DNS1123_SUBDOMAIN.match(app.name) or len(app.name) > 253:
        raise ConfigError(
            "metadata.name must be a lowercase RFC 1123 subdomain (letters, digits, '-' and '.')",
            source=source,
            application=app.name,
        )
    return app


def _documents(path: Path) -> Iterable[tuple[int, Any]]:
    try:
        docs = safeyaml.load_all(path.read_bytes(), source=str(path))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read YAML: {exc}", source=str(path)) from exc
    return enumerate(docs)


def load_applications(
    directory: Path,
    *,
    clusters: Sequence[Cluster] = (),
    trees: applicationset.TreeResolver | None = None,
) -> tuple[list[Application], list[ConfigError]]:
    """Read every Application from ``*.yaml``/``*.yml`` files under ``directory`` (recursively).

    Multi-document files are allowed, and documents of other kinds are skipped, but for
    ApplicationSets: each is expanded (over ``clusters``, and the checkouts ``trees`` gives) into
    the Applications it generates, read as if written there. One broken file or document must not
    hide the others, so errors are returned beside the applications rather than raised. Two
    Applications with the same name are an error for the second occurrence.
    """
    apps, errors, _ = load_manifests(directory, clusters=clusters, trees=trees)
    return apps, errors


def load_config_applications(config: FerryConfig) -> tuple[list[Application], list[ConfigError]]:
    """The Applications of ``config``'s ``applications`` directory; ApplicationSets expand over its clusters.

    The git generator reads the checkout holding each ApplicationSet file.
    """
    return load_applications(config.applications_dir, clusters=applicationset.config_clusters(config))


def load_manifests(
    directory: Path,
    *,
    clusters: Sequence[Cluster] = (),
    trees: applicationset.TreeResolver | None = None,
) -> tuple[list[Application], list[ConfigError], list[applicationset.LoadedApplicationSet]]:
    """:func:`load_applications`, and the ApplicationSets that generated some of them (their waves)."""
    if not directory.is_dir():
        raise ConfigError(f"applications directory {directory} does not exist")
    apps: list[Application] = []
    errors: list[ConfigError] = []
    appsets: list[applicationset.LoadedApplicationSet] = []
    seen: dict[str, str] = {}

    def add(doc: dict[str, Any], where: str) -> None:
        try:
            app = parse_application(doc, source=where)
        except ConfigError as exc:
            errors.append(exc)
            return
        if app.name in seen:
            errors.append(
                ConfigError(
                    f"duplicate Application name, first defined in {seen[app.name]}",
                    source=where,
                    application=app.name,
                )
            )
            return
        seen[app.name] = where
        apps.append(app)

    files = sorted(p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    for path in files:
        try:
            documents = list(_documents(path))
        except ConfigError as exc:
            errors.append(exc)
            continue
        for index, doc in documents:
            if doc is None:
                continue
            where = f"{path}#{index}" if len(documents) > 1 else str(path)
            if not isinstance(doc, dict):
                errors.append(ConfigError("document is not a mapping", source=where))
                continue
            if doc.get("kind") == applicationset.KIND:
                try:
                    loaded = applicationset.expand_document(
                        doc, path=path, where=where, clusters=clusters, trees=trees
                    )
                except ConfigError as exc:
                    errors.append(exc)
                    continue
                appsets.append(loaded)
                for generated in loaded.expansion.applications:
                    add(dict(generated), where)
                continue
            if doc.get("kind") != KIND:
                log.debug("skipping %s: kind %r is not Application", where, doc.get("kind"))
                continue
            add(doc, where)
    return apps, errors, appsets
