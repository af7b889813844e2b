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

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

YamlValue: TypeAlias = str | bool | int | Mapping[str, "YamlValue"] | Sequence["YamlValue"]
ScalarStyle: TypeAlias = Literal["plain", "single", "double", "literal"]

_BEST_INDENT = 2
_MAX_SIMPLE_KEY = 128

# --- resolve.go: does a plain scalar read back as !!str? -------------------------------------

_RESOLVE_MAP = frozenset(
    {"true", "True", "TRUE", "false", "False", "FALSE", "", "~", "null", "Null", "NULL"}
    | {".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF"}
    | {"<<"}
)
_OLD_BOOLS = frozenset(
    {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "n", "N", "no", "No", "NO", "off", "Off", "OFF"}
)
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_BASE60_FLOAT = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")
_DOT_FLOAT = re.compile(r"\.[0-9_]*[0-9][0-9_]*(?:[eE][-+]?[0-9][0-9_]*)?")
_TIMESTAMP = re.compile(
    r"(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2})"
    r"(?:(?P<sep>[Tt ])(?P<H>[0-9]{1,2}):(?P<M>[0-9]{1,2}):(?P<S>[0-9]{1,2})(?:[.,][0-9]+)?"
    r"(?P<zone>Z|[-+][0-9]{2}:[0-9]{2})?)?"
)
_MAX_INT64 = 2**63 - 1
_MAX_UINT64 = 2**64 - 1
_MAX_FLOAT = 1.7976931348623157e308


def _hint(text: str) -> str:
    first = text[0]
    if first in "+-":
        return "S"
    if first.isascii() and first.isdigit():
        return "D"
    if first in "yYnNtTfFoO~":
        return "M"
    if first == ".":
        return "."
    return ""


def _go_parse_int(text: str, base: int, *, signed: bool) -> Literal["ok", "range", "syntax"]:
    """Mirror strconv.ParseInt/ParseUint (underscores already removed by the caller)."""
    sign = 1
    if text[:1] in ("+", "-"):
        if not signed:
            return "syntax"
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if base == 0:
        prefix = text[:2].lower()
        if prefix == "0x":
            base, text = 16, text[2:]
        elif prefix == "0b":
            base, text = 2, text[2:]
        elif prefix == "0o":
            base, text = 8, text[2:]
        elif text[:1] == "0" and len(text) > 1:
            base, text = 8, text[1:]
        else:
            base = 10
    digits = "0123456789abcdef"[:base]
    if not text or any(ch.lower() not in digits for ch in text):
        return "syntax"
    value = sign * int(text, base)
    if signed:
        return "ok" if -_MAX_INT64 - 1 <= value <= _MAX_INT64 else "range"
    return "ok" if value <= _MAX_UINT64 else "range"


def _underscores_ok(text: str) -> bool:
    """strconv.underscoreOK: an underscore only between digits."""
    saw = "^"
    if text[:1] in ("+", "-"):
        text = text[1:]
    hex_digits = False
    index = 0
    if len(text) >= 2 and text[0] == "0" and text[1].lower() in "box":
        index, saw, hex_digits = 2, "0", text[1].lower() == "x"
    for ch in text[index:]:
        if (ch.isdigit() and ch.isascii()) or (hex_digits and ch.lower() in "abcdef"):
            saw = "0"
        elif ch == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
    return saw != "_"


def _go_parse_float_ok(text: str) -> bool:
    """strconv.ParseFloat succeeds (syntax and range) for the shapes resolve() hands it."""
    if "_" in text and not _underscores_ok(text):
        return False
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        return False
    return abs(value) <= _MAX_FLOAT


def _is_timestamp(text: str) -> bool:
    match = _TIMESTAMP.fullmatch(text)
    if match is None or (match["sep"] is None and match["zone"] is not None):
        return False
    if match["sep"] == " " and match["zone"] is not None:
        return False  # "2006-1-2 15:4:5" takes no zone in yaml.v3's layouts
    if match["sep"] in ("T", "t") and match["zone"] is None:
        return False  # ...and the "T" layouts require one
    year, month, day = int(match["y"]), int(match["m"]), int(match["d"])
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year or 2000, month)[1]:
        return False
    if match["sep"] is not None:
        return int(match["H"]) < 24 and int(match["M"]) < 60 and int(match["S"]) < 60
    return True


def _resolves_to_str(text: str) -> bool:
    """yaml.v3 ``resolve("", text)`` returns ``!!str``."""
    hint = _hint(text) if text else "N"
    if not hint:
        return True
    if text in _RESOLVE_MAP:
        return False
    if hint == "M":
        return True
    if hint == ".":
        return not (_DOT_FLOAT.fullmatch(text) and _go_parse_float_ok(text))
    if _is_timestamp(text):
        return False
    plain = text.replace("_", "")
    if not plain:
        return True
    signed = _go_parse_int(plain, 0, signed=True)
    unsigned = _go_parse_int(plain, 0, signed=False)
    if "ok" in (signed, unsigned):
        return False
    if _YAML_STYLE_FLOAT.fullmatch(plain) and _go_parse_float_ok(plain):
        return False
    for prefix, base, signed_rest in (("0b", 2, False), ("-0b", 2, True), ("0o", 8, False), ("-0o", 8, True)):
        if plain.startswith(prefix):
            rest = ("-" + plain[3:]) if signed_rest else plain[2:]
            if rest and _go_parse_int(rest, base, signed=True) == "ok":
                return False
            if not signed_rest and rest and _go_parse_int(rest, base, signed=False) == "ok":
                return False
            break
    # Integers beyond uint64 in hex/octal/binary stay strings (this yaml.v3 has no big.Int path).
    return True


def can_use_plain(text: str) -> bool:
    """Whether yaml.v3's ``stringv`` asks for the plain style (before the emitter's own checks).

    >>> [can_use_plain(s) for s in ("v3-5a7147", "1.0", "true", "yes", "", "1:20", "0x1F", "<<")]
    [True, False, False, False, False, False, False, True]
    """
    return _resolves_to_str(text) and text not in _OLD_BOOLS and not _is_base60_float(text)


def _is_base60_float(text: str) -> bool:
    if not text or not (text[0] in "+-" or "0" <= text[0] <= "9") or ":" not in text:
        return False
    return _BASE60_FLOAT.fullmatch(text) is not None


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
