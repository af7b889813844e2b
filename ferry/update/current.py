"""What the deploy repo says is deployed now, read the way Argo CD would render it.

Image Updater learns the current image from the live Application in Argo CD.
Ferry has no Argo CD, so it reads the same sources Argo CD's repo-server
merges, highest precedence first:

1. ``.argocd-source-<app>.yaml`` (then ``.argocd-source.yaml``) in the source path;
2. ``spec.source.helm.parameters`` / ``spec.source.kustomize.images``;
3. ``spec.source.helm.valuesObject`` / ``values``;
4. the ``valueFiles``, the last one first, then the chart's ``values.yaml``;
   for Kustomize, the ``images:`` of the kustomization.
"""

from __future__ import annotations

import functools
import posixpath
from dataclasses import dataclass
from typing import Any

from ferry import safeyaml
from ferry.argocd.annotations import PREFIX, ImageSettings, TargetKind, UpdaterSettings
from ferry.argocd.application import Application
from ferry.argocd.source import KUSTOMIZATION_FILES, RepoView, SourceType, override_paths, repo_path
from ferry.errors import ConfigError
from ferry.image.reference import ImageReference
from ferry.writeback import argocd_source, helmvalues, kustomization
from ferry.writeback._identifier import parse_identifier

# Image Updater's defaults when an alias names no Helm value paths.
DEFAULT_HELM_IMAGE_NAME = "image.name"
DEFAULT_HELM_IMAGE_TAG = "image.tag"


@dataclass(frozen=True, slots=True)
class CurrentImage:
    """The image the repo deploys now; ``tag`` may carry ``@sha256:…``; None when not found."""

    name: str | None
    tag: str | None

    @property
    def bare_tag(self) -> str | None:
        return self.tag.split("@", 1)[0] if self.tag else None

    @property
    def digest(self) -> str | None:
        return self.tag.split("@", 1)[1] if self.tag and "@" in self.tag else None


def kustomization_file(view: RepoView, directory: str) -> str | None:
    for name in KUSTOMIZATION_FILES:
        path = repo_path(directory, name)
        if view.read(path) is not None:
            return path
    return None


def _lookup(values: Any, path: str) -> str | None:
    """Find a dotted Helm path in a values mapping; a literal dotted key wins, as Image Updater does."""
    if not isinstance(values, dict):
        return None
    if path in values and not isinstance(values[path], dict | list):
        return str(values[path])
    node: Any = values
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return None if node is None or isinstance(node, dict | list) else str(node)


@functools.lru_cache(maxsize=1024)
def _override_parameters(content: bytes | None, source: str) -> tuple[argocd_source.HelmParameter, ...]:
    # Every image's name and tag path asks for the same override files: parse each once.
    return tuple(argocd_source.read_helm_parameters(content, source=source))


def helm_value(app: Application, view: RepoView, path: str, target_file: str | None) -> str | None:
    """The effective value of a Helm parameter path, or None when nothing sets it."""
    app_override, shared_override = override_paths(app)
    for override in (app_override, shared_override):
        for param in _override_parameters(view.read(override), override):
            if param.name == path:
                return param.value
    helm = app.source.helm
    if helm is not None:
        for spec_param in helm.parameters:
            if spec_param.name == path:
                return spec_param.value
        inline: list[Any] = []
        if helm.values_object is not None:
            inline.append(helm.values_object)
        if helm.values:
            inline.append(safeyaml.load(helm.values, source=f"{app.name}: spec.source.helm.values"))
        for values in inline:
            found = _lookup(values, path)
            if found is not None:
                return found
    base = repo_path(app.source.path)
    files = [repo_path(base, f) for f in (helm.value_files if helm else ())]
    candidates = (
        ([target_file] if target_file else []) + list(reversed(files)) + [repo_path(base, "values.yaml")]
    )
    for file in candidates:
        content = view.read(file)
        if content is None:
            continue
        found = helmvalues.get_helm_value(content, path, source=file)
        if found is not None:
            return found
    return None


def helm_paths(image: ImageSettings) -> tuple[str | None, str | None, str | None]:
    """(name path, tag path, spec path) with Image Updater's defaults applied."""
    if image.helm_image_spec:
        return None, None, image.helm_image_spec
    return (
        image.helm_image_name or DEFAULT_HELM_IMAGE_NAME,
        image.helm_image_tag or DEFAULT_HELM_IMAGE_TAG,
        None,
    )


