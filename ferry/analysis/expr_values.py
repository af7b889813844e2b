"""What the condition language's values do: expr-lang's types, comparisons, arithmetic and builtins.

Kept apart from the parser (:mod:`ferry.analysis.expr`) so each reads on its own:
this module decides what ``0.9 == "0.9"`` or ``1 / 0`` means, the parser only
what the text says.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any


class ExprError(ValueError):
    """The condition does not parse, or failed while running (the message says why)."""


def go_type(value: Any) -> str:
    """The Go type name expr-lang reports for a value (for error messages).

    >>> [go_type(v) for v in (True, 1, 1.5, "s", [1], None)]
    ['bool', 'int', 'float64', 'string', '[]interface {}', 'nil']
    """
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    if isinstance(value, Sequence):
        return "[]interface {}"
    return type(value).__name__


def is_number(value: Any) -> bool:
    """An int or a float (a bool is not a number here, as in Go)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def number(value: Any, op: str) -> int | float:
    """``value`` when it is a number, else the error ``op`` gives."""
    if not is_number(value):
        raise ExprError(f"invalid operation: {op} ({go_type(value)})")
    return value  # type: ignore[no-any-return]


def truth(value: Any, op: str) -> bool:
    """``value`` when it is a bool: ``and``, ``not``, ``?:`` and predicates take nothing else."""
    if not isinstance(value, bool):
        raise ExprError(f"invalid operation: {op} ({go_type(value)}), expected bool")
    return value


def equal(left: Any, right: Any) -> bool:
    """``==``: numbers by value whatever their type, ``nil`` only to ``nil``; other mixed types fail."""
    if is_number(left) and is_number(right):
        return bool(left == right)
    if left is None or right is None:
        return left is right
    if type(left) is not type(right) and not (
        isinstance(left, Sequence | Mapping) and isinstance(right, Sequence | Mapping)
    ):
        raise ExprError(f"invalid operation: == (mismatched types {go_type(left)} and {go_type(right)})")
    return bool(left == right)


def compare(op: str, left: Any, right: Any) -> bool:
    """``< > <= >=`` between two numbers or two strings."""
    ok = (is_number(left) and is_number(right)) or (isinstance(left, str) and isinstance(right, str))
    if not ok:
        raise ExprError(f"invalid operation: {op} (mismatched types {go_type(left)} and {go_type(right)})")
    return bool({"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op])


def contains(collection: Any, item: Any) -> bool:
    """``in``: a key of a map, a substring of a string, an element (by ``==``) of an array."""
    if isinstance(collection, Mapping):
        return item in collection
    if isinstance(collection, str):
        if not isinstance(item, str):
            raise ExprError(f"invalid operation: in (mismatched types {go_type(item)} and string)")
        return item in collection
    if isinstance(collection, Sequence):
        return any(_equal_or_false(element, item) for element in collection)
    raise ExprError(f"invalid operation: in ({go_type(collection)})")


def _equal_or_false(left: Any, right: Any) -> bool:
    try:
        return equal(left, right)
    except ExprError:
        return False


def arith(op: str, left: Any, right: Any) -> Any:
    """``+ - * / % **``; ``+`` also joins strings."""
    if op == "+" and isinstance(left, str) and isinstance(right, str):
        return left + right
    a, b = number(left, op), number(right, op)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        # expr-lang divides as float64; Go gives ±Inf or NaN for a zero divisor instead of failing.
        if b == 0:
            return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a)
        return float(a) / float(b)
    if op == "%":
        if not (isinstance(a, int) and isinstance(b, int)):
            raise ExprError("invalid operation: % (only integers)")
        if b == 0:
            raise ExprError("integer divide by zero")
        return int(math.fmod(a, b))
    return float(a) ** float(b)  # ** and ^


def items(value: Any, name: str) -> Sequence[Any]:
    """``value`` when it is an array, for the builtin ``name``."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        return value
    raise ExprError(f"builtin {name} takes only array (got {go_type(value)})")


def _len(value: Any) -> int:
    if isinstance(value, str | Sequence | Mapping):
        return len(value)
    raise ExprError(f"invalid argument for len (type {go_type(value)})")


def _as_int(value: Any) -> int:
    if is_number(value):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
        return int(value)
    raise ExprError(f'strconv.ParseInt: parsing "{value}": invalid syntax')


def _as_float(value: Any) -> float:
    if is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ExprError(f'strconv.ParseFloat: parsing "{value}": invalid syntax')


def _float_arg(value: Any, name: str) -> float:
    if not is_number(value):
        raise ExprError(f"{name}() expects a number, got {go_type(value)}")
    return float(value)


def _extreme(pick: Callable[..., Any], name: str) -> Callable[..., Any]:
    def run(*args: Any) -> Any:
        values = list(items(args[0], name)) if len(args) == 1 else list(args)
        if not values:
            raise ExprError(f"not enough arguments to call {name}")
        return pick(number(v, name) for v in values)

    return run


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": _len,
    "abs": lambda v: abs(number(v, "abs")),
    "min": _extreme(min, "min"),
    "max": _extreme(max, "max"),
    "sum": lambda v: sum(number(x, "sum") for x in items(v, "sum")),
    "isNaN": lambda v: math.isnan(_float_arg(v, "isNaN")),
    "isInf": lambda v: math.isinf(_float_arg(v, "isInf")),
    "asInt": _as_int,
    "asFloat": _as_float,
    "isNil": lambda v: v is None,
    "default": lambda v, fallback: fallback if v is None else v,
    "int": _as_int,
    "float": _as_float,
}
