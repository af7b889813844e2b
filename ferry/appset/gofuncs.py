"""The functions a ``goTemplate: true`` ApplicationSet may call, with Go's and sprig's semantics.

Argo CD offers all of sprig (less ``env``, ``expandenv`` and ``getHostByName``) plus ``normalize``,
``slugify``, ``toYaml``, ``fromYaml`` and ``fromYamlArray``. Ferry offers the ones ApplicationSets
use for names, labels and paths; any other name is refused when the template is parsed:

- Go's builtins: ``and``, ``or``, ``not``, ``eq``, ``ne``, ``index``, ``len``;
- sprig's strings: ``lower``, ``upper``, ``trim``, ``trimPrefix``, ``trimSuffix``, ``replace``,
  ``trunc``, ``contains``, ``hasPrefix``, ``hasSuffix``, ``quote``, ``squote``, ``join``;
- sprig's ``default``, ``empty``, ``get`` and ``toJson``;
- Argo CD's ``normalize``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ferry.analysis.expr_values import go_type
from ferry.errors import ConfigError

__all__ = ["FUNCTIONS", "GoTemplateError", "call", "go_print", "json_numbers", "sanitize_name", "truth"]


class GoTemplateError(ConfigError):
    """A template outside the subset, or one whose execution failed (a missing key, a wrong type)."""


_INVALID_DNS_CHARS = re.compile(r"[^-a-z0-9.]")


def sanitize_name(name: str) -> str:
    """Argo CD's ``SanitizeName`` (``nameNormalized``, ``basenameNormalized``, ``normalize``).

    >>> sanitize_name("production_01/west")
    'production-01-west'
    """
    return _INVALID_DNS_CHARS.sub("-", name.lower())[:253].strip("-.")


def _go_float(value: float) -> str:
    """Go's ``%v`` of a float64: the shortest digits, in ``%e`` form when the exponent is < -4 or >= 6.

    >>> [_go_float(v) for v in (3.0, 1.5, 123456.0, 1e6, 0.00001, -2.5e-7)]
    ['3', '1.5', '123456', '1e+06', '1e-05', '-2.5e-07']
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    point = len(digit_tuple) + int(exponent)  # where the decimal point sits after the first digit run
    minus = "-" if sign else ""
    exp = point - 1
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{minus}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{minus}{digits}{'0' * (point - len(digits))}"
    return f"{minus}{digits[:point]}.{digits[point:]}"


def json_numbers(value: Any) -> Any:
    """Numbers as Argo CD holds them after JSON decoding: float64, so ``1000000`` prints ``1e+06``."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, Mapping):
        return {k: json_numbers(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_numbers(v) for v in value]
    return value


def go_print(value: Any, *, top: bool = True) -> str:
    """What ``{{ value }}`` prints: Go's ``%v``, and ``<no value>`` for a missing one."""
    if value is None:
        return "<no value>" if top else "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, Mapping):
        inner = " ".join(f"{k}:{go_print(value[k], top=False)}" for k in sorted(value))
        return f"map[{inner}]"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_print(v, top=False) for v in value) + "]"
    return str(value)


