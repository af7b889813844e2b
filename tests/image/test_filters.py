"""allow-tags and ignore-tags, with Go path.Match semantics for the globs."""

from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ferry.errors import ConfigError
from ferry.image.filters import ALLOW_ALL, GlobPattern, TagFilter

ALLOWS = [
    # (scenario, allow-tags, ignore-tags, tag, allowed)
    ("no annotations allow everything", None, None, "anything", True),
    ("empty values allow everything", "", "", "anything", True),
    ("any", "any", None, "latest", True),
    ("ANY is case-insensitive", "ANY", None, "latest", True),
    ("regexp matches", r"regexp:^v[0-9]+\.[0-9]+\.[0-9]+$", None, "v1.2.3", True),
    ("regexp rejects", r"regexp:^v[0-9]+\.[0-9]+\.[0-9]+$", None, "v1.2", False),
    ("regexp is a search, not a full match", "regexp:rc", None, "1.0.0-rc1", True),
    ("regexp kind is case-insensitive", "REGEXP:^v", None, "v1", True),
    ("regexp may contain colons", "regexp:^build:[0-9]+$", None, "build:7", True),
    ("ignore * ignores every tag", None, "*", "v1.2.3", False),
    ("ignore * ignores even the empty-looking tag", "any", "*", "latest", False),
    ("ignore list: exact entry", None, "latest, *-debug", "latest", False),
    ("ignore list: glob entry", None, "latest, *-debug", "v2-debug", False),
    ("ignore list: untouched tag", None, "latest, *-debug", "v2", True),
    ("ignore ? matches one character", None, "v1.?", "v1.2", False),
    ("ignore ? does not match two", None, "v1.?", "v1.10", True),
    ("ignore negated class", None, "[^v]*", "latest", False),
    ("ignore negated class keeps v tags", None, "[^v]*", "v1", True),
    ("ignore range class", None, "v[0-3]*", "v2.0", False),
    ("ignore escaped star is literal", None, r"latest\*", "latest-x", True),
    ("empty entries are skipped", None, " , ,latest,", "latest", False),
    ("allow and ignore combined: allowed", "regexp:^v", "v0*", "v1.0", True),
    ("allow and ignore combined: ignored", "regexp:^v", "v0*", "v0.9", False),
    ("allow and ignore combined: not allowed", "regexp:^v", "v0*", "latest", False),
]


@pytest.mark.parametrize(
    ("allow", "ignore", "tag", "allowed"), [c[1:] for c in ALLOWS], ids=[c[0] for c in ALLOWS]
)
def test_tag_filter(allow: str | None, ignore: str | None, tag: str, allowed: bool) -> None:
    assert TagFilter.parse(allow_tags=allow, ignore_tags=ignore).allows(tag) is allowed


def test_default_filter_allows_all() -> None:
    assert ALLOW_ALL.allows("x")
    assert TagFilter.parse() == ALLOW_ALL


INVALID_ALLOW = [
    ("unknown kind", "regex:^v", "regex:^v"),
    ("semver is not an allow-tags kind", "semver:^1", "semver:^1"),
    ("bare word", "foo", "foo"),
    ("invalid regexp", "regexp:(", "("),
    ("invalid repeat", "regexp:*v", "*v"),
]


@pytest.mark.parametrize(
    ("value", "named"), [c[1:] for c in INVALID_ALLOW], ids=[c[0] for c in INVALID_ALLOW]
)
def test_invalid_allow_tags_raise_config_error_naming_it(value: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        TagFilter.parse(allow_tags=value)
    assert f"'{named}'" in str(caught.value)


INVALID_GLOBS = [
    ("unterminated class", "["),
    ("unterminated class after chars", "v[0-9"),
    ("trailing backslash", "abc\\"),
    ("empty class", "[]"),
    ("class starting with ]", "[]a]"),
    ("class starting with dash", "[-a]"),
    ("range missing its end", "[a-]"),
    ("second dash after a range", "[a-c-e]"),
    ("backslash at end of class", "[a\\"),
]


@pytest.mark.parametrize("pattern", [c[1] for c in INVALID_GLOBS], ids=[c[0] for c in INVALID_GLOBS])
def test_invalid_ignore_globs_raise_config_error_naming_them(pattern: str) -> None:
    with pytest.raises(ConfigError) as caught:
        TagFilter.parse(ignore_tags=f"latest,{pattern}")
    assert f"'{pattern}'" in str(caught.value)


GO_MATCH = [
    # (scenario, pattern, name, matched) — Go's path.Match results.
    ("star does not cross slash", "*", "a/b", False),
    ("star matches empty", "a*", "a", True),
    ("question mark", "a?c", "abc", True),
    ("question mark does not match slash", "a?c", "a/c", False),
    ("range", "[a-c]x", "bx", True),
    ("negated range", "[^a-c]x", "bx", False),
    ("negated range outside", "[^a-c]x", "dx", True),
    ("escaped bracket in class", "[\\]]", "]", True),
    ("escaped star", "\\*", "*", True),
    ("escaped star is not a wildcard", "\\*", "a", False),
    ("reversed range is valid but empty", "[z-a]", "m", False),
    ("several stars", "*x*", "axb", True),
    ("empty pattern matches empty name", "", "", True),
    ("empty pattern does not match text", "", "a", False),
    ("class with several ranges", "[a-cx-z0]", "y", True),
    ("caret only negates at the start", "[a^]", "^", True),
    ("literal dot", "v1.2", "v1x2", False),
]


@pytest.mark.parametrize(
    ("pattern", "name", "matched"), [c[1:] for c in GO_MATCH], ids=[c[0] for c in GO_MATCH]
)
def test_glob_matches_like_go_path_match(pattern: str, name: str, matched: bool) -> None:
    assert GlobPattern.parse(pattern).matches(name) is matched


@given(st.text(alphabet="ab*?", max_size=8), st.text(alphabet="ab.", max_size=8))
def test_simple_globs_agree_with_fnmatch(pattern: str, name: str) -> None:
    # Without '/', brackets or backslashes Go's path.Match and fnmatch agree.
    assert GlobPattern.parse(pattern).matches(name) == fnmatch.fnmatchcase(name, pattern)
