"""Turn detected image changes into a file edit for the write-back target.

The edit is a transform of the file's current bytes, not a precomputed file:
when a push is rejected, the Git layer resets to the new remote head and runs
the transform again on what is there now, so a concurrent writer's change is
merged, never overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence

from ferry.argocd.annotations import ImageSettings, TargetKind
from ferry.argocd.application import Application
from ferry.argocd.source import SourceType
from ferry.update.message import ImageChange
from ferry.vcs.writeback import FileEdit
from ferry.writeback import argocd_source, helmvalues, kustomization
from ferry.writeback.argocd_source import HelmParameter


def _split_tag(tag: str) -> tuple[str, str | None]:
    name, _, digest = tag.partition("@")
    return name, digest or None


def image_parameters(changed: Sequence[tuple[ImageSettings, ImageChange]]) -> list[HelmParameter]:
    """The Helm parameters Image Updater sets for the changed images: per image the name then the tag,
    or the image-spec alone."""
    out: list[HelmParameter] = []
    for image, change in changed:
        tag, digest = _split_tag(change.new_tag)
        out.extend(
            argocd_source.helm_image_parameters(
                image_name=change.image,
                tag=tag,
                digest=digest,
                name_param=image.helm_image_name,
                tag_param=image.helm_image_tag,
                spec_param=image.helm_image_spec,
            )
        )
    return out


def values_assignments(changed: Sequence[tuple[ImageSettings, ImageChange]]) -> list[tuple[str, str]]:
    """Value path → value pairs for ``helmvalues`` mode, where Image Updater sets each tag before its name."""
    out: list[tuple[str, str]] = []
    for image, change in changed:
        params = image_parameters([(image, change)])
        out.extend((p.name, p.value) for p in reversed(params))
    return out


def _has_registry(name: str) -> bool:
    # Image Updater's HasRegistryPrefix: a first path component with a dot is a registry host.
    first, slash, _ = name.partition("/")
    return bool(slash) and "." in first


def short_forms(
    existing: bytes | None, assignments: Sequence[tuple[str, str]], name_paths: set[str], source: str
) -> list[tuple[str, str]]:
    """Keep a values file's short image names: ``bitnami/nginx`` stays short when the new name is
    ``docker.io/bitnami/nginx``, as Image Updater writes it.

    >>> short_forms(b"image:\\n  name: bitnami/nginx\\n", [("image.name", "docker.io/bitnami/nginx")],
    ...             {"image.name"}, "values.yaml")
    [('image.name', 'bitnami/nginx')]
    """
    out = []
    for path, value in assignments:
        if path in name_paths and existing and _has_registry(value):
            old = helmvalues.get_helm_value(existing, path, source=source)
            if old and not _has_registry(old):
                value = value.split("/", 1)[1]
        out.append((path, value))
    return out


def kustomize_override_images(changed: Sequence[tuple[ImageSettings, ImageChange]]) -> list[str]:
    """``[<kustomize.image-name>=]<image>:<tag>`` entries, as Image Updater's SetKustomizeImage writes."""
    out = []
    for image, change in changed:
        prefix = f"{image.kustomize_image_name}=" if image.kustomize_image_name else ""
        out.append(f"{prefix}{change.new_ref}")
    return out


def kustomization_images(
    changed: Sequence[tuple[ImageSettings, ImageChange]],
) -> list[kustomization.KustomizeImage]:
    out = []
    for image, change in changed:
        tag, digest = _split_tag(change.new_tag)
        name = image.kustomize_image_name or image.image.name
        out.append(
            kustomization.KustomizeImage(
                name=name,
                new_name=image.image.name if name != image.image.name else None,
                new_tag=tag,
                digest=digest,
            )
        )
    return out


def build_edit(
    app: Application,
    target_kind: TargetKind,
    kind: SourceType,
    target: str,
    changed: Sequence[tuple[ImageSettings, ImageChange]],
) -> FileEdit:
    """The one file edit that writes ``changed`` into ``target`` the way the app's annotations ask.

    For the ``.argocd-source`` file Image Updater writes the Application's own
    ``spec.source.helm.parameters`` merged with the image parameters, so Ferry
    does the same.
    """
    if target_kind is TargetKind.ARGOCD_SOURCE and kind is SourceType.HELM:
        own = (
            [HelmParameter(p.name, p.value, p.force_string) for p in app.source.helm.parameters]
            if (app.source.helm)
            else []
        )
        params = argocd_source.merge_helm_parameters(own, image_parameters(changed))
        return FileEdit(target, lambda old: argocd_source.render_helm_override(old, params, source=target))
    if target_kind is TargetKind.ARGOCD_SOURCE:
        images = kustomize_override_images(changed)
        return FileEdit(
            target, lambda old: argocd_source.render_kustomize_override(old, images, source=target)
        )
    if target_kind is TargetKind.HELM_VALUES:
        assignments = values_assignments(changed)
        names = {p for image, _ in changed if (p := image.helm_image_name)}
        return FileEdit(
            target,
            lambda old: helmvalues.set_helm_values(
                old or b"", short_forms(old, assignments, names, target), source=target
            ),
        )
    entries = kustomization_images(changed)
    return FileEdit(
        target, lambda old: kustomization.set_kustomize_images(old or b"", entries, source=target)
    )
