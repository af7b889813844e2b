"""A YAML emitter that writes what Go's yaml.v3 writes, byte for byte, for a small subset.

Argo CD Image Updater writes ``.argocd-source-<app>.yaml`` with the yaml.v3 fork in
``sigs.k8s.io/yaml/goyaml.v3``: ``encoder.SetIndent(2)`` plus ``encoder.CompactSeqIndent()``.
A team moving from Image Updater to Ferry must see no diff in that file, so Ferry
reproduces the encoder rather than approximating it with PyYAML or ruamel.

Subset covered (anything else raises ``TypeError``/``ValueError``):

* block mappings with ``str`` keys, in insertion order (yaml.v3 keeps struct field order);
* block sequences (empty ones as ``[]``, empty mappings as ``{}``);
* scalars: ``str``, ``bool``, ``int`` — the types of Image Updater's override structs;
* keys that fit yaml.v3's simple-key rule (no line break, at most 128 bytes);
* no comments, anchors, tags, flow styles or multiple documents.

What is reproduced exactly:

* scalar style: yaml.v3's ``stringv`` asks for *plain* when the text resolves to ``!!str``
  and is neither a YAML 1.1 bool (``yes``, ``on``...) nor a base-60 float (``1:20``),
  *double-quoted* otherwise, *literal* when it contains ``\\n``; libyaml's
  ``yaml_emitter_analyze_scalar``/``select_scalar_style`` then demote plain to
  single-quoted and single-quoted or literal to double-quoted as the text requires;
* indentation: go-yaml's ``increase_indent`` arithmetic with the compact-sequence
  variant, so ``- `` sits in the column of the parent key's children;
* no line folding (yaml.v3 sets ``best_width`` to -1), escapes in double quotes,
  block scalar indentation and chomping indicators.

>>> param = {"name": "image.tag", "value": "1.0", "forcestring": True}
>>> print(dump({"helm": {"parameters": [param]}}), end="")
helm:
  parameters:
  - name: image.tag
    value: "1.0"
    forcestring: true
>>> print(dump({"kustomize": {"images": ["nginx=127.0.0.1:5000/x:v1", "*odd"]}}), end="")
kustomize:
  images:
  - nginx=127.0.0.1:5000/x:v1
  - '*odd'
>>> print(dump({"a": "two\\nlines", "b": [], "c": {}}), end="")
a: |-
  two
  lines
b: []
c: {}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

from ferry.writeback._goresolve import can_use_plain

YamlValue: TypeAlias = str | bool | int | Mapping[str, "YamlValue"] | Sequence["YamlValue"]
ScalarStyle: TypeAlias = Literal["plain", "single", "double", "literal"]

__all__ = ["ScalarStyle", "YamlValue", "can_use_plain", "dump", "scalar_style"]

_BEST_INDENT = 2
_MAX_SIMPLE_KEY = 128

# --- emitterc.go: yaml_emitter_analyze_scalar ---------------------------------------------------

_BREAKS = frozenset("\r\n\x85\u2028\u2029")


def _printable(ch: str) -> bool:
    code = ord(ch)
    return (
        code == 0x0A
        or 0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF
        or (0xE000 <= code <= 0xFFFD and code != 0xFEFF)
    )


def _blankz(ch: str) -> bool:
    return ch in " \t\0" or ch in _BREAKS


@dataclass(frozen=True, slots=True)
class _Analysis:
    multiline: bool
    block_plain_allowed: bool
    single_quoted_allowed: bool
    block_allowed: bool


def _analyze(value: str) -> _Analysis:
    if not value:
        return _Analysis(False, True, True, False)
    block_indicators = value.startswith(("---", "..."))
    line_breaks = special = tabs = False
    leading_space = leading_break = trailing_space = trailing_break = False
    break_space = space_break = False
    preceded_by_whitespace = True
    previous_space = previous_break = False
    last = len(value) - 1
    for i, ch in enumerate(value):
        followed_by_whitespace = i == last or value[i + 1] in " \t"
        if i == 0:
            if ch in "#,[]{}&*!|>'\"%@`" or (ch in "?:-" and followed_by_whitespace):
                block_indicators = True
        elif (ch == ":" and followed_by_whitespace) or (ch == "#" and preceded_by_whitespace):
            block_indicators = True
        if ch == "\t":
            tabs = True
        elif not _printable(ch):
            special = True
        if ch == " ":
            leading_space = leading_space or i == 0
            trailing_space = trailing_space or i == last
            break_space = break_space or previous_break
            previous_space, previous_break = True, False
        elif ch in _BREAKS:
            line_breaks = True
            leading_break = leading_break or i == 0
            trailing_break = trailing_break or i == last
            space_break = space_break or previous_space
            previous_space, previous_break = False, True
        else:
            previous_space = previous_break = False
        preceded_by_whitespace = _blankz(ch)
    plain = not (leading_space or leading_break or trailing_space or trailing_break)
    single = True
    block = not trailing_space
    if break_space:
        plain = single = False
    if space_break or tabs or special:
        plain = single = False
    if space_break or special:
        block = False
    if line_breaks or block_indicators:
        plain = False
    return _Analysis(line_breaks, plain, single, block)


def scalar_style(text: str, *, simple_key: bool = False) -> ScalarStyle:
    """The style yaml.v3 writes a Go string in, in block context.

    >>> [scalar_style(s) for s in ("127.0.0.1:5000/x", "a: b", "*x", "-x", "- x", "1.0", "a\\nb", " x")]
    ['plain', 'single', 'single', 'plain', 'single', 'double', 'literal', 'single']
    """
    style: ScalarStyle
    if "\n" in text:
        style = "literal"
    elif can_use_plain(text):
        style = "plain"
    else:
        style = "double"
    analysis = _analyze(text)
    if simple_key and analysis.multiline:
        style = "double"
    if style == "plain" and (not analysis.block_plain_allowed or (not text and simple_key)):
        style = "single"
    if style == "single" and not analysis.single_quoted_allowed:
        style = "double"
    if style == "literal" and (not analysis.block_allowed or simple_key):
        style = "double"
    return style


# --- the writer: emitter state reduced to what block context needs ---------------------------

_ESCAPES = {
    "\0": "0", "\a": "a", "\b": "b", "\t": "t", "\n": "n", "\v": "v", "\f": "f", "\r": "r",
    "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\xa0": "_", "\u2028": "L", "\u2029": "P",
}  # fmt: skip


class _Writer:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.column = 0
        self.whitespace = True
        self.indention = True

    def put(self, text: str) -> None:
        self.parts.append(text)
        self.column += len(text)

    def put_break(self) -> None:
        self.parts.append("\n")
        self.column = 0
        self.indention = True

    def write_break_char(self, ch: str) -> None:
        if ch == "\n":
            self.put_break()
        else:
            self.parts.append(ch)
            self.column = 0
            self.indention = True

    def write_indent(self, indent: int) -> None:
        indent = max(indent, 0)
        if not self.indention or self.column > indent or (self.column == indent and not self.whitespace):
            self.put_break()
        if self.column < indent:
            self.put(" " * (indent - self.column))
        self.whitespace = True

    def indicator(self, text: str, *, need_whitespace: bool, is_whitespace: bool, is_indention: bool) -> None:
        if need_whitespace and not self.whitespace:
            self.put(" ")
        self.put(text)
        self.whitespace = is_whitespace
        self.indention = self.indention and is_indention


def _increase(indent: int, *, in_sequence_item: bool, flow: bool = False, compact: bool = False) -> int:
    if indent < 0:
        return _BEST_INDENT if flow else 0
    if in_sequence_item:
        indent += 2  # the first indent inside a sequence item only steps over "- "
    else:
        indent = _BEST_INDENT * ((indent + _BEST_INDENT) // _BEST_INDENT)
    return indent - 2 if compact else indent


class _Emitter:
    def __init__(self) -> None:
        self.out = _Writer()

    def node(self, value: YamlValue, *, indent: int, in_sequence_item: bool, mapping_context: bool) -> None:
        if isinstance(value, bool):
            self.scalar("true" if value else "false", "plain", indent, in_sequence_item, simple_key=False)
        elif isinstance(value, int):
            self.scalar(str(value), "plain", indent, in_sequence_item, simple_key=False)
        elif isinstance(value, str):
            style = scalar_style(value)
            self.scalar(value, style, indent, in_sequence_item, simple_key=False)
        elif isinstance(value, Mapping):
            self.mapping(value, indent=indent, in_sequence_item=in_sequence_item)
        elif isinstance(value, Sequence):
            self.sequence(value, indent, in_sequence_item=in_sequence_item, mapping_context=mapping_context)
        else:
            raise TypeError(f"goyaml cannot encode {type(value).__name__}")

    def mapping(self, value: Mapping[str, YamlValue], *, indent: int, in_sequence_item: bool) -> None:
        if not value:
            self.out.indicator("{", need_whitespace=True, is_whitespace=True, is_indention=False)
            self.out.indicator("}", need_whitespace=False, is_whitespace=False, is_indention=False)
            return
        inner = _increase(indent, in_sequence_item=in_sequence_item)
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"goyaml mapping keys must be str, not {type(key).__name__}")
            if "\n" in key or any(ch in _BREAKS for ch in key) or len(key.encode()) > _MAX_SIMPLE_KEY:
                raise ValueError(f"goyaml only writes simple keys; {key!r} is not one")
            self.out.write_indent(inner)
            self.scalar(key, scalar_style(key, simple_key=True), inner, False, simple_key=True)
            self.out.indicator(":", need_whitespace=False, is_whitespace=False, is_indention=False)
            self.node(item, indent=inner, in_sequence_item=False, mapping_context=True)

    def sequence(
        self, value: Sequence[YamlValue], indent: int, *, in_sequence_item: bool, mapping_context: bool
    ) -> None:
        if not value:
            self.out.indicator("[", need_whitespace=True, is_whitespace=True, is_indention=False)
            self.out.indicator("]", need_whitespace=False, is_whitespace=False, is_indention=False)
            return
        compact = mapping_context and (self.out.column == 0 or not self.out.indention)
        inner = _increase(indent, in_sequence_item=in_sequence_item, compact=compact)
        for item in value:
            self.out.write_indent(inner)
            self.out.indicator("-", need_whitespace=True, is_whitespace=False, is_indention=True)
            self.node(item, indent=inner, in_sequence_item=True, mapping_context=False)

    def scalar(
        self, text: str, style: ScalarStyle, indent: int, in_sequence_item: bool, *, simple_key: bool
    ) -> None:
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
            raise ValueError("goyaml cannot encode lone surrogates (yaml.v3 would switch to !!binary)")
        scalar_indent = _increase(indent, in_sequence_item=in_sequence_item, flow=True)
        if style == "plain":
            self.plain(text)
        elif style == "single":
            self.single_quoted(text, scalar_indent)
        elif style == "double":
            self.double_quoted(text)
        else:
            self.literal(text, scalar_indent)

    def plain(self, text: str) -> None:
        out = self.out
        if text and not out.whitespace:
            out.put(" ")
        out.put(text)
        if text:
            out.whitespace = False
        out.indention = False

    def single_quoted(self, text: str, indent: int) -> None:
        out = self.out
        out.indicator("'", need_whitespace=True, is_whitespace=False, is_indention=False)
        breaks = False
        for ch in text:
            if ch in _BREAKS:
                if not breaks and ch == "\n":
                    out.put_break()
                out.write_break_char(ch)
                breaks = True
            else:
                if breaks:
                    out.write_indent(indent)
                out.put("''" if ch == "'" else ch)
                out.indention = False
                breaks = False
        out.indicator("'", need_whitespace=False, is_whitespace=False, is_indention=False)

    def double_quoted(self, text: str) -> None:
        out = self.out
        out.indicator('"', need_whitespace=True, is_whitespace=False, is_indention=False)
        pieces: list[str] = []
        # yaml.v3's is_bom() looks at the start of the buffer, not at the current index, so a
        # value that starts with a BOM has every one of its characters escaped.
        escape_all = text.startswith("\ufeff")
        for ch in text:
            if escape_all or not _printable(ch) or ch in _BREAKS or ch in '"\\':
                code = ord(ch)
                if ch in _ESCAPES:
                    pieces.append("\\" + _ESCAPES[ch])
                elif code <= 0xFF:
                    pieces.append(f"\\x{code:02X}")
                elif code <= 0xFFFF:
                    pieces.append(f"\\u{code:04X}")
                else:
                    pieces.append(f"\\U{code:08X}")
            else:
                pieces.append(ch)
        out.put("".join(pieces))
        out.indicator('"', need_whitespace=False, is_whitespace=False, is_indention=False)

    def literal(self, text: str, indent: int) -> None:
        out = self.out
        out.indicator("|", need_whitespace=True, is_whitespace=False, is_indention=False)
        if text[:1] == " " or text[:1] in _BREAKS:
            out.indicator(str(_BEST_INDENT), need_whitespace=False, is_whitespace=False, is_indention=False)
        chomp = ""
        if not text or text[-1] not in _BREAKS:
            chomp = "-"
        elif len(text) == 1 or text[-2] in _BREAKS:
            chomp = "+"
        if chomp:
            out.indicator(chomp, need_whitespace=False, is_whitespace=False, is_indention=False)
        out.put_break()
        out.whitespace = True
        breaks = True
        for ch in text:
            if ch in _BREAKS:
                out.write_break_char(ch)
                breaks = True
            else:
                if breaks:
                    out.write_indent(indent)
                out.put(ch)
                out.indention = False
                breaks = False


def dump(document: YamlValue) -> str:
    """Encode ``document`` as yaml.v3 does with ``SetIndent(2)`` and ``CompactSeqIndent()``.

    Args:
        document: nested mappings (insertion order is kept), sequences, ``str``, ``bool``, ``int``.

    Returns:
        The YAML text, ending in exactly one newline.

    Raises:
        TypeError: a value outside the supported subset.
        ValueError: a key that is not a simple key, or a string with lone surrogates.

    >>> dump(["a", ["b", "c"], {"k": "v", "l": 1}])
    '- a\\n- - b\\n  - c\\n- k: v\\n  l: 1\\n'
    """
    emitter = _Emitter()
    emitter.node(document, indent=-1, in_sequence_item=False, mapping_context=False)
    out = emitter.out
    # yaml_emitter_emit_document_end: an implicit end still moves to a fresh line.
    out.write_indent(0)
    return "".join(out.parts)
