"""Update strategies: which tag is the newest, and whether the current one must change.

This is Image Updater's ``GetNewestVersionFromTags`` and the sorts of its ``tag``
package, without I/O. The registry layer lists tags (and fetches creation times
or digests when :class:`UpdateStrategy` says it needs them); everything here is a
decision over those values.

Differences from Image Updater, all deliberate:

* an unknown strategy is a :class:`ConfigError`, not a warning with a semver fallback;
* under ``semver`` with no constraint, pre-releases are skipped (Image Updater
  takes them); with a constraint, Masterminds' pre-release rule applies;
* under ``semver``, a current tag that is not a version (``latest``) is not an
  error: it counts as "no current version" and the newest matching version wins.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from ferry.errors import ConfigError
from ferry.image.filters import ALLOW_ALL, TagFilter
from ferry.image.tags import ImageTag
from ferry.image.version import Constraint, Version

logger = logging.getLogger(__name__)


class UpdateStrategy(enum.Enum):
    """How the newest tag is chosen (the ``update-strategy`` annotation).

    >>> UpdateStrategy.parse("latest") is UpdateStrategy.NEWEST_BUILD
    True
    >>> UpdateStrategy.parse(None).value
    'semver'
    """

    SEMVER = "semver"
    NEWEST_BUILD = "newest-build"
    ALPHABETICAL = "alphabetical"
    DIGEST = "digest"

    @classmethod
    def parse(cls, text: str | None) -> UpdateStrategy:
        """Parse an annotation value, case-insensitively; None or empty means ``semver``.

        ``latest`` and ``name`` are accepted as Image Updater's old names for
        ``newest-build`` and ``alphabetical``.

        Raises:
            ConfigError: naming the value when it is no known strategy.
        """
        if text is None or not text.strip():
            return cls.SEMVER
        key = text.strip().lower()
        key = _ALIASES.get(key, key)
        try:
            return cls(key)
        except ValueError:
            known = ", ".join([*(s.value for s in cls), *_ALIASES])
            raise ConfigError(f"unknown update strategy '{text}' (expected one of: {known})") from None

    @property
    def needs_created_time(self) -> bool:
        """True when tags must carry their image config's ``created`` time (a manifest and blob fetch)."""
        return self is UpdateStrategy.NEWEST_BUILD

    @property
    def needs_digest(self) -> bool:
        """True when tags must carry their manifest digest."""
        return self is UpdateStrategy.DIGEST

    @property
    def needs_constraint(self) -> bool:
        """True when the image must name a constraint (for ``digest``: the tag to follow)."""
        return self is UpdateStrategy.DIGEST


_ALIASES = {"latest": UpdateStrategy.NEWEST_BUILD.value, "name": UpdateStrategy.ALPHABETICAL.value}


def _utc(moment: datetime) -> datetime:
    # Registries report UTC; a naive time is read as UTC so that sorting never mixes kinds.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _newest_semver(tags: Sequence[ImageTag], constraint: str | None) -> ImageTag | None:
    parsed = Constraint.parse(constraint) if constraint else None
    best: tuple[Version, str] | None = None
    best_tag: ImageTag | None = None
    for tag in tags:
        version = Version.try_parse(tag.name)
        if version is None:
            logger.debug("skipping tag %s: not a semantic version", tag.name)
            continue
        if parsed is not None:
            if not parsed.allows(version):
                continue
        elif version.prerelease:
            continue
        # Equal versions (1.0 and v1.0.0) are broken by name, the larger name winning,
        # as Image Updater's semverCollection sorts them.
        key = (version, tag.name)
        if best is None or key > best:
            best, best_tag = key, tag
    return best_tag


def _newest_build(tags: Sequence[ImageTag]) -> ImageTag | None:
    def key(tag: ImageTag) -> tuple[bool, datetime | None, str]:
        # A tag without a creation time ranks below every dated one.
        return (tag.created is not None, _utc(tag.created) if tag.created else None, tag.name)

    return max(tags, key=key, default=None)


