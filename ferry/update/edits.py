"""Turn detected image changes into a file edit for the write-back target.

The edit is a transform of the file's current bytes, not a precomputed file:
when a push is rejected, the Git layer resets to the new remote head and runs
the transform again on what is there now, so a concurrent writer's change is
merged, never overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence

from ferry.argocd.annotations import ImageSettings, TargetKind
from ferry.update.current import SourceType, helm_paths
from ferry.update.message import ImageChange
from ferry.vcs.writeback import FileEdit
from ferry.writeback import argocd_source, helmvalues, kustomization


def _split_tag(tag: str) -> tuple[str, str | None]:
    name, _, digest = tag.partition("@")
    return name, digest or None


def helm_assignments(changed: Sequence[tuple[ImageSettings, ImageChange]]) -> list[tuple[str, str]]:
    """Value path → value pairs, in Image Updater's order: per image, the name, then the tag (or the spec)."""
    out: list[tuple[str, str]] = []
    for image, change in changed:
        name_path, tag_path, spec_path = helm_paths(image)
        if spec_path:
            out.append((spec_path, change.new_ref))
            continue
        assert name_path is not None and tag_path is not None
        out.append((name_path, change.image))
        out.append((tag_path, change.new_tag))
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
    target_kind: TargetKind,
    kind: SourceType,
    target: str,
    changed: Sequence[tuple[ImageSettings, ImageChange]],
) -> FileEdit:
    """The one file edit that writes ``changed`` into ``target`` the way the app's annotations ask."""
    if target_kind is TargetKind.ARGOCD_SOURCE and kind is SourceType.HELM:
        params = [argocd_source.HelmParameter(n, v, True) for n, v in helm_assignments(changed)]
        return FileEdit(target, lambda old: argocd_source.render_helm_override(old, params, source=target))
    if target_kind is TargetKind.ARGOCD_SOURCE:
        images = kustomize_override_images(changed)
        return FileEdit(
            target, lambda old: argocd_source.render_kustomize_override(old, images, source=target)
        )
    if target_kind is TargetKind.HELM_VALUES:
        assignments = helm_assignments(changed)
        return FileEdit(
            target, lambda old: helmvalues.set_helm_values(old or b"", assignments, source=target)
        )
    entries = kustomization_images(changed)
    return FileEdit(
        target, lambda old: kustomization.set_kustomize_images(old or b"", entries, source=target)
    )
