"""Build rules in ferry.yaml: valid rules load, and each mistake is a ConfigError naming rule and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ferry.config import load_config, parse_config
from ferry.errors import ConfigError
from ferry.schema.builds import RefType

GOOD: dict[str, Any] = {
    "name": "echo-server",
    "repo": "https://git.example.com/team/echo-server.git",
    "pattern": r"^release-(?P<version>.+)$",
    "image": "registry.example.com/cidemo/echo-server",
    "tag": "{version}-{sha:6}",
    "build_args": {"VERSION": "{version}"},
}


def _load(**override: Any) -> Any:
    rule = {**GOOD, **override}
    return parse_config({"builds": [rule]}, source="ferry.yaml", base_dir=Path("/tmp"))


def test_a_valid_rule_loads_with_defaults() -> None:
    rule = _load().builds[0]
    assert rule.ref_type is RefType.tag
    assert rule.dockerfile == "Dockerfile" and rule.context == "."
    assert rule.tag_template.render({"version": "v3", "sha": "5a7147e0"}) == "v3-5a7147"
    assert rule.build_arg_values({"version": "v3"}) == (("VERSION", "v3"),)
    assert rule.commands.build[0] == "buildah"


@pytest.mark.parametrize(
    ("override", "key", "message"),
    [
        ({"tag": "{release}-{sha:6}"}, "'tag'", "unknown placeholder {release}"),
        ({"pattern": "^release-(?P<version>.+$"}, "'pattern'", "not a valid regular expression"),
        ({"image": "cidemo/echo-server"}, "'image'", "registry host"),
        ({"image": "registry.example.com/cidemo/echo-server:v1"}, "'image'", "without a tag"),
        ({"image": "registry.example.com/CIDEMO/x"}, "'image'", "lowercase"),
        ({"dockerfile": "../Dockerfile"}, "'dockerfile'", "'..'"),
        ({"context": "/abs"}, "'context'", "relative"),
        ({"build_args": {"BAD-NAME": "x"}}, "'build_args.BAD-NAME'", "build arg name"),
        ({"build_args": {"V": "{nope}"}}, "'build_args.V'", "unknown placeholder"),
        (
            {"builder": {"build": "docker build {context} {secret}"}},
            "'builder'",
            "unknown placeholder {secret}",
        ),
        ({"builder": {"push": "x --x={labels}"}}, "'builder'", "argument of its own"),
        ({"name": "Echo Server"}, "'name'", "lowercase"),
    ],
    ids=[
        "unknown tag placeholder",
        "broken regex",
        "image without registry host",
        "image with tag",
        "uppercase repository",
        "dockerfile escapes the repo",
        "absolute context",
        "bad build arg name",
        "build arg template with unknown name",
        "builder template with unknown placeholder",
        "list placeholder glued to text",
        "bad rule name",
    ],
)
def test_mistakes_name_the_rule_and_key(override: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(**override)
    text = str(caught.value)
    assert text.startswith("ferry.yaml: ")
    assert key in text and message in text
    assert "build rule '" in text


def test_unknown_keys_and_duplicate_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="dockerfle"):
        _load(dockerfle="Dockerfile")
    path = tmp_path / "ferry.yaml"
    path.write_text(
        "builds:\n"
        "  - {name: a, repo: r, pattern: x, image: h.io/a/b, tag: '{sha}'}\n"
        "  - {name: a, repo: r, pattern: y, image: h.io/a/b, tag: '{sha}'}\n"
    )
    with pytest.raises(ConfigError, match="build rule names must be unique: a"):
        load_config(path)
