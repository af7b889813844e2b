"""Masterminds/semver v3.4.0's own test tables (constraints_test.go, version_test.go), run against Ferry.

The rows are transcribed as data (``upstream/masterminds_*.yaml``, by
``upstream/transcribe_go_tables.py``). Tables for features Image Updater never uses
(``IncludePrerelease``, strict parsing, ``Validate``'s messages, ``Inc``/``Set*``,
marshalling) are not run; the README lists them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ferry.errors import ConfigError
from ferry.image import version as semver
from ferry.image.version import Constraint, Version

DATA = Path(__file__).parent / "upstream"
CONSTRAINTS = yaml.safe_load((DATA / "masterminds_constraints.yaml").read_text())["tables"]
VERSIONS = yaml.safe_load((DATA / "masterminds_version.yaml").read_text())["tables"]

# Masterminds' comparator functions and the operators Ferry dispatches to them.
_GO_FUNCS = {
    "constraintTildeOrEqual": semver._tilde_or_equal,
    "constraintGreaterThanEqual": semver._greater_equal,
    "constraintLessThanEqual": semver._less_equal,
    "constraintGreaterThan": semver._greater_than,
    "constraintLessThan": semver._less_than,
}


def table(tables: dict[str, list[Any]], name: str) -> list[Any]:
    return [
        pytest.param(*(row if isinstance(row, list) else [row]), id=f"{i}")
        for i, row in enumerate(tables[name])
    ]


@pytest.mark.parametrize(("text", "func", "con", "err"), table(CONSTRAINTS, "TestParseConstraint"))
def test_parse_constraint(text: str, func: dict[str, str] | None, con: str, err: bool) -> None:
    if err:
        with pytest.raises(ConfigError):
            semver._parse_comparator(text, text)
        return
    comparator = semver._parse_comparator(text, text)
    assert str(comparator.version) == con
    assert func is not None and semver._CHECKS[comparator.operator] is _GO_FUNCS[func["ident"]]


@pytest.mark.parametrize(("text", "version", "check"), table(CONSTRAINTS, "TestConstraintCheck"))
def test_constraint_check(text: str, version: str, check: bool) -> None:
    comparator = semver._parse_comparator(text, text)
    has_pre = bool(comparator.version.prerelease)
    assert comparator.check(Version.parse(version), has_pre) is check


@pytest.mark.parametrize(("text", "ors", "count", "err"), table(CONSTRAINTS, "TestNewConstraint"))
def test_new_constraint(text: str, ors: int, count: int, err: bool) -> None:
    if err:
        with pytest.raises(ConfigError):
            Constraint.parse(text)
        return
    parsed = Constraint.parse(text)
    assert (len(parsed.groups), len(parsed.groups[0])) == (ors, count)


@pytest.mark.parametrize(("text", "version", "check"), table(CONSTRAINTS, "TestConstraintsCheck"))
def test_constraints_check(text: str, version: str, check: bool) -> None:
    assert Constraint.parse(text).allows(Version.parse(version)) is check


@pytest.mark.parametrize(("text", "version", "check"), table(CONSTRAINTS, "TestConstraintsValidate"))
def test_constraints_validate(text: str, version: str, check: bool) -> None:
    # Validate's verdict is Check's; its messages are not something Image Updater shows.
    assert Constraint.parse(text).allows(Version.parse(version)) is check


@pytest.mark.parametrize(("text", "rewritten"), table(CONSTRAINTS, "TestRewriteRange"))
def test_rewrite_range(text: str, rewritten: str) -> None:
    assert semver._rewrite_hyphen_ranges(text) == rewritten


@pytest.mark.parametrize(("text", "is_x"), table(CONSTRAINTS, "TestIsX"))
def test_is_x(text: str, is_x: bool) -> None:
    assert (text in semver._WILDCARDS) is is_x


@pytest.mark.parametrize(("text", "err"), table(VERSIONS, "TestNewVersion"))
def test_new_version(text: str, err: bool) -> None:
    assert (Version.try_parse(text) is None) is err


@pytest.mark.parametrize("text", table(VERSIONS, "TestOriginal"))
def test_original(text: str) -> None:
    assert Version.parse(text).original == text


@pytest.mark.parametrize(("text", "expected"), table(VERSIONS, "TestCoerceString"))
def test_coerce_string(text: str, expected: str) -> None:
    assert str(Version.parse(text)) == expected


@pytest.mark.parametrize(("a", "b", "expected"), table(VERSIONS, "TestCompare"))
def test_compare(a: str, b: str, expected: int) -> None:
    assert Version.parse(a).compare(Version.parse(b)) == expected


_COMPARISONS = {
    "TestLessThan": lambda a, b: a < b,
    "TestLessThanEqual": lambda a, b: a <= b,
    "TestGreaterThan": lambda a, b: a > b,
    "TestGreaterThanEqual": lambda a, b: a >= b,
    # nil Versions have no counterpart in Ferry; those rows compare None as Go's nil receiver does.
    "TestEqual": lambda a, b: a == b,
}


@pytest.mark.parametrize(
    ("name", "a", "b", "expected"),
    [
        pytest.param(name, *row, id=f"{name}-{i}")
        for name in _COMPARISONS
        for i, row in enumerate(VERSIONS[name])
    ],
)
def test_comparisons(name: str, a: str | None, b: str | None, expected: bool) -> None:
    left = None if a is None else Version.parse(a)
    right = None if b is None else Version.parse(b)
    assert _COMPARISONS[name](left, right) is expected