def truth(value: Any) -> bool:
    """Go's truth: a zero value (nil, false, 0, an empty string, list or map) is false."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, (str, Mapping, list, tuple)):
        return len(value) > 0
    return True


def _strval(value: Any) -> str:
    return value if isinstance(value, str) else go_print(value, top=False)


def _string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise GoTemplateError(f"wrong type for value in {name}; expected string; got {_go_type(value)}")
    return value


def _go_type(value: Any) -> str:
    # text/template names nil "<nil>" where expr-lang says "nil"; the other names are Go's own.
    return "<nil>" if value is None else go_type(value)


def _go_quote(text: str) -> str:
    # Go's %q: backslash escapes for quotes, backslashes and control characters; printable runes as is.
    out = ['"']
    for char in text:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _json_ready(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return value


def _to_json(value: Any) -> str:
    # encoding/json sorts map keys, writes no spaces and escapes <, > and & for HTML.
    text = json.dumps(_json_ready(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _empty(value: Any) -> bool:
    return not truth(value)


def _default(default: Any, *given: Any) -> Any:
    return default if not given or _empty(given[0]) else given[0]


def _trunc(count: Any, value: Any) -> str:
    if not isinstance(count, int) or isinstance(count, bool):
        raise GoTemplateError(f"wrong type for value in trunc; expected int; got {_go_type(count)}")
    text = _string("trunc", value)
    if count < 0 and len(text) + count > 0:
        return text[len(text) + count :]
    if 0 <= count < len(text):
        return text[:count]
    return text


def _index(item: Any, *keys: Any) -> Any:
    value = item
    for key in keys:
        if isinstance(value, Mapping):
            if not isinstance(key, str):
                raise GoTemplateError(f"index of map with a {_go_type(key)} key")
            # index never fails on a missing key, even with missingkey=error: Go returns the zero value.
            value = value.get(key)
        elif isinstance(value, (list, tuple)):
            if not isinstance(key, int) or isinstance(key, bool):
                raise GoTemplateError(f"cannot index slice/array with type {_go_type(key)}")
            if not 0 <= key < len(value):
                raise GoTemplateError(f"error calling index: index out of range: {key}")
            value = value[key]
        elif value is None:
            raise GoTemplateError("error calling index: index of untyped nil")
        else:
            raise GoTemplateError(f"error calling index: can't index item of type {_go_type(value)}")
    return value


def _comparable(name: str, left: Any, right: Any) -> bool:
    def kind(v: Any) -> str:
        if isinstance(v, bool):
            return "bool"
        if isinstance(v, (int, float)):
            return "number"
        return _go_type(v)

    if kind(left) != kind(right):
        raise GoTemplateError(f"error calling {name}: incompatible types for comparison")
    if isinstance(left, (Mapping, list, tuple)):
        raise GoTemplateError(f"error calling {name}: non-comparable type {_go_type(left)}")
    return bool(left == right)


def _eq(left: Any, *others: Any) -> bool:
    return any(_comparable("eq", left, other) for other in others)


def _ne(left: Any, right: Any) -> bool:
    return not _comparable("ne", left, right)


def _and(first: Any, *rest: Any) -> Any:
    for value in (first, *rest):
        if not truth(value):
            return value
    return rest[-1] if rest else first


def _or(first: Any, *rest: Any) -> Any:
    for value in (first, *rest):
        if truth(value):
            return value
    return rest[-1] if rest else first


def _len(value: Any) -> int:
    if isinstance(value, (str, Mapping, list, tuple)):
        return len(value)
    raise GoTemplateError(f"error calling len: len of type {_go_type(value)}")


def _join(separator: Any, items: Any) -> str:
    if isinstance(items, (list, tuple)):
        return _string("join", separator).join(_strval(v) for v in items if v is not None)
    return _strval(items)


def _get(mapping: Any, key: Any) -> Any:
    if not isinstance(mapping, Mapping):
        raise GoTemplateError(f"wrong type for value in get; expected map; got {_go_type(mapping)}")
    return mapping.get(_string("get", key), "")


def _quote(*values: Any) -> str:
    return " ".join(_go_quote(_strval(v)) for v in values if v is not None)


def _squote(*values: Any) -> str:
    return " ".join(f"'{_strval(v)}'" for v in values if v is not None)


@dataclass(frozen=True, slots=True)
class Function:
    """A callable and how many arguments it takes (``most`` None: any number from ``least``)."""

    run: Callable[..., Any]
    least: int
    most: int | None


def _strings(run: Callable[..., Any], name: str) -> Callable[..., Any]:
    def checked(*args: Any) -> Any:
        return run(*(_string(name, a) for a in args))

    return checked


FUNCTIONS: Mapping[str, Function] = {
    "and": Function(_and, 1, None),
    "or": Function(_or, 1, None),
    "not": Function(lambda v: not truth(v), 1, 1),
    "eq": Function(_eq, 2, None),
    "ne": Function(_ne, 2, 2),
    "index": Function(_index, 1, None),
    "len": Function(_len, 1, 1),
    "lower": Function(_strings(str.lower, "lower"), 1, 1),
    "upper": Function(_strings(str.upper, "upper"), 1, 1),
    "trim": Function(_strings(str.strip, "trim"), 1, 1),
    "trimPrefix": Function(_strings(lambda p, s: s.removeprefix(p), "trimPrefix"), 2, 2),
    "trimSuffix": Function(_strings(lambda p, s: s.removesuffix(p), "trimSuffix"), 2, 2),
    "replace": Function(_strings(lambda old, new, s: s.replace(old, new), "replace"), 3, 3),
    "trunc": Function(_trunc, 2, 2),
    "contains": Function(_strings(lambda sub, s: sub in s, "contains"), 2, 2),
    "hasPrefix": Function(_strings(lambda p, s: s.startswith(p), "hasPrefix"), 2, 2),
    "hasSuffix": Function(_strings(lambda p, s: s.endswith(p), "hasSuffix"), 2, 2),
    "quote": Function(_quote, 0, None),
    "squote": Function(_squote, 0, None),
    "join": Function(_join, 2, 2),
    "default": Function(_default, 1, 2),
    "empty": Function(_empty, 1, 1),
    "get": Function(_get, 2, 2),
    "toJson": Function(_to_json, 1, 1),
    "normalize": Function(_strings(sanitize_name, "normalize"), 1, 1),
}


def call(name: str, args: Sequence[Any]) -> Any:
    """Call the function ``name``; a wrong number or type of arguments is a :class:`GoTemplateError`."""
    function = FUNCTIONS[name]
    if len(args) < function.least or (function.most is not None and len(args) > function.most):
        want = str(function.least) if function.most == function.least else f"at least {function.least}"
        raise GoTemplateError(f"wrong number of args for {name}: want {want} got {len(args)}")
    return function.run(*args)