def select_newest(
    tags: Sequence[ImageTag],
    strategy: UpdateStrategy,
    constraint: str | None = None,
    tag_filter: TagFilter = ALLOW_ALL,
) -> ImageTag | None:
    """Pick the tag the image should run, or None when no tag qualifies.

    Only tags that ``tag_filter`` allows are considered. Then:

    * ``semver``: tags that are not versions are dropped, the constraint (Masterminds
      syntax) applies, and without one pre-releases are dropped; the highest version
      wins, equal versions broken by name.
    * ``newest-build``: the latest ``created`` wins (None counts as oldest); equal
      times are broken by name, the lexically last winning. The constraint is ignored.
    * ``alphabetical``: the lexically last name wins. The constraint is ignored.
    * ``digest``: only the tag named by the constraint qualifies; the result carries
      its digest.

    A current tag that is not a version does not stop ``semver``: unlike Image
    Updater, which errors, Ferry treats it as "no current version" (see
    :func:`needs_update`).

    Args:
        tags: every tag of the repository, with ``created``/``digest`` filled in as
            the strategy's ``needs_*`` predicates require.
        strategy: the update strategy.
        constraint: the constraint from ``image-list`` (None or empty for none).
        tag_filter: the ``allow-tags``/``ignore-tags`` filter.

    Returns:
        One element of ``tags``, or None.

    Raises:
        ConfigError: for an invalid semver constraint, or ``digest`` without a constraint.
        ValueError: when the ``digest`` candidate has no digest (the caller did not fetch it).

    >>> tags = [ImageTag("v1.2.0"), ImageTag("v1.10.0"), ImageTag("v2.0.0-rc.1"), ImageTag("latest")]
    >>> select_newest(tags, UpdateStrategy.SEMVER).name
    'v1.10.0'
    >>> select_newest(tags, UpdateStrategy.SEMVER, ">=2.0.0-0").name
    'v2.0.0-rc.1'
    >>> select_newest(tags, UpdateStrategy.ALPHABETICAL).name
    'v2.0.0-rc.1'
    """
    constraint = constraint.strip() if constraint else None
    candidates = [tag for tag in tags if tag_filter.allows(tag.name)]
    logger.debug("%d of %d tags pass the tag filter", len(candidates), len(tags))
    if strategy is UpdateStrategy.SEMVER:
        return _newest_semver(candidates, constraint)
    if strategy is UpdateStrategy.NEWEST_BUILD:
        return _newest_build(candidates)
    if strategy is UpdateStrategy.ALPHABETICAL:
        return max(candidates, key=lambda tag: tag.name, default=None)
    if not constraint:
        raise ConfigError("the digest strategy needs a constraint naming the tag to follow (image:<tag>)")
    followed = [tag for tag in candidates if tag.name == constraint]
    if not followed:
        return None
    chosen = followed[-1]
    if chosen.digest is None:
        raise ValueError(f"tag '{chosen.name}' has no digest; the digest strategy needs it fetched")
    return chosen


def needs_update(current: ImageTag | None, newest: ImageTag | None, strategy: UpdateStrategy) -> bool:
    """True when the image must move from ``current`` to ``newest``.

    ``digest`` compares digests (the tag name stays the same); every other strategy
    compares names, so any difference, even a lower version the constraint now
    demands, is an update, as in Image Updater. A current tag that is not a version
    simply differs from the newest version's name. No ``newest`` means no update.

    >>> needs_update(ImageTag("latest"), ImageTag("v1.2.0"), UpdateStrategy.SEMVER)
    True
    >>> pinned = ImageTag("v1", digest="sha256:a")
    >>> needs_update(pinned, ImageTag("v1", digest="sha256:b"), UpdateStrategy.DIGEST)
    True
    """
    if newest is None:
        return False
    if current is None:
        return True
    if strategy is UpdateStrategy.DIGEST:
        return current.digest != newest.digest
    return current.name != newest.name

