"""ruamel.yaml round-trips that change only what they must: comments, order, quotes and the
file's own indentation stay as they were."""

from __future__ import annotations

import io
import itertools
import re
from dataclasses import dataclass
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)

from ferry import safeyaml
from ferry.errors import ConfigError
from ferry.writeback import goyaml

_KEY_OPENING_BLOCK = re.compile(r"^( *)(?!- )(?!#)[^\s].*:[ \t]*(#.*)?$")
_SEQUENCE_ITEM = re.compile(r"^( *)-( +)\S")
_CONTENT = re.compile(r"^( *)\S")
_WIDE = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Layout:
    """Indentation as the file already uses it, in ruamel's terms."""

    mapping: int = 2
    sequence: int = 2
    offset: int = 0


def detect_layout(text: str) -> Layout:
    """Guess mapping indent and sequence dash offset from the first nested blocks.

    >>> detect_layout("a:\\n  b:\\n  - x\\n")
    Layout(mapping=2, sequence=2, offset=0)
    >>> detect_layout("a:\\n    b:\\n      - x\\n")
    Layout(mapping=4, sequence=4, offset=2)
    """
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    mapping: int | None = None
    offset: int | None = None
    sequence: int | None = None
    for current, following in itertools.pairwise(lines):
        opener = _KEY_OPENING_BLOCK.match(current)
        content = _CONTENT.match(following)
        if opener is None or content is None:
            continue
        depth = len(content.group(1)) - len(opener.group(1))
        item = _SEQUENCE_ITEM.match(following)
        if item is not None and offset is None and depth >= 0:
            offset = depth
            sequence = depth + 1 + len(item.group(2))
        elif item is None and mapping is None and depth > 0:
            mapping = depth
        if mapping is not None and offset is not None:
            break
    mapping = mapping or 2
    if offset is None:
        return Layout(mapping=mapping, sequence=mapping, offset=0)
    return Layout(mapping=mapping, sequence=max(sequence or 2, offset + 2), offset=offset)


def make_yaml(text: str) -> YAML:
    """A round-trip ruamel instance set up for ``text``'s layout."""
    handler = YAML(typ="rt")
    handler.preserve_quotes = True
    handler.width = _WIDE
    layout = detect_layout(text)
    handler.indent(mapping=layout.mapping, sequence=layout.sequence, offset=layout.offset)
    significant = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    handler.explicit_start = bool(significant) and significant[0].split(" ", 1)[0] == "---"
    return handler


def load(existing: bytes, *, source: str) -> tuple[Any, YAML]:
    """Parse ``existing`` for editing; ``None`` data means an empty document."""
    try:
        text = existing.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8: {exc}", source=source) from exc
    try:
        # ruamel's composer recurses once per level too: bound the text first.
        safeyaml.check(text, source=source)
    except yaml.YAMLError:
        pass  # a syntax error: ruamel, the parser that matters here, reports it below
    handler = make_yaml(text)
    try:
        documents = list(handler.load_all(text))
    except YAMLError as exc:
        raise ConfigError(f"does not parse as YAML: {exc}", source=source) from exc
    if len(documents) > 1:
        raise ConfigError(f"holds {len(documents)} YAML documents, expected one", source=source)
    return (documents[0] if documents else None), handler


def dump(data: Any, handler: YAML) -> bytes:
    """Serialise ``data`` with the settings ``handler`` was made with."""
    stream = io.StringIO()
    handler.dump(data, stream)
    return stream.getvalue().encode("utf-8")


def styled(value: str, previous: Any) -> Any:
    """``value`` as a scalar that keeps the quoting style of ``previous`` where it can.

    A value that was quoted stays quoted the same way; otherwise the style is the one
    yaml.v3 (and so Image Updater) would pick, so ``1.0`` is written ``"1.0"`` and stays
    a string for Helm.
    """
    if isinstance(previous, DoubleQuotedScalarString):
        return DoubleQuotedScalarString(value)
    if isinstance(previous, SingleQuotedScalarString):
        return SingleQuotedScalarString(value)
    if isinstance(previous, LiteralScalarString | FoldedScalarString) and "\n" in value:
        return type(previous)(value)
    style = goyaml.scalar_style(value)
    if style == "double":
        return DoubleQuotedScalarString(value)
    if style == "single":
        return SingleQuotedScalarString(value)
    if style == "literal":
        return LiteralScalarString(value)
    return value


def scalar_text(value: Any) -> str | None:
    """The text of a scalar as ruamel holds it, ``None`` for mappings and sequences."""
    if isinstance(value, dict | list):
        return None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
