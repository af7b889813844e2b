"""Image Updater v0.18's own tag-selection cases (registry-scanner version_test.go, Test_LatestVersion).

Upstream returns the current tag when nothing newer qualifies; Ferry returns None, which
``needs_update`` reads as "stay": the outcome, no update, is the same.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ferry.errors import ConfigError
from ferry.image.strategy import UpdateStrategy, needs_update, select_newest
from ferry.image.tags import ImageTag

S = UpdateStrategy
VERSIONS = ["0.1", "0.5.1", "0.9", "1.0", "1.0.1", "1.1.2", "2.0.3"]
NAMES = ["zz", "bb", "yy", "cc", "yy", "aa", "ll"]


def plain(names: list[str]) -> list[ImageTag]:
    return [ImageTag(n, created=datetime.fromtimestamp(0, UTC)) for n in names]


def dated(names: list[str]) -> list[ImageTag]:
    # newImageTagListWithDate: tag i is created at i*5 s; a repeated name keeps its last date.
    by_name = {n: ImageTag(n, created=datetime.fromtimestamp(i * 5, UTC)) for i, n in enumerate(names)}
    return list(by_name.values())


@pytest.mark.parametrize(
    ("tags", "strategy", "constraint", "current", "expected"),
    [
        (plain(VERSIONS), S.SEMVER, None, "1.0", "2.0.3"),
        (plain(VERSIONS), S.SEMVER, "^1.0", "1.0", "1.1.2"),
        (plain(VERSIONS), S.SEMVER, "~1.0", "1.0", "1.0.1"),
        (plain(["0.1", "0.5.1", "0.9", "2.0.3"]), S.SEMVER, "~1.0", "1.0", "1.0"),
        (plain([]), S.SEMVER, "~1.0", "1.0", "1.0"),
        (dated(NAMES), S.NEWEST_BUILD, None, "bb", "ll"),
        (dated(NAMES), S.SEMVER, None, "bb", "bb"),
        (dated(NAMES), S.ALPHABETICAL, None, "bb", "zz"),
    ],
    ids=[
        "latest version without any constraint",
        "semver constraint on major",
        "semver constraint on patch",
        "semver constraint that has no match",
        "no tags",
        "latest sortmode",
        "latest sortmode, invalid tags",
        "StrategyAlphabetical",
    ],
)
def test_latest_version(
    tags: list[ImageTag], strategy: UpdateStrategy, constraint: str | None, current: str, expected: str
) -> None:
    newest = select_newest(tags, strategy, constraint)
    moved = needs_update(ImageTag(current), newest, strategy)
    assert (newest.name if moved and newest else current) == expected


def test_invalid_semver_constraint_is_an_error() -> None:
    with pytest.raises(ConfigError):
        select_newest(plain(["0.1", "2.0.3"]), S.SEMVER, "latest")


def test_digest_strategy_follows_the_tag() -> None:
    tags = [ImageTag("latest", created=datetime.fromtimestamp(6, UTC), digest="latest@sha:abcdefg")]
    newest = select_newest(tags, S.DIGEST, "latest")
    assert newest is not None and (newest.name, newest.digest) == ("latest", "latest@sha:abcdefg")
    assert needs_update(ImageTag("latest", digest="sha:1234567"), newest, S.DIGEST)
