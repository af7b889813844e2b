"""Masterminds/semver v3.4 compatibility of Version and Constraint."""

from __future__ import annotations

import itertools

import pytest
import semver
from hypothesis import given
from hypothesis import strategies as st

from ferry.errors import ConfigError
from ferry.image.version import Constraint, Version

PARSE_CASES = [
    ("full", "1.2.3", (1, 2, 3, "", "")),
    ("v prefix", "v1.2.3", (1, 2, 3, "", "")),
    ("major only", "v1", (1, 0, 0, "", "")),
    ("major and minor", "1.2", (1, 2, 0, "", "")),
    ("prerelease and build", "v1.2.3-rc.1+b5", (1, 2, 3, "rc.1", "b5")),
    ("seed tag: short major with prerelease", "v3-5a7147", (3, 0, 0, "5a7147", "")),
    ("leading zeros coerced like NewVersion", "01.02.03", (1, 2, 3, "", "")),
    ("zero prerelease", "1.0.0-0", (1, 0, 0, "0", "")),
    ("hyphens in identifiers", "1.0.0-x-y.z--1+build-7.sha", (1, 0, 0, "x-y.z--1", "build-7.sha")),
    ("build metadata may have leading zeros", "1.0.0+001", (1, 0, 0, "", "001")),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in PARSE_CASES], ids=[c[0] for c in PARSE_CASES])
def test_parse_lenient_versions(text: str, expected: tuple[int, int, int, str, str]) -> None:
    v = Version.parse(text)
    assert (v.major, v.minor, v.patch, v.prerelease, v.build) == expected
    assert v.original == text


INVALID_VERSIONS = [
    ("word", "latest"),
    ("empty", ""),
    ("four numbers", "1.2.3.4"),
    ("numeric prerelease with leading zero", "1.2.3-01"),
    ("empty prerelease", "1.2.3-"),
    ("empty build", "1.2.3+"),
    ("empty identifier", "1.2.3-a..b"),
    ("capital V", "V1.2.3"),
    ("bare v", "v"),
    ("non-ascii", "1.2.3-ä"),
    ("number beyond uint64", "18446744073709551616"),
    ("surrounding whitespace", " 1.2.3"),
    ("trailing newline", "1.2.3\n"),
    ("sha-like tag", "5a7147"),
]


@pytest.mark.parametrize("text", [c[1] for c in INVALID_VERSIONS], ids=[c[0] for c in INVALID_VERSIONS])
def test_invalid_versions_are_rejected(text: str) -> None:
    assert Version.try_parse(text) is None
    with pytest.raises(ValueError, match="invalid version"):
        Version.parse(text)


def test_uint64_max_is_accepted() -> None:
    assert Version.parse("18446744073709551615").major == 2**64 - 1


def test_precedence_follows_semver_spec_example() -> None:
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.9.0",
        "1.10.0",
        "2.0.0",
    ]
    versions = [Version.parse(t) for t in ordered]
    assert sorted(reversed(versions)) == versions
    assert all(a < b for a, b in itertools.pairwise(versions))


def test_build_metadata_does_not_affect_equality_or_hash() -> None:
    a, b = Version.parse("1.0.0+a"), Version.parse("v1.0.0+b")
    assert a == b
    assert hash(a) == hash(b)
    assert a.compare(b) == 0


# --- constraints: the Masterminds README examples and the quirks Image Updater inherits ---

