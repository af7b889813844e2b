"""ferry.image.version against the real github.com/Masterminds/semver/v3 v3.4.0, live.

The oracle (``tests/image/oracle``) is a small Go program over the library Image Updater
ranks tags with, built offline from the module cache. Hypothesis generates versions and
constraints in batches; each batch is one oracle process, so thousands of cases cost
seconds. Parsing, ordering and constraint checks must agree on every case, including the
odd ones Image Updater users meet: ``v`` prefixes, missing minor/patch numbers, leading
zeros, wildcards, hyphen ranges and pre-releases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ferry.errors import ConfigError
from ferry.image.version import Constraint, Version
from tests.fixtures.oracles import ask_oracle, build_go_oracle, record_cases

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
ORACLE = "Masterminds semver v3.4.0"
# No shrinking: a failure already lists every disagreeing case of its batch, and shrinking a
# batch costs one oracle process per step.
BATCH = settings(
    max_examples=25,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


@pytest.fixture(scope="module")
def semver_oracle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_go_oracle(HERE / "oracle", tmp_path_factory.mktemp("oracle") / "semver-oracle")


# -- what to generate ------------------------------------------------------------------------

# Small numbers meet each other (and the constraints' bounds) often; the rest probe parsing.
_number = st.one_of(
    st.integers(0, 3).map(str),
    st.sampled_from(["00", "01", "007", "10", "18446744073709551615", "18446744073709551616"]),
    st.integers(0, 10**6).map(str),
)
_identifier = st.one_of(
    st.sampled_from(["alpha", "beta", "rc", "0", "1", "01", "10", "x-y", "-", "a1", "SNAPSHOT", ""]),
    st.text(alphabet="0123456789abcXYZ-", min_size=1, max_size=4),
)
_dotted = st.lists(_identifier, min_size=1, max_size=3).map(".".join)


@st.composite
def version_text(draw: st.DrawFn, *, valid_only: bool = False) -> str:
    """Tag-like text: mostly versions Masterminds reads, plus near misses (unless ``valid_only``)."""
    prefix = draw(st.sampled_from(["", "", "v"] if valid_only else ["", "", "v", "V", "=", " "]))
    count = draw(st.integers(1, 3) if valid_only else st.integers(1, 4))
    numbers = [draw(st.integers(0, 3).map(str) if valid_only else _number) for _ in range(count)]
    text = prefix + ".".join(numbers)
    pre = draw(st.sampled_from(["", "", "alpha", "rc.1", "rc.10", "beta.2", "0", "x-1"]) if valid_only
               else st.one_of(st.just(""), _dotted))  # fmt: skip
    if pre:
        text += "-" + pre
    build = "" if valid_only else draw(st.one_of(st.just(""), st.just(""), _dotted))
    if build:
        text += "+" + build
    if not valid_only:
        text += draw(st.sampled_from(["", "", "", "", " ", "\n", "ä", ".", "_x"]))
    return text


_OPERATORS = ["", "=", "!=", ">", "<", ">=", "=>", "<=", "=<", "~", "~>", "^"]


@st.composite
def comparator_version(draw: st.DrawFn) -> str:
    parts = draw(st.integers(1, 3))
    numbers = [draw(st.sampled_from(["0", "1", "2", "3", "x", "X", "*", "01"])) for _ in range(parts)]
    text = draw(st.sampled_from(["", "", "v"])) + ".".join(numbers)
    pre = draw(st.sampled_from(["", "", "", "alpha", "rc.1", "0", "beta"]))
    return f"{text}-{pre}" if pre else text


@st.composite
def constraint_text(draw: st.DrawFn) -> str:
    """OR of AND groups of comparators, hyphen ranges now and then, and some broken syntax."""
    groups = []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.integers(0, 5)) == 0:
            groups.append(f"{draw(comparator_version())} - {draw(comparator_version())}")
            continue
        comparators = [
            draw(st.sampled_from(_OPERATORS))
            + draw(st.sampled_from(["", "", " "]))
            + draw(comparator_version())
            for _ in range(draw(st.integers(1, 3)))
        ]
        separator = draw(st.sampled_from([" ", ", ", ",", "  "]))
        groups.append(separator.join(comparators))
    text = draw(st.sampled_from([" || ", "||", " ||"])).join(groups)
    return text + draw(st.sampled_from(["", "", "", "", " ", ",", " <<2", "!", "||", "|1", " - 2", " 3"]))


# -- the comparisons ---------------------------------------------------------------------------


def _ferry_parse(text: str) -> dict[str, Any]:
    version = Version.try_parse(text)
    if version is None:
        return {"ok": False}
    return {
        "ok": True,
        "major": str(version.major),
        "minor": str(version.minor),
        "patch": str(version.patch),
        "pre": version.prerelease,
        "meta": version.build,
        "str": str(version),
    }


@settings(BATCH, max_examples=15)
@given(st.lists(version_text(), min_size=200, max_size=200))
def test_parse_agrees_with_masterminds(semver_oracle: Path, texts: list[str]) -> None:
    expected = ask_oracle(semver_oracle, [{"op": "parse", "v": t} for t in texts])
    record_cases(f"{ORACLE}: parse", len(texts))
    differences = [
        (t, _ferry_parse(t), e) for t, e in zip(texts, expected, strict=True) if _ferry_parse(t) != e
    ]
    assert differences == []


@settings(BATCH, max_examples=10)
@given(st.lists(version_text(valid_only=True), min_size=60, max_size=60))
def test_ordering_agrees_with_masterminds(semver_oracle: Path, texts: list[str]) -> None:
    """Every ordered pair of a batch: drawing versions is the slow part, comparing them is not."""
    pairs = [(a, b) for a in texts for b in texts]
    expected = ask_oracle(semver_oracle, [{"op": "compare", "a": a, "b": b} for a, b in pairs])
    record_cases(f"{ORACLE}: compare", len(pairs))
    versions = {t: Version.parse(t) for t in texts}
    actual = [versions[a].compare(versions[b]) for a, b in pairs]
    assert [(p, a, e["cmp"]) for p, a, e in zip(pairs, actual, expected, strict=True) if a != e["cmp"]] == []


def _ferry_checks(text: str, versions: list[str]) -> dict[str, Any]:
    try:
        constraint = Constraint.parse(text)
    except ConfigError:
        return {"ok": False}
    return {"ok": True, "checks": [constraint.allows(Version.parse(v)) for v in versions]}


@BATCH
@given(
    st.lists(constraint_text(), min_size=40, max_size=40),
    st.lists(version_text(valid_only=True), min_size=30, max_size=30),
)
def test_constraints_agree_with_masterminds(
    semver_oracle: Path, constraints: list[str], versions: list[str]
) -> None:
    expected = ask_oracle(semver_oracle, [{"op": "constraint", "c": c, "vs": versions} for c in constraints])
    record_cases(f"{ORACLE}: constraint parse", len(constraints))
    record_cases(f"{ORACLE}: constraint check", sum(len(versions) for e in expected if e["ok"]))
    differences = []
    for text, answer in zip(constraints, expected, strict=True):
        mine = _ferry_checks(text, versions)
        if mine["ok"] != answer["ok"]:
            differences.append((text, "parses" if mine["ok"] else "refused", answer["ok"]))
        elif mine["ok"]:
            differences += [
                (text, v, m)
                for v, m, e in zip(versions, mine["checks"], answer["checks"], strict=True)
                if m != e
            ]
    assert differences == []


# Disagreements the live runs found, kept as plain cases (answers recorded from the oracle).
FOUND_BY_THE_ORACLE = [
    ("1 - 2 3", "3.0.0", False),  # a hyphen range followed by a comparator: three ANDed, not "<= 23"
    ("1 - 1.3 1.3", "1.3.0", True),
    ("1 - 1.3 1.3", "1.0.0", False),
]


@pytest.mark.parametrize(("constraint", "version", "allowed"), FOUND_BY_THE_ORACLE)
def test_cases_found_by_the_oracle(constraint: str, version: str, allowed: bool) -> None:
    assert Constraint.parse(constraint).allows(Version.parse(version)) is allowed


@pytest.mark.parametrize("constraint", ["0 ||1 - 2", "=<1.0 ||2 - 3", "1|2"])
def test_a_pipe_inside_a_version_part_is_refused_as_masterminds_does(constraint: str) -> None:
    with pytest.raises(ConfigError, match="invalid constraint"):
        Constraint.parse(constraint)
