"""Update strategies: select_newest and needs_update."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ferry.errors import ConfigError
from ferry.image.filters import ALLOW_ALL, TagFilter
from ferry.image.strategy import UpdateStrategy, needs_update, select_newest
from ferry.image.tags import ImageTag
from ferry.image.version import Version

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


def tags(*names: str) -> list[ImageTag]:
    return [ImageTag(n) for n in names]


PARSE = [
    ("semver", "semver", UpdateStrategy.SEMVER),
    ("upper case", "SEMVER", UpdateStrategy.SEMVER),
    ("whitespace", " newest-build ", UpdateStrategy.NEWEST_BUILD),
    ("latest alias", "latest", UpdateStrategy.NEWEST_BUILD),
    ("alphabetical", "alphabetical", UpdateStrategy.ALPHABETICAL),
    ("name alias", "name", UpdateStrategy.ALPHABETICAL),
    ("digest", "digest", UpdateStrategy.DIGEST),
    ("absent means semver", None, UpdateStrategy.SEMVER),
    ("empty means semver", "", UpdateStrategy.SEMVER),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in PARSE], ids=[c[0] for c in PARSE])
def test_parse_strategy(text: str | None, expected: UpdateStrategy) -> None:
    assert UpdateStrategy.parse(text) is expected


@pytest.mark.parametrize("text", ["newest", "semver2", "latest-build", "digests"])
def test_unknown_strategy_is_a_config_error_naming_it(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        UpdateStrategy.parse(text)
    assert f"'{text}'" in str(caught.value)


@pytest.mark.parametrize(
    ("strategy", "created", "digest", "constraint"),
    [
        (UpdateStrategy.SEMVER, False, False, False),
        (UpdateStrategy.NEWEST_BUILD, True, False, False),
        (UpdateStrategy.ALPHABETICAL, False, False, False),
        (UpdateStrategy.DIGEST, False, True, True),
    ],
    ids=lambda v: v.value if isinstance(v, UpdateStrategy) else str(v),
)
def test_strategy_predicates(strategy: UpdateStrategy, created: bool, digest: bool, constraint: bool) -> None:
    assert (strategy.needs_created_time, strategy.needs_digest, strategy.needs_constraint) == (
        created,
        digest,
        constraint,
    )


SEMVER = [
    # (scenario, tag names, constraint, expected)
    ("highest version wins", ["v1.0.0", "v1.2.0", "v1.10.0"], None, "v1.10.0"),
    ("non-semver tags are dropped", ["latest", "main", "v1.0.0", "sha-5a7147"], None, "v1.0.0"),
    ("no semver tag means nothing to update", ["latest", "main"], None, None),
    ("no tags at all", [], None, None),
    ("pre-releases excluded without a constraint", ["1.0.0", "1.1.0-rc.1"], None, "1.0.0"),
    ("seed-style v3-5a7147 is a pre-release", ["v2", "v3-5a7147"], None, "v2"),
    ("only pre-releases and no constraint", ["1.1.0-rc.1"], None, None),
    ("constraint ~1.2", ["1.2.0", "1.2.9", "1.3.0"], "~1.2", "1.2.9"),
    ("constraint ^1", ["0.9.0", "1.0.0", "1.9.9", "2.0.0"], "^1", "1.9.9"),
    ("constraint ^0.2.3", ["0.2.2", "0.2.5", "0.3.0"], "^0.2.3", "0.2.5"),
    ("constraint 1.x", ["1.0.0", "1.5.0", "2.0.0"], "1.x", "1.5.0"),
    ("constraint >=1.2 <2", ["1.1.0", "1.2.0", "1.9.0", "2.0.0"], ">=1.2 <2", "1.9.0"),
    ("hyphen range 1.2 - 1.4.5", ["1.1.0", "1.2.0", "1.4.5", "1.4.6"], "1.2 - 1.4.5", "1.4.5"),
    ("OR: >1 excludes 1.5, <0.5 admits 0.4", ["0.4.0", "0.6.0", "1.5.0"], ">1 || <0.5", "0.4.0"),
    ("OR: left side wins when higher", ["0.4.0", "1.5.0", "2.1.0"], ">1 || <0.5", "2.1.0"),
    ("constraint matching nothing", ["1.0.0"], ">=2", None),
    ("pre-release constraint >=1.0.0-0 admits rc", ["0.9.0", "1.0.0-rc.1"], ">=1.0.0-0", "1.0.0-rc.1"),
    ("pre-release constraint still prefers the release", ["1.0.0-rc.1", "1.0.0"], ">=1.0.0-0", "1.0.0"),
    ("^2.0.0-rc admits later pre-releases", ["1.9.0", "2.0.0-rc.1", "2.0.0-rc.2"], "^2.0.0-rc", "2.0.0-rc.2"),
    ("^2.0.0-rc excludes 3.x", ["2.0.0-rc.2", "3.0.0"], "^2.0.0-rc", "2.0.0-rc.2"),
    ("AND group opened by a pre-release bound", ["1.4.0", "1.5.0-rc.1"], ">=1.0.0-0 <2.0.0", "1.5.0-rc.1"),
    ("equal versions broken by name", ["1.0", "1.0.0", "v1.0.0"], None, "v1.0.0"),
    ("equal versions with build metadata broken by name", ["1.0.0+a", "1.0.0+b"], None, "1.0.0+b"),
    ("empty constraint is no constraint", ["1.0.0", "2.0.0-rc.1"], "", "1.0.0"),
    ("whitespace constraint is no constraint", ["1.0.0"], "  ", "1.0.0"),
]


@pytest.mark.parametrize(
    ("names", "constraint", "expected"), [c[1:] for c in SEMVER], ids=[c[0] for c in SEMVER]
)
def test_semver_strategy(names: list[str], constraint: str | None, expected: str | None) -> None:
    newest = select_newest(tags(*names), UpdateStrategy.SEMVER, constraint)
    assert (newest.name if newest else None) == expected


def test_semver_respects_the_tag_filter() -> None:
    only_v = TagFilter.parse(allow_tags="regexp:^v", ignore_tags="v2*")
    newest = select_newest(tags("v1.0.0", "v2.0.0", "3.0.0"), UpdateStrategy.SEMVER, None, only_v)
    assert newest == ImageTag("v1.0.0")


def test_semver_invalid_constraint_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError) as caught:
        select_newest(tags("1.0.0"), UpdateStrategy.SEMVER, ">= banana")
    assert "'>= banana'" in str(caught.value)


NEWEST_BUILD = [
    # (scenario, [(name, created hour or None)], constraint, expected)
    ("latest creation time wins", [("a", 1), ("b", 3), ("c", 2)], None, "b"),
    ("equal times broken by name, last wins", [("a", 1), ("c", 1), ("b", 1)], None, "c"),
    ("missing time counts as oldest", [("z", None), ("a", 1)], None, "a"),
    ("all times missing falls back to name", [("a", None), ("b", None)], None, "b"),
    (
        "seed: v3-5a7147 pushed with a newer build",
        [("v1-0a1b2c", 1), ("v3-5a7147", 5), ("v2-9f8e7d", 3)],
        None,
        "v3-5a7147",
    ),
    ("semver constraint is ignored", [("1.0.0", 5), ("2.0.0", 1)], "^2", "1.0.0"),
    ("invalid constraint is ignored, as Image Updater does", [("x", 1)], ">= banana", "x"),
    ("no tags", [], None, None),
]


@pytest.mark.parametrize(
    ("spec", "constraint", "expected"), [c[1:] for c in NEWEST_BUILD], ids=[c[0] for c in NEWEST_BUILD]
)
def test_newest_build_strategy(
    spec: list[tuple[str, int | None]], constraint: str | None, expected: str | None
) -> None:
    candidates = [ImageTag(name, at(h) if h is not None else None) for name, h in spec]
    newest = select_newest(candidates, UpdateStrategy.NEWEST_BUILD, constraint)
    assert (newest.name if newest else None) == expected


def test_newest_build_reads_naive_times_as_utc() -> None:
    naive_later = ImageTag("naive", datetime(2025, 1, 1, 2))
    aware_earlier = ImageTag("aware", datetime(2025, 1, 1, 1, tzinfo=UTC))
    assert select_newest([naive_later, aware_earlier], UpdateStrategy.NEWEST_BUILD) == naive_later


def test_newest_build_respects_ignore_tags() -> None:
    candidates = [ImageTag("latest", at(9)), ImageTag("v1", at(1))]
    newest = select_newest(
        candidates, UpdateStrategy.NEWEST_BUILD, None, TagFilter.parse(ignore_tags="latest")
    )
    assert newest == candidates[1]


ALPHABETICAL = [
    ("lexically last wins", ["a", "c", "b"], None, "c"),
    ("byte order: lowercase after uppercase", ["Zeta", "alpha"], None, "alpha"),
    ("not numeric: v9 after v10", ["v10", "v9"], None, "v9"),
    ("constraint is ignored", ["1.0.0", "2.0.0"], "^1", "2.0.0"),
    ("no tags", [], None, None),
]


@pytest.mark.parametrize(
    ("names", "constraint", "expected"), [c[1:] for c in ALPHABETICAL], ids=[c[0] for c in ALPHABETICAL]
)
def test_alphabetical_strategy(names: list[str], constraint: str | None, expected: str | None) -> None:
    newest = select_newest(tags(*names), UpdateStrategy.ALPHABETICAL, constraint)
    assert (newest.name if newest else None) == expected


def test_ignore_star_leaves_nothing_for_any_strategy() -> None:
    everything = [ImageTag("1.0.0", at(1), "sha256:a"), ImageTag("latest", at(2), "sha256:b")]
    ignore_all = TagFilter.parse(ignore_tags="*")
    for strategy in UpdateStrategy:
        constraint = "latest" if strategy is UpdateStrategy.DIGEST else None
        assert select_newest(everything, strategy, constraint, ignore_all) is None


DIGEST_TAGS = [ImageTag("latest", at(1), "sha256:new"), ImageTag("v1", at(2), "sha256:v1")]


def test_digest_follows_the_constraint_tag_and_carries_its_digest() -> None:
    newest = select_newest(DIGEST_TAGS, UpdateStrategy.DIGEST, "latest")
    assert newest is not None
    assert (newest.name, newest.digest, newest.with_digest()) == ("latest", "sha256:new", "latest@sha256:new")


def test_digest_missing_tag_means_nothing_to_update() -> None:
    assert select_newest(DIGEST_TAGS, UpdateStrategy.DIGEST, "stable") is None


def test_digest_tag_removed_by_filter_means_nothing_to_update() -> None:
    no_latest = TagFilter.parse(ignore_tags="latest")
    assert select_newest(DIGEST_TAGS, UpdateStrategy.DIGEST, "latest", no_latest) is None


@pytest.mark.parametrize("constraint", [None, "", " "], ids=["none", "empty", "blank"])
def test_digest_without_constraint_is_a_config_error(constraint: str | None) -> None:
    with pytest.raises(ConfigError, match="digest strategy needs a constraint"):
        select_newest(DIGEST_TAGS, UpdateStrategy.DIGEST, constraint)


def test_digest_candidate_without_digest_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="no digest"):
        select_newest([ImageTag("latest")], UpdateStrategy.DIGEST, "latest")


NEEDS_UPDATE = [
    # (scenario, current, newest, strategy, expected)
    ("semver: newer name", ImageTag("1.0.0"), ImageTag("1.1.0"), UpdateStrategy.SEMVER, True),
    ("semver: same name", ImageTag("1.1.0"), ImageTag("1.1.0"), UpdateStrategy.SEMVER, False),
    (
        "semver: current tag not semver updates",
        ImageTag("latest"),
        ImageTag("1.2.0"),
        UpdateStrategy.SEMVER,
        True,
    ),
    (
        "semver: constraint demands a lower version",
        ImageTag("2.0.0"),
        ImageTag("1.9.0"),
        UpdateStrategy.SEMVER,
        True,
    ),
    ("no current image", None, ImageTag("1.0.0"), UpdateStrategy.SEMVER, True),
    ("nothing newest", ImageTag("1.0.0"), None, UpdateStrategy.SEMVER, False),
    ("nothing at all", None, None, UpdateStrategy.NEWEST_BUILD, False),
    ("newest-build: other tag", ImageTag("v1-aaa"), ImageTag("v3-5a7147"), UpdateStrategy.NEWEST_BUILD, True),
    ("alphabetical: same tag", ImageTag("b"), ImageTag("b"), UpdateStrategy.ALPHABETICAL, False),
    (
        "digest: new digest behind the same tag",
        ImageTag("latest", digest="sha256:old"),
        ImageTag("latest", digest="sha256:new"),
        UpdateStrategy.DIGEST,
        True,
    ),
    (
        "digest: same digest",
        ImageTag("latest", digest="sha256:new"),
        ImageTag("latest", digest="sha256:new"),
        UpdateStrategy.DIGEST,
        False,
    ),
    (
        "digest: current not pinned yet",
        ImageTag("latest"),
        ImageTag("latest", digest="sha256:new"),
        UpdateStrategy.DIGEST,
        True,
    ),
]


@pytest.mark.parametrize(
    ("current", "newest", "strategy", "expected"),
    [c[1:] for c in NEEDS_UPDATE],
    ids=[c[0] for c in NEEDS_UPDATE],
)
def test_needs_update(
    current: ImageTag | None, newest: ImageTag | None, strategy: UpdateStrategy, expected: bool
) -> None:
    assert needs_update(current, newest, strategy) is expected


def test_current_tag_not_semver_flows_to_the_newest_version() -> None:
    # Image Updater errors here; Ferry moves off "latest" to the newest matching version.
    current = ImageTag("latest")
    newest = select_newest(tags("latest", "1.0.0", "1.1.0", "2.0.0"), UpdateStrategy.SEMVER, "^1")
    assert newest == ImageTag("1.1.0")
    assert needs_update(current, newest, UpdateStrategy.SEMVER)


# --- properties ---------------------------------------------------------------

_names = st.sampled_from(
    ["1.0.0", "v1.2", "2.0.0-rc.1", "1.0", "v1.0.0", "latest", "main", "v3-5a7147", "0.9.9", "10.0.0", "v2"]
)
_tags = st.lists(
    st.builds(
        ImageTag,
        _names,
        st.none() | st.integers(0, 5).map(at),
        st.none() | st.sampled_from(["sha256:a", "sha256:b"]),
    ),
    max_size=8,
)
_filters = st.sampled_from(
    [ALLOW_ALL, TagFilter.parse(allow_tags="regexp:^v"), TagFilter.parse(ignore_tags="1*, main")]
)
_constraints = st.sampled_from([None, "^1", ">=1.0.0-0", "~1.2 || >=10", "1.x"])


@given(_tags, st.sampled_from(list(UpdateStrategy)), _constraints, _filters)
def test_result_is_an_element_of_the_filtered_input(
    candidates: list[ImageTag], strategy: UpdateStrategy, constraint: str | None, tag_filter: TagFilter
) -> None:
    if strategy is UpdateStrategy.DIGEST:
        constraint = "latest"
        candidates = [t if t.digest else ImageTag(t.name, t.created, "sha256:c") for t in candidates]
    newest = select_newest(candidates, strategy, constraint, tag_filter)
    allowed = [t for t in candidates if tag_filter.allows(t.name)]
    assert newest is None or any(newest is t for t in allowed)
    if strategy in (UpdateStrategy.NEWEST_BUILD, UpdateStrategy.ALPHABETICAL):
        # These strategies qualify every allowed tag, so they only come back empty-handed on no tags.
        assert (newest is None) == (not allowed)


@given(_tags, _filters)
def test_semver_without_constraint_picks_the_highest_release(
    candidates: list[ImageTag], tag_filter: TagFilter
) -> None:
    newest = select_newest(candidates, UpdateStrategy.SEMVER, None, tag_filter)
    releases = [
        v
        for t in candidates
        if tag_filter.allows(t.name) and (v := Version.try_parse(t.name)) is not None and not v.prerelease
    ]
    if not releases:
        assert newest is None
    else:
        assert newest is not None
        assert Version.parse(newest.name) == max(releases)