def _spec_image(spec: str) -> CurrentImage:
    """An image-spec value as the current image; a short digest (``@sha256:abcde``) is read the way
    Image Updater's fallback parser reads it, where the reference grammar would refuse it."""
    try:
        ref = ImageReference.parse(spec)
    except ConfigError:
        found = parse_identifier(spec)
        name = f"{found.registry}/{found.name}" if found.registry else found.name
        text = (found.tag or "") + (f"@{found.digest}" if found.digest else "")
        return CurrentImage(name, text or None)
    tag = ref.tag + (f"@{ref.digest}" if ref.digest else "") if ref.tag else ref.digest
    return CurrentImage(ref.name, tag)


def current_helm_image(
    app: Application, view: RepoView, image: ImageSettings, target_file: str | None
) -> CurrentImage:
    name_path, tag_path, spec_path = helm_paths(image)
    if spec_path:
        spec = helm_value(app, view, spec_path, target_file)
        if spec is None:
            return CurrentImage(None, None)
        return _spec_image(spec)
    assert tag_path is not None and name_path is not None
    return CurrentImage(
        helm_value(app, view, name_path, target_file), helm_value(app, view, tag_path, target_file)
    )


def _image_entry_tag(entry: str, image: ImageSettings) -> CurrentImage | None:
    """Match a Kustomize image entry (``[old=]new:tag``) against the image being updated."""
    old, sep, new = entry.partition("=")
    candidate = new if sep else entry
    wanted = {image.image.name}
    if image.kustomize_image_name:
        wanted.add(image.kustomize_image_name)
    try:
        ref = ImageReference.parse(candidate)
        old_ref = ImageReference.parse(old) if sep else ref
    except ConfigError:
        return None
    if ref.name in wanted or old_ref.name in wanted:
        tag = (ref.tag or "") + (f"@{ref.digest}" if ref.digest else "")
        return CurrentImage(ref.name, tag or None)
    return None


def current_kustomize_image(
    app: Application, view: RepoView, image: ImageSettings, target: str | None
) -> CurrentImage:
    for override in override_paths(app):
        for entry in argocd_source.read_kustomize_images(view.read(override), source=override):
            found = _image_entry_tag(entry, image)
            if found:
                return found
    if app.source.kustomize is not None:
        for entry in app.source.kustomize.images:
            found = _image_entry_tag(entry, image)
            if found:
                return found
    directory = target or repo_path(app.source.path)
    path = kustomization_file(view, directory)
    if path is not None:
        content = view.read(path)
        assert content is not None
        names = {image.kustomize_image_name or image.image.name, image.image.name}
        for listed in kustomization.read_kustomize_images(content, source=path):
            if listed.name in names:
                name = listed.new_name or listed.name
                tag = (listed.new_tag or "") + (f"@{listed.digest}" if listed.digest else "")
                return CurrentImage(name, tag or None)
    return CurrentImage(None, None)


def write_target_path(app: Application, settings: UpdaterSettings, view: RepoView) -> str:
    """The repo-relative file the write-back edits.

    Raises:
        ConfigError: naming the application and the ``write-back-target`` annotation.
    """
    wb = settings.write_back
    try:
        if wb.target_kind is TargetKind.ARGOCD_SOURCE:
            return override_paths(app)[0]
        directory = helmvalues.resolve_target_path(wb.target, app.source.path)
        if wb.target_kind is TargetKind.HELM_VALUES:
            return directory
        return kustomization_file(view, directory) or repo_path(directory, KUSTOMIZATION_FILES[0])
    except ConfigError as exc:
        raise exc.located(application=app.name, key=f"{PREFIX}write-back-target") from exc


def current_image(
    app: Application,
    view: RepoView,
    image: ImageSettings,
    kind: SourceType,
    target: str,
    target_kind: TargetKind,
) -> CurrentImage:
    """The image ``image`` stands at in the repo; the write-back target, when it is a values or
    kustomization file, is consulted first because that is where the last update went."""
    if kind is SourceType.HELM:
        return current_helm_image(app, view, image, target if target_kind is TargetKind.HELM_VALUES else None)
    directory = posixpath.dirname(target) if target_kind is TargetKind.KUSTOMIZATION else None
    return current_kustomize_image(app, view, image, directory)