CONSTRAINT_CASES = [
    # (scenario, constraint, version, allowed)
    ("tilde minor: ~1.2 allows 1.2.x", "~1.2", "1.2.9", True),
    ("tilde minor: ~1.2 stops before 1.3", "~1.2", "1.3.0", False),
    ("tilde patch: ~1.2.3 floor", "~1.2.3", "1.2.2", False),
    ("tilde major: ~1 allows 1.x", "~1", "1.9.0", True),
    ("tilde ~> alias", "~>1.2", "1.2.4", True),
    ("caret ^1 allows 1.x", "^1", "1.99.0", True),
    ("caret ^1 stops before 2", "^1", "2.0.0", False),
    ("caret ^1.2.3 floor", "^1.2.3", "1.2.2", False),
    ("caret ^0.2.3 stays on 0.2", "^0.2.3", "0.2.9", True),
    ("caret ^0.2.3 excludes 0.3", "^0.2.3", "0.3.0", False),
    ("caret ^0.0.3 is exact", "^0.0.3", "0.0.4", False),
    ("caret ^0.0 stays below 0.1", "^0.0", "0.0.9", True),
    ("caret ^0 stays below 1", "^0", "0.9.9", True),
    ("caret ^0 excludes 1.0.0", "^0", "1.0.0", False),
    ("wildcard 1.x", "1.x", "1.5.0", True),
    ("wildcard 1.x excludes 2", "1.x", "2.0.0", False),
    ("wildcard 1.2.* allows patches", "1.2.*", "1.2.7", True),
    ("wildcard 1.2.X excludes next minor", "1.2.X", "1.3.0", False),
    ("wildcard * allows releases", "*", "4.5.6", True),
    ("bare 1.2 acts like ~1.2", "1.2", "1.2.5", True),
    ("space-separated AND lower bound", ">=1.2 <2", "1.2.0", True),
    ("space-separated AND upper bound", ">=1.2 <2", "2.0.0", False),
    ("comma-separated AND", ">= 1.2, < 2", "1.9.9", True),
    ("hyphen range lower", "1.2 - 1.4.5", "1.2.0", True),
    ("hyphen range upper inclusive", "1.2 - 1.4.5", "1.4.5", True),
    ("hyphen range above", "1.2 - 1.4.5", "1.4.6", False),
    ("OR takes either side: >1 means 2 or more", ">1 || <0.5", "1.5.0", False),
    ("OR right side", ">1 || <0.5", "0.4.0", True),
    ("OR left side", ">1 || <0.5", "2.0.0", True),
    ("not equal", "!=1.2.3", "1.2.3", False),
    ("not equal wildcard", "!=4.x", "4.1.0", False),
    ("=> and =< aliases", "=>1.0 =<1.1", "1.1.9", True),
    ("equal", "=2.0.0", "2.0.0", True),
    ("<= with dirty minor includes patches", "<=1.1", "1.1.9", True),
    ("v prefix in constraint", ">=v1.2.0", "1.2.0", True),
    # Pre-releases: only where the constraint carries one.
    ("no prerelease in constraint excludes prereleases", ">=1.0.0", "1.1.0-rc.1", False),
    (">=1.0.0-0 admits prereleases", ">=1.0.0-0", "1.1.0-rc.1", True),
    (">=1.0.0-0 still orders them", ">=1.0.0-0", "0.9.0-rc.1", False),
    ("^2.0.0-rc admits later rc", "^2.0.0-rc", "2.0.0-rc.3", True),
    ("^2.0.0-rc admits prerelease of a later minor", "^2.0.0-rc", "2.1.0-beta", True),
    ("^2.0.0-rc excludes earlier prerelease", "^2.0.0-rc", "2.0.0-alpha", False),
    ("^2.0.0-rc excludes next major prerelease", "^2.0.0-rc", "3.0.0-rc.1", False),
    ("~1.2.3-beta.2 admits beta.4", "~1.2.3-beta.2", "1.2.3-beta.4", True),
    ("* excludes prereleases", "*", "1.2.3-alpha.1", False),
    ("*-0 admits prereleases", "*-0", "1.2.3-alpha.1", True),
    # Masterminds v3.4: one prerelease comparator opens the whole AND group...
    ("AND group opened by one prerelease comparator", ">=1.0.0-0 <2.0.0", "1.5.0-rc.1", True),
    # ...but not the other OR branches.
    ("OR branch without prerelease stays closed", ">=3.0.0-0 <4 || ^1", "1.5.0-rc.1", False),
    ("seed tag v3-5a7147 is a prerelease", ">=3", "v3-5a7147", False),
    ("seed tag v3-5a7147 under >=3.0.0-0", ">=3.0.0-0", "v3-5a7147", True),
]


