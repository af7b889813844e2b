"""yaml.v3's ``resolve()`` and ``stringv`` quoting decision, ported from Go.

yaml.v3 writes a Go string plain only when reading it back plain would give a string again:
not a null, bool, int, float or timestamp by yaml.v3's own resolver, and — for YAML 1.1
readers — not a 1.1 bool (``yes``, ``on``...) nor a base-60 float (``1:20``). The checks
below follow Go's ``strconv`` parsers closely enough that the golden table recorded from
the real encoder (``tests/writeback/data/goyaml_oracle.json``) matches exactly.
"""

from __future__ import annotations

import calendar
import re
from typing import Literal

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
