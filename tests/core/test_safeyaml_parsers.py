"""libyaml's parser under Ferry's bounded composer reads what the pure-Python one reads.

``ferry.safeyaml`` takes events from libyaml when PyYAML has it (about ten times faster over
1,000 Applications) and composes them itself, so the bounds hold either way. Each text here
goes through both loaders; values and refusals must agree.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from ferry import safeyaml
from ferry.errors import ConfigError

TEXTS = {
    "scalars": "a: 1\nb: 0o17\nc: 1_000\nd: on\ne: 2001-12-14\nf: ~\ng: '01'\nh: !!binary aGVsbG8=\n",
    "anchors and merge": "base: &b {x: 1}\nc: {<<: *b, y: 2}\nl: &l [1, 2]\nm: *l\n",
    "several documents": "a: 1\n---\n- x\n- y\n---\n",
    "unicode": "name: \u00e9cho \u2713\n",
    "alias bomb": "a: &a [1,2,3,4,5,6,7,8,9]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n",
    "self alias": "a: &x [*x]\n",
    "deep": "[" * 150 + "]" * 150,
    "deeper than libyaml allows": "[" * 1200,
}


def _both(text: str, limits: safeyaml.Limits) -> list[Any]:
    outcomes = []
    for loader in (safeyaml._BoundedLoader, safeyaml._CBoundedLoader):
        instance = loader(text, limits)
        try:
            documents = []
            while instance.check_data():
                documents.append(instance.get_data())
            outcomes.append(documents)
        except safeyaml._Refused as exc:
            outcomes.append(f"refused: {exc}")
        finally:
            instance.dispose()
    return outcomes


def _shape(node: Any) -> Any:
    """A node tree as tags, values, styles and positions: what the round-trip writers read."""
    if isinstance(node, yaml.ScalarNode):
        return (node.tag, node.value, node.style, node.start_mark.index, node.end_mark.index)
    if isinstance(node, yaml.SequenceNode):
        return (node.tag, node.flow_style, [_shape(n) for n in node.value])
    return (node.tag, node.flow_style, [(_shape(k), _shape(v)) for k, v in node.value])


def test_both_parsers_compose_the_same_nodes() -> None:
    text = "a: true\nb: \"x\"\nc: |\n  l\nd: >\n  f\ne: 's'\nf: [1, {g: h}]\n"
    python, libyaml = (
        _shape(loader(text, safeyaml.REPO).get_single_node())
        for loader in (safeyaml._BoundedLoader, safeyaml._CBoundedLoader)
    )
    assert python == libyaml


def test_libyaml_is_what_this_install_uses() -> None:
    # PyYAML's wheels carry libyaml; without it the fast path is silently gone.
    assert safeyaml._CParser is not None


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_both_parsers_agree(name: str) -> None:
    if name == "deeper than libyaml allows":
        # libyaml refuses while scanning; the public entry points give it the bounds' message.
        with pytest.raises(ConfigError, match="nested deeper than 100 levels"):
            safeyaml.load(TEXTS[name], source="deep.yaml")
        return
    python, libyaml = _both(TEXTS[name], safeyaml.Limits(max_nodes=500))
    assert python == libyaml
