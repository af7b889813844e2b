"""Which requests one tag's metadata costs, and what the answer is: pure decisions, no I/O.

The client (:mod:`ferry.registry.client`) asks these functions, over frozen
values, whether the cache already answers a tag, whether to start with a HEAD
or a GET, and what a HEAD settles; it then sends only the requests they name.

The rules:

* A tag the cache knows (tags are immutable unless ``refresh``) costs nothing.
* ``refresh`` re-reads the tag. When only the digest is wanted (the ``digest``
  strategy, a digest read back after a push) or the cache has a digest to
  compare with, that re-read is a HEAD: the digest is in its headers, and
  Docker Hub does not count a HEAD as a pull. A body follows only when the
  HEAD's digest is not cached and the answer needs it (an index, for its
  platforms; an image's creation time).
* Otherwise the first request is a GET: the body is needed anyway (or, for a
  tag never seen, is cached for good under its digest), and a HEAD first would
  only add a request.
* ``created`` comes from the manifest's or index's ``org.opencontainers.image.created``
  annotation when it has a valid one (see :func:`~ferry.registry.model.parse_manifest`);
  only then is the config blob skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum

from ferry.image.platform import Platform, any_matches
from ferry.image.tags import ImageTag
from ferry.registry.model import (
    IMAGE_MANIFEST_TYPES,
    ManifestKind,
    ManifestRecord,
    matching_children,
    newest_matching_created,
)

__all__ = [
    "AfterHead",
    "Excluded",
    "FirstRead",
    "HeadAnswer",
    "after_head",
    "annotated_index_answer",
    "cached_answer",
    "first_read",
    "image_answer",
    "index_answer",
]


class Excluded(Enum):
    """The tag is left out: its image has none of the wanted platforms."""

    PLATFORM = "platform"


class FirstRead(StrEnum):
    """The first request for a tag the cache could not answer."""

    HEAD = "HEAD"
    GET = "GET"


class AfterHead(StrEnum):
    """What follows a HEAD of a tag's manifest."""

    CACHED = "cached"  # the HEAD's digest is in the cache: no body needed
    DIGEST = "digest"  # only the digest was wanted and it names a single image: done
    GET = "get"  # the body is needed: GET it (by the HEAD's digest when there is one)


@dataclass(frozen=True, slots=True)
class HeadAnswer:
    """What a manifest HEAD tells: its digest (``Docker-Content-Digest``) and media type, if sent."""

    digest: str | None
    media_type: str


def first_read(*, need_created: bool, refresh: bool, known_digest: str | None) -> FirstRead:
    """Start with a HEAD only where the digest alone may settle the tag.

    >>> first_read(need_created=False, refresh=True, known_digest=None)
    <FirstRead.HEAD: 'HEAD'>
    >>> first_read(need_created=True, refresh=True, known_digest=None)
    <FirstRead.GET: 'GET'>
    >>> first_read(need_created=True, refresh=True, known_digest="sha256:a")
    <FirstRead.HEAD: 'HEAD'>
    >>> first_read(need_created=False, refresh=False, known_digest=None)
    <FirstRead.GET: 'GET'>
    """
    if refresh and (not need_created or known_digest is not None):
        return FirstRead.HEAD
    return FirstRead.GET


def after_head(head: HeadAnswer, cached: ManifestRecord | None, *, need_created: bool) -> AfterHead:
    """Decide whether a HEAD's answer needs a body after it.

    >>> after_head(HeadAnswer("sha256:a", "application/vnd.oci.image.manifest.v1+json"), None,
    ...     need_created=False)
    <AfterHead.DIGEST: 'digest'>
    >>> after_head(HeadAnswer("sha256:a", "application/vnd.oci.image.index.v1+json"), None,
    ...     need_created=False)
    <AfterHead.GET: 'get'>
    >>> after_head(HeadAnswer(None, ""), None, need_created=False)
    <AfterHead.GET: 'get'>
    """
    if head.digest is None:
        return AfterHead.GET
    if cached is not None:
        return AfterHead.CACHED
    if not need_created and head.media_type.split(";")[0].strip() in IMAGE_MANIFEST_TYPES:
        return AfterHead.DIGEST
    return AfterHead.GET


def image_answer(
    tag: str, record: ManifestRecord, platforms: tuple[Platform, ...], need_created: bool
) -> ImageTag | Excluded:
    """A single image's answer; an image whose config names another platform is excluded.

    An annotated image's config is never read, so its platform is unknown and it is kept.
    """
    if need_created and record.platform is not None and not any_matches(platforms, record.platform):
        return Excluded.PLATFORM
    return ImageTag(tag, created=record.created, digest=record.digest)


def index_answer(
    tag: str, record: ManifestRecord, children: Mapping[str, ManifestRecord], platforms: tuple[Platform, ...]
) -> ImageTag | None:
    """An unannotated index's answer: the newest creation time among its matching children."""
    times = {digest: child.created for digest, child in children.items()}
    matched, created = newest_matching_created(record.children, times, platforms)
    return ImageTag(tag, created=created, digest=record.digest) if matched else None


def annotated_index_answer(
    tag: str, record: ManifestRecord, platforms: tuple[Platform, ...]
) -> ImageTag | None:
    """An annotated index's answer: its own time, if any child has a wanted platform.

    The index's annotation is used, not its children's: the tag names the index,
    the index is written when the multi-platform build is complete, and using
    it keeps the tag at one request (the children are never read).
    """
    if not matching_children(record.children, platforms):
        return None
    return ImageTag(tag, created=record.created, digest=record.digest)


def cached_answer(
    tag: str,
    digest: str | None,
    lookup: Callable[[str], ManifestRecord | None],
    platforms: tuple[Platform, ...],
    need_created: bool,
) -> ImageTag | Excluded | None:
    """The answer for ``tag`` from cached records alone, or ``None`` when the network is needed."""
    record = lookup(digest) if digest is not None else None
    if record is None:
        return None
    if record.kind is ManifestKind.IMAGE:
        if need_created and not record.created_known:
            return None
        return image_answer(tag, record, platforms, need_created)
    chosen = matching_children(record.children, platforms)
    if not chosen:
        return Excluded.PLATFORM
    if not need_created:
        return ImageTag(tag, digest=record.digest)
    if record.annotated:
        return annotated_index_answer(tag, record, platforms)
    children: dict[str, ManifestRecord] = {}
    for child in chosen:
        child_record = lookup(child.digest)
        if child_record is None or not child_record.created_known:
            return None
        children[child.digest] = child_record
    return index_answer(tag, record, children, platforms)
