"""The tag template mini-language: parsing, rendering, and what it refuses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ferry.ci.template import Placeholder, Template, render_tag

SHA = "5a7147e0c0ffee5a7147e0c0ffee5a7147e0c0ff"


@pytest.mark.parametrize(
    ("template", "values", "expected"),
    [
        ("{version}-{sha:6}", {"version": "v3"}, "v3-5a7147"),
        ("{sha}", {}, SHA),
        ("{sha:12}", {}, SHA[:12]),
        ("build-{ref}", {"ref": "release-v3"}, "build-release-v3"),
        ("{version:2}", {"version": "v3.1.4"}, "v3"),
        ("{sha:100}", {}, SHA),
        ("{missing}x", {"missing": None}, "x"),
        ("v{major}.{minor}", {"major": "1", "minor": "2"}, "v1.2"),
    ],
    ids=[
        "seed example version and short sha",
        "full sha",
        "sha truncated to 12",
        "builtin ref",
        "length applies to a named group",
        "length longer than the value keeps it whole",
        "group that did not participate renders empty",
        "literal text between groups",
    ],
)
def test_render(template: str, values: dict[str, str | None], expected: str) -> None:
    parsed = Template.parse(template, names={"version", "major", "minor", "missing"})
    assert parsed.render({"sha": SHA, **values}) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{release}", "unknown placeholder {release}"),
        ("{sha:0}", "keeps zero characters"),
        ("{version", "stray brace"),
        ("v}", "stray brace"),
        ("v/{version}", "characters an image tag cannot hold"),
        ("", "empty"),
        ("{version:-1}", "stray brace"),
    ],
    ids=[
        "unknown name",
        "zero length",
        "unclosed placeholder",
        "lone closing brace",
        "slash in literal",
        "empty template",
        "negative length is not a placeholder",
    ],
)
def test_parse_rejects(template: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Template.parse(template, names={"version"})


def test_build_arg_templates_allow_free_literals() -> None:
    parsed = Template.parse("built from {ref} at {sha:7}", names=set(), tag_literals=False)
    assert parsed.render({"ref": "release-v3", "sha": SHA}) == "built from release-v3 at 5a7147e"
    assert parsed.names == frozenset({"ref", "sha"})


@pytest.mark.parametrize(
    ("version", "expected"),
    [("v3", "v3-5a7147"), ("v3/evil", None), ("." * 3, None), ("x" * 130, None)],
    ids=["valid", "slash from the ref", "leading dot", "over 128 characters"],
)
def test_render_tag_refuses_invalid_tags(version: str, expected: str | None) -> None:
    parsed = Template.parse("{version}-{sha:6}", names={"version"})
    assert render_tag(parsed, {"version": version, "sha": SHA}) == expected


@given(
    sha=st.text(alphabet="0123456789abcdef", min_size=40, max_size=40),
    length=st.integers(min_value=1, max_value=60),
)
def test_sha_length_is_a_prefix(sha: str, length: int) -> None:
    parsed = Template.parse(f"{{sha:{length}}}", names=set())
    assert parsed.parts == (Placeholder("sha", length),)
    rendered = parsed.render({"sha": sha})
    assert sha.startswith(rendered) and len(rendered) == min(length, 40)
