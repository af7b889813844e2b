"""Frozen values the registry client reads, caches and returns.

A manifest digest names immutable content, so everything derived from it (the
config's creation time and platform, an index's children) is cached forever
under that digest. Only the tag → digest mapping can change, and the client
decides when to re-validate it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from ferry.errors import ConfigError
from ferry.image.platform import Platform, any_matches

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"

#: The annotation buildah (``--annotation``) and Ferry's own builds put on a manifest or index.
CREATED_ANNOTATION = "org.opencontainers.image.created"
#: Media types whose HEAD alone settles a digest-only read: a single image has no children to
#: check platforms against, so its digest is all that is needed.
IMAGE_MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})

#: Sent on every manifest HEAD/GET. Distribution answers 404 for an OCI manifest
#: when the client does not say it understands OCI, so all four are always listed.
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST))

_FRACTION = re.compile(r"(\.\d{6})\d+")
# RFC 3339's date-time, strictly: the annotation is a free-form string whoever pushed the image
# chose, so a date alone or a time without an offset is not trusted and the config is read instead.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})")
# The distribution spec's grammar for repository names and tags.
_REPOSITORY = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")
# ASCII only: Python's \w would let "é1" through, which no registry may serve as a tag.
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")


class ManifestKind(StrEnum):
    """What a manifest digest points at: one image, or an index of per-platform images."""

    IMAGE = "image"
    INDEX = "index"


@dataclass(frozen=True, slots=True)
class IndexChild:
    """One entry of an OCI index or Docker manifest list."""

    digest: str
    platform: Platform | None


@dataclass(frozen=True, slots=True)
class ManifestRecord:
    """What Ferry needs to know about one manifest digest.

    For an image, ``config_digest`` names its config blob, and ``created`` and
    ``platform`` come from that blob; both are ``None`` when the config does not
    say, or when only the digest was needed and the config was never fetched
    (``config_read`` tells the two apart). For an
    index, ``children`` lists the per-platform manifests; their own records are
    cached under their own digests.

    ``annotated`` says ``created`` came from the manifest's (or index's) own
    ``org.opencontainers.image.created`` annotation, so no config blob is needed
    for it; an annotated image's ``platform`` stays unknown (``None``).
    """

    digest: str
    kind: ManifestKind
    config_digest: str | None = None
    created: datetime | None = None
    platform: Platform | None = None
    children: tuple[IndexChild, ...] = ()
    config_read: bool = False
    annotated: bool = False

    @property
    def created_known(self) -> bool:
        """Whether ``created`` is settled: read from the config, or taken from the annotation."""
        return self.config_read or self.annotated


def parse_created(text: object) -> datetime | None:
    """Parse an image config's ``created`` (RFC 3339, nanoseconds allowed) as an aware UTC time.

    Returns ``None`` for a missing or unparseable value, which strategies treat as
    the oldest possible build, rather than failing the whole repository.

    >>> parse_created("2024-05-01T10:00:00.123456789Z")
    datetime.datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=datetime.timezone.utc)
    >>> parse_created("2024-05-01T12:00:00+02:00").hour
    10
    >>> parse_created("yesterday") is None
    True
    """
    if not isinstance(text, str) or not text:
        return None
    normalised = _FRACTION.sub(r"\1", text.strip())
    if normalised.endswith(("Z", "z")):
        normalised = normalised[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(normalised)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        # The OCI spec requires an offset; a naive value is most plausibly UTC.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def annotated_created(annotations: object) -> datetime | None:
    """The ``org.opencontainers.image.created`` annotation as a UTC time, or None when absent or not RFC 3339.

    >>> annotated_created({CREATED_ANNOTATION: "2024-05-01T10:00:00Z"}).isoformat()
    '2024-05-01T10:00:00+00:00'
    >>> annotated_created({CREATED_ANNOTATION: "2024-05-01"}), annotated_created({}), annotated_created(None)
    (None, None, None)
    """
    if not isinstance(annotations, dict):
        return None
    text = annotations.get(CREATED_ANNOTATION)
    if not isinstance(text, str) or not _RFC3339.fullmatch(text.strip()):
        return None
    return parse_created(text)


def platform_from_json(data: object) -> Platform | None:
    """Read ``os``/``architecture``/``variant`` from a config or index descriptor platform.

    >>> platform_from_json({"os": "linux", "architecture": "arm64", "variant": "v8"})
    Platform(os='linux', architecture='arm64', variant='v8')
    >>> platform_from_json({"architecture": "amd64"}) is None
    True
    """
    if not isinstance(data, dict):
        return None
    os_name, arch, variant = data.get("os"), data.get("architecture"), data.get("variant") or ""
    if not isinstance(os_name, str) or not isinstance(arch, str) or not os_name or not arch:
        return None
    return Platform(os_name, arch, variant if isinstance(variant, str) else "")


def newest_matching_created(
    children: tuple[IndexChild, ...],
    created_by_digest: dict[str, datetime | None],
    wanted: tuple[Platform, ...],
) -> tuple[bool, datetime | None]:
    """Choose an index's creation time: the newest among the children whose platform is wanted.

    Returns ``(matched, created)``: ``matched`` is False when no child has a wanted
    platform (Image Updater then ignores the tag), and ``created`` is ``None`` when
    the matching children carry no creation time.

    >>> from datetime import datetime, UTC
    >>> kids = (IndexChild("a", Platform("linux", "amd64")), IndexChild("b", Platform("linux", "arm64")))
    >>> times = {"a": datetime(2024, 1, 1, tzinfo=UTC), "b": datetime(2025, 1, 1, tzinfo=UTC)}
    >>> newest_matching_created(kids, times, (Platform("linux", "amd64"),))[1].year
    2024
    >>> newest_matching_created(kids, times, (Platform("windows", "amd64"),))
    (False, None)
    """
    matched = False
    newest: datetime | None = None
    for child in children:
        if child.platform is None or not any_matches(wanted, child.platform):
            continue
        matched = True
        created = created_by_digest.get(child.digest)
        if created is not None and (newest is None or created > newest):
            newest = created
    return matched, newest


def matching_children(children: tuple[IndexChild, ...], wanted: tuple[Platform, ...]) -> list[IndexChild]:
    """The children of an index whose platform satisfies one of ``wanted``."""
    return [c for c in children if c.platform is not None and any_matches(wanted, c.platform)]


def parse_manifest(digest: str, body: dict[str, Any], content_type: str) -> ManifestRecord:
    """Classify a manifest body as an image or an index and pull out what Ferry needs.

    >>> parse_manifest("sha256:i", {"manifests": [{"digest": "sha256:c", "platform": {"os": "linux",
    ...     "architecture": "amd64"}}]}, "").children
    (IndexChild(digest='sha256:c', platform=Platform(os='linux', architecture='amd64', variant='')),)
    >>> parse_manifest("sha256:m", {"config": {"digest": "sha256:cfg"}}, "").config_digest
    'sha256:cfg'
    >>> parse_manifest("sha256:m", {"config": {"digest": "sha256:cfg"},
    ...     "annotations": {CREATED_ANNOTATION: "2024-05-01T10:00:00Z"}}, "").created_known
    True

    The annotation, when present and RFC 3339, is trusted over the config blob, which is
    then never fetched for ``created``; for an index, the index's own annotation is used
    (one request per tag) and its children are not read for their times.
    """
    created = annotated_created(body.get("annotations"))
    annotated = created is not None
    media_type = str(body.get("mediaType") or content_type.split(";")[0].strip())
    if isinstance(body.get("manifests"), list) or media_type.endswith(("index.v1+json", "list.v2+json")):
        children = tuple(
            IndexChild(str(entry["digest"]), platform_from_json(entry.get("platform")))
            for entry in body.get("manifests") or []
            if isinstance(entry, dict) and isinstance(entry.get("digest"), str)
        )
        return ManifestRecord(
            digest, ManifestKind.INDEX, children=children, created=created, annotated=annotated
        )
    config = body.get("config")
    config_digest = config.get("digest") if isinstance(config, dict) else None
    if not isinstance(config_digest, str):
        # Schema 1 and unusual artifacts carry no config blob: no creation time to read.
        return ManifestRecord(
            digest, ManifestKind.IMAGE, created=created, config_read=True, annotated=annotated
        )
    return ManifestRecord(
        digest, ManifestKind.IMAGE, config_digest=config_digest, created=created, annotated=annotated
    )


def check_repository(repository: str) -> None:
    """Raise :class:`ConfigError` unless ``repository`` is a valid distribution repository name."""
    if not _REPOSITORY.fullmatch(repository) or len(repository) > 255:
        raise ConfigError(f"invalid image repository name '{repository}'")


def is_valid_tag(tag: str) -> bool:
    """True when ``tag`` follows the distribution spec's tag grammar (safe to put in a URL path).

    >>> is_valid_tag("v1.2.3-rc.1"), is_valid_tag("../x"), is_valid_tag("zz,image.repository=evil")
    (True, False, False)
    """
    return _TAG.fullmatch(tag) is not None
