"""The Application source as Argo CD's repo-server sees it: its type, and the spec plus the override files.

Both the image updater and the sync engine read sources this way, so it lives
with the Application model rather than in either of them.

The type is detected as Argo CD does: an explicit ``helm``/``chart`` or
``kustomize`` in the spec first, then ``Chart.yaml`` or a kustomization file in
the source path, else a plain directory.

Argo CD's repo-server (``mergeSourceParameters``) marshals ``spec.source`` to
JSON, applies ``.argocd-source.yaml`` and then ``.argocd-source-<app>.yaml``
from the source directory as RFC 7386 JSON merge patches, and decodes the
result with Go's ``encoding/json``. Three consequences are reproduced here:

* lists are replaced wholesale: an override's ``helm.parameters`` replaces the
  spec's parameters rather than adding to them;
* ``null`` in an override deletes the key;
* struct field names match case-insensitively, which is why Image Updater's
  ``forcestring: true`` (yaml.v2's lower-casing) still means ``forceString``.

``repoURL``, ``path``, ``targetRevision`` and ``chart`` can never be changed by
an override: the repo-server restores them afterwards, and so does Ferry.
"""

from __future__ import annotations

import posixpath
from enum import Enum
from typing import Any, Protocol

import yaml
from pydantic import ValidationError

from ferry import safeyaml
from ferry.argocd.application import Application, ApplicationSource
from ferry.errors import ConfigError, UnsafePathError
from ferry.writeback import argocd_source

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

#: The JSON names of ApplicationSource's struct fields, per nested struct. Keys of
#: user data (``valuesObject``, ``commonLabels``) are maps in Go and keep their case.
_STRUCT_FIELDS: dict[str, tuple[str, ...]] = {
    "source": ("repoURL", "path", "targetRevision", "chart", "helm", "kustomize", "directory"),
    "helm": ("releaseName", "valueFiles", "values", "valuesObject", "parameters", "ignoreMissingValueFiles"),
    "parameters": ("name", "value", "forceString"),
    "kustomize": ("images", "namePrefix", "nameSuffix", "commonLabels", "commonAnnotations", "namespace"),
    "directory": ("recurse", "include", "exclude"),
}
_NESTED = {"helm", "kustomize", "directory"}
_PINNED = ("repoURL", "path", "targetRevision", "chart")


class RepoView(Protocol):
    """A read-only snapshot of the deploy repo at one revision."""

    def read(self, path: str) -> bytes | None: ...


class SourceType(Enum):
    HELM = "helm"
    KUSTOMIZE = "kustomize"
    DIRECTORY = "directory"


def repo_path(*parts: str) -> str:
    """Join repo-relative paths, refusing anything that leaves the repo."""
    joined = posixpath.normpath(posixpath.join(*[p.lstrip("/") if i else p for i, p in enumerate(parts)]))
    if joined.startswith("../") or joined == ".." or joined.startswith("/"):
        raise UnsafePathError(f"path {'/'.join(parts)!r} leaves the repository")
    return "" if joined == "." else joined


def source_type(app: Application, view: RepoView) -> SourceType:
    """Helm, Kustomize or a plain directory: explicit spec first, then the files, as Argo CD detects it."""
    source = app.source
    if source.helm is not None or source.chart:
        return SourceType.HELM
    if source.kustomize is not None:
        return SourceType.KUSTOMIZE
    base = repo_path(source.path)
    if view.read(repo_path(base, "Chart.yaml")) is not None:
        return SourceType.HELM
    if any(view.read(repo_path(base, f)) is not None for f in KUSTOMIZATION_FILES):
        return SourceType.KUSTOMIZE
    return SourceType.DIRECTORY


def override_paths(app: Application) -> tuple[str, str]:
    """The app-specific and the shared ``.argocd-source`` files of the app's source path."""
    base = repo_path(app.source.path)
    return (
        argocd_source.default_target_path(app.name, base),
        repo_path(base, ".argocd-source.yaml"),
    )


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 JSON merge patch; neither argument is modified.

    >>> merge_patch({"a": {"b": 1, "c": 2}, "l": [1, 2]}, {"a": {"b": None, "d": 3}, "l": [9]})
    {'a': {'c': 2, 'd': 3}, 'l': [9]}
    >>> merge_patch({"a": 1}, "scalar")
    'scalar'
    """
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _fold_case(data: Any, struct: str) -> Any:
    """Rename keys of a Go struct's JSON to their canonical spelling, as ``encoding/json`` matches them."""
    if not isinstance(data, dict):
        return data
    canonical = {name.lower(): name for name in _STRUCT_FIELDS[struct]}
    folded: dict[str, Any] = {}
    for key, value in data.items():
        name = canonical.get(str(key).lower(), str(key))
        if name in _NESTED:
            value = _fold_case(value, name)
        elif name == "parameters" and isinstance(value, list):
            value = [_fold_case(item, "parameters") for item in value]
        folded[name] = value
    return folded


def _source_json(source: ApplicationSource) -> dict[str, Any]:
    dumped: dict[str, Any] = source.model_dump(by_alias=True, exclude_none=True, mode="json")
    return dumped


def merge_overrides(
    source: ApplicationSource, overrides: list[tuple[str, bytes | None]]
) -> ApplicationSource:
    """Apply the override files, in order, to ``source`` as the repo-server does.

    Args:
        source: ``spec.source`` of the Application.
        overrides: ``(repo path, content or None)``, shared file first, then the app's own.

    Raises:
        ConfigError: A file is not a YAML mapping or yields an invalid source; the
            error names the file.
    """
    merged = _source_json(source)
    for path, content in overrides:
        if content is None:
            continue
        try:
            # No aliases, bounded size: a merge patch is where an alias bomb would expand.
            patch = safeyaml.load(content, source=path, limits=safeyaml.OVERRIDE)
        except yaml.YAMLError as exc:
            raise ConfigError(f"cannot parse override file: {exc}", source=path) from exc
        if patch is None:
            continue
        if not isinstance(patch, dict):
            raise ConfigError("override file must hold a mapping", source=path)
        merged = merge_patch(merged, _fold_case(patch, "source"))
        for pinned in _PINNED:
            merged.pop(pinned, None)
        merged.update({k: v for k, v in _source_json(source).items() if k in _PINNED})
        try:
            ApplicationSource.model_validate(merged)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(
                f"override makes the source invalid: {where}: {first['msg']}", source=path
            ) from exc
    return ApplicationSource.model_validate(merged)
