"""Decide, for one image of one application, whether and to what it moves."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from ferry.argocd.annotations import ImageSettings
from ferry.argocd.source import SourceType
from ferry.errors import ConfigError
from ferry.image.strategy import UpdateStrategy, needs_update, select_newest
from ferry.image.tags import ImageTag
from ferry.update.current import CurrentImage, helm_paths
from ferry.update.message import ImageChange
from ferry.update.registries import RegistryPool

log = logging.getLogger("ferry.updater")


def split_ref(reference: str) -> tuple[str, str]:
    """``registry/repo:tag`` into name and tag (a port in the host is not a tag).

    >>> split_ref("127.0.0.1:5000/cidemo/echo-server:v2")
    ('127.0.0.1:5000/cidemo/echo-server', 'v2')
    """
    reference = reference.split("@", 1)[0]
    name, sep, tag = reference.rpartition(":")
    if not sep or "/" in tag:
        return reference, ""
    return name, tag


def without_held(tags: Iterable[str], image_name: str, held: Iterable[str]) -> list[str]:
    """``tags`` of ``image_name`` minus the held ones.

    >>> without_held(["v1", "v2"], "r/echo", {"r/echo:v2", "r/other:v1"})
    ['v1']
    """
    skipped = {tag for name, tag in map(split_ref, held) if name == image_name}
    return [t for t in tags if t not in skipped]


def detect_image(
    registries: RegistryPool,
    image: ImageSettings,
    current: CurrentImage,
    *,
    kind: SourceType,
    refresh: bool,
    held: frozenset[str] = frozenset(),
) -> ImageChange | None:
    """Ask the registry for ``image``'s tags and return the change to make, or None when it is current.

    ``held`` are ``name:tag`` references a hold keeps from being written back (a rolled-back
    tag): they are left out like the tags the annotations' filter refuses.

    A Helm app whose tag path is set nowhere is a configuration error unless
    ``force-update`` is on: writing a value the chart never reads would report
    a deployment that did not happen.
    """
    if current.tag is None and kind is SourceType.HELM and not image.force_update:
        _, tag_path, spec_path = helm_paths(image)
        raise ConfigError(
            f"image {image.label}: Helm value {spec_path or tag_path!r} is not set in the repo "
            "(the values files, "
            "parameters or .argocd-source file); fix the helm.image-* annotation or set force-update",
            key="helm.image-spec" if spec_path else "helm.image-tag",
        )
    client, repository = registries.client_for(image)
    listed = without_held(client.list_tags(repository), image.image.name, held)
    tags = [t for t in listed if image.tag_filter.allows(t)]
    strategy = image.strategy
    if strategy is UpdateStrategy.DIGEST:
        wanted = [t for t in tags if t == image.constraint]
        found = client.tag_metadata(
            repository, wanted, platforms=image.platforms, need_created=False, need_digest=True, refresh=True
        )
    elif strategy.needs_created_time:
        found = client.tag_metadata(
            repository, tags, platforms=image.platforms, need_created=True, need_digest=False, refresh=refresh
        )
    else:
        found = {t: ImageTag(t) for t in tags}
    newest = select_newest(list(found.values()), strategy, image.constraint, image.tag_filter)
    current_tag = ImageTag(current.bare_tag, digest=current.digest) if current.bare_tag else None
    if newest is None:
        log.debug("image %s: no tag matches the strategy and filters", image.label)
        return None
    if not needs_update(current_tag, newest, strategy) and not (current.tag is None and image.force_update):
        log.debug("Image '%s:%s' already on latest allowed version", image.image.name, current.tag)
        return None
    new_tag = newest.with_digest() if strategy is UpdateStrategy.DIGEST else newest.name
    change = ImageChange(image.alias, image.image.name, current.tag, new_tag)
    log.info("Successfully updated image '%s' to '%s'", change.old_ref, change.new_ref)
    return change