@pytest.mark.parametrize(
    ("constraint", "version", "allowed"),
    [c[1:] for c in CONSTRAINT_CASES],
    ids=[c[0] for c in CONSTRAINT_CASES],
)
def test_constraint_check(constraint: str, version: str, allowed: bool) -> None:
    assert Constraint.parse(constraint).allows(Version.parse(version)) is allowed


INVALID_CONSTRAINTS = [
    ("word", "foo"),
    ("operator without version", ">= bar"),
    ("junk before operator", "BAR >= 1.2.3"),
    ("four numbers", "12.3.4.1234"),
    ("operator glued to previous version", "12.3.34~ 1.2.3"),
    ("empty", ""),
    ("dangling OR", ">=1.2 ||"),
    ("wildcard mixed into a number", "1.x2"),
    ("leading zero numeric prerelease", ">=1.0.0-01"),
    ("unknown operator", "=~1.2"),
]


@pytest.mark.parametrize("text", [c[1] for c in INVALID_CONSTRAINTS], ids=[c[0] for c in INVALID_CONSTRAINTS])
def test_invalid_constraints_raise_config_error_naming_them(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Constraint.parse(text)
    assert f"'{text}'" in str(caught.value)


def test_constraint_groups_split_like_masterminds() -> None:
    assert [len(g) for g in Constraint.parse("3 - 4 || => 3.0, < 4").groups] == [2, 2]
    assert [len(g) for g in Constraint.parse("12.3.34 ~1.2.3").groups] == [2]
    assert str(Constraint.parse("~1.2")) == "~1.2"


# --- properties ---------------------------------------------------------------

_numeric_id = st.integers(min_value=0, max_value=10**6).map(str)
_alnum_id = st.from_regex(r"[0-9A-Za-z-]{0,5}[A-Za-z-][0-9A-Za-z-]{0,5}", fullmatch=True)
_identifier = st.one_of(_numeric_id, _alnum_id)
_dotted = st.lists(_identifier, min_size=1, max_size=4).map(".".join)
_build = st.lists(st.from_regex(r"[0-9A-Za-z-]{1,6}", fullmatch=True), min_size=1, max_size=3).map(".".join)
_number = st.integers(min_value=0, max_value=2**64 - 1)

versions = st.builds(
    lambda ma, mi, pa, pre, build: Version.parse(
        f"{ma}.{mi}.{pa}" + (f"-{pre}" if pre else "") + (f"+{build}" if build else "")
    ),
    st.integers(0, 3),
    st.integers(0, 3),
    _number | st.integers(0, 3),
    st.none() | _dotted,
    st.none() | _build,
)


@given(versions)
def test_str_round_trips(v: Version) -> None:
    again = Version.parse(str(v))
    assert again == v
    assert (again.major, again.minor, again.patch, again.prerelease, again.build) == (
        v.major,
        v.minor,
        v.patch,
        v.prerelease,
        v.build,
    )


@given(versions, versions)
def test_ordering_is_trichotomous_and_matches_semver_spec(a: Version, b: Version) -> None:
    outcomes = [a < b, a == b, a > b]
    assert outcomes.count(True) == 1
    assert (a <= b) == (a < b or a == b)
    assert (a >= b) == (a > b or a == b)
    assert a.compare(b) == -b.compare(a)
    # python-semver implements SemVer 2.0 precedence; it must agree on strict versions.
    assert a.compare(b) == semver.Version.parse(str(a)).compare(str(b))


@given(versions, versions, versions)
def test_ordering_is_transitive(a: Version, b: Version, c: Version) -> None:
    low, mid, high = sorted([a, b, c])
    assert low <= mid <= high
    assert low <= high
    if a == b and b == c:
        assert a == c and hash(a) == hash(c)
