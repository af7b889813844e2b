"""The condition language of Argo Rollouts' ``successCondition``/``failureCondition``, safely.

Argo Rollouts evaluates conditions with expr-lang (``github.com/expr-lang/expr``)
over one variable, ``result``, plus a few helpers (``asInt``, ``asFloat``,
``isNaN``, ``isInf``, ``isNil``, ``default``). Ferry parses the subset that
AnalysisTemplates use into a tree and walks it; nothing is ever handed to
Python's ``eval``, and no attribute of a Python object is reachable.

The subset: number, string, ``true``/``false``/``nil`` literals; ``result``
with ``.field`` and ``[index]`` (negative indices count from the end);
``not``/``!``/unary ``-``; ``** * / % + -``; comparisons; ``in`` and ``not
in``; ``and``/``&&``, ``or``/``||``; ``a ? b : c``; array literals; and the
functions ``len abs min max sum`` and the predicates ``all any none one
filter map count`` whose second argument is a closure over ``#`` (written
``{# > 1}`` or bare ``# > 1``).

Errors read like expr-lang's (``unknown name x``, ``expected bool, but got
int``), so messages match what users see from the Argo controller.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ExprError", "compile_condition", "evaluate_condition", "go_type"]


class ExprError(ValueError):
    """The condition does not parse, or failed while running (the message says why)."""


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<number>(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op>\*\*|==|!=|<=|>=|&&|\|\||\?\.|[-+*/%<>!?:.,()\[\]{}#^])
    )""",
    re.VERBOSE,
)

#: Binary operators and their binding power (expr-lang's table); ``**`` binds right.
_BINARY = {
    "or": 10, "||": 10,
    "and": 15, "&&": 15,
    "==": 20, "!=": 20, "<": 20, ">": 20, "<=": 20, ">=": 20, "in": 20, "not in": 20,
    "+": 30, "-": 30,
    "*": 60, "/": 60, "%": 60,
    "**": 100, "^": 100,
}  # fmt: skip
_UNARY_POWER = 90


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokens(source: str) -> list[_Tok]:
    found: list[_Tok] = []
    pos = 0
    while pos < len(source):
        if source[pos:].strip() == "":
            break
        match = _TOKEN.match(source, pos)
        if match is None or match.end() == pos:
            raise ExprError(f"unexpected character {source[pos:].lstrip()[:1]!r} at {pos}")
        kind = match.lastgroup or "op"
        found.append(_Tok(kind, match.group(kind), match.start(kind)))
        pos = match.end()
    found.append(_Tok("end", "", len(source)))
    return found


# A node is a closure from the environment to a value: parsing builds it once, evaluation only calls.
Node = Callable[[Mapping[str, Any]], Any]


class _Parser:
    def __init__(self, source: str) -> None:
        self.toks = _tokens(source)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self, text: str | None = None) -> _Tok:
        tok = self.toks[self.i]
        if text is not None and tok.text != text:
            shown = tok.text or "end of input"
            raise ExprError(f"expected {text!r} but found {shown!r} at {tok.pos}")
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self.ternary()
        if self.peek().kind != "end":
            tok = self.peek()
            raise ExprError(f"unexpected token {tok.text!r} at {tok.pos}")
        return node

    def ternary(self) -> Node:
        condition = self.binary(0)
        if self.peek().text != "?":
            return condition
        self.take("?")
        then = self.ternary()
        self.take(":")
        otherwise = self.ternary()
        return lambda env: then(env) if _truth(condition(env), "?:") else otherwise(env)

    def _operator(self) -> str | None:
        tok = self.peek()
        if tok.text == "not" and self.toks[self.i + 1].text == "in":
            return "not in"
        return tok.text if (tok.kind in ("op", "name") and tok.text in _BINARY) else None

    def binary(self, floor: int) -> Node:
        left = self.unary()
        while (op := self._operator()) is not None and _BINARY[op] > floor:
            self.take()
            if op == "not in":
                self.take("in")
            power = _BINARY[op]
            right = self.binary(power - 1 if op in ("**", "^") else power)
            left = _binary_node(op, left, right)
        return left

    def unary(self) -> Node:
        tok = self.peek()
        if tok.text in ("not", "!"):
            self.take()
            operand = self.binary(_UNARY_POWER)
            return lambda env: not _truth(operand(env), "not")
        if tok.text in ("-", "+"):
            self.take()
            operand = self.binary(_UNARY_POWER)
            sign = -1 if tok.text == "-" else 1
            return lambda env: sign * _number(operand(env), tok.text)
        return self.postfix(self.primary())

    def postfix(self, node: Node) -> Node:
        while True:
            tok = self.peek()
            if tok.text in (".", "?."):
                self.take()
                name = self.take()
                if name.kind != "name":
                    raise ExprError(f"expected a field name after '.' at {name.pos}")
                node = _member(node, name.text, optional=tok.text == "?.")
            elif tok.text == "[":
                self.take()
                index = self.ternary()
                self.take("]")
                node = _index(node, index)
            elif tok.text == "(":
                raise ExprError(f"only named functions can be called (at {tok.pos})")
            else:
                return node

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind == "number":
            value = _parse_number(tok.text)
            return lambda env: value
        if tok.kind == "string":
            text = _unquote(tok.text)
            return lambda env: text
        if tok.text == "(":
            inner = self.ternary()
            self.take(")")
            return inner
        if tok.text == "[":
            items = self.arguments("]")
            return lambda env: [item(env) for item in items]
        if tok.text == "#":
            return lambda env: env["#"] if "#" in env else _fail("'#' is only valid inside a predicate")
        if tok.kind == "name":
            literals: dict[str, Any] = {"true": True, "false": False, "nil": None}
            if tok.text in literals:
                constant = literals[tok.text]
                return lambda env: constant
            if self.peek().text == "(":
                self.take("(")
                return self.call(tok)
            name = tok.text
            return lambda env: env[name] if name in env else _fail(f"unknown name {name}")
        raise ExprError(f"unexpected token {tok.text or 'end of input'!r} at {tok.pos}")

    def arguments(self, closing: str) -> list[Node]:
        items: list[Node] = []
        while self.peek().text != closing:
            items.append(self.ternary())
            if self.peek().text != closing:
                self.take(",")
        self.take(closing)
        return items

    def call(self, name: _Tok) -> Node:
        if name.text in _PREDICATES:
            collection = self.ternary()
            self.take(",")
            if self.peek().text == "{":
                self.take("{")
                body = self.ternary()
                self.take("}")
            else:
                body = self.ternary()
            self.take(")")
            return _predicate(name.text, collection, body)
        function = _FUNCTIONS.get(name.text)
        if function is None:
            raise ExprError(f"unknown func {name.text}")
        args = self.arguments(")")
        return lambda env: function(*[arg(env) for arg in args])


def _fail(message: str) -> Any:
    raise ExprError(message)


def _parse_number(text: str) -> int | float:
    clean = text.replace("_", "")
    if re.fullmatch(r"\d+", clean):
        return int(clean)
    return float(clean)


def _unquote(text: str) -> str:
    body = text[1:-1]
    escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(0)), body)


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


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any, op: str) -> int | float:
    if not _is_number(value):
        raise ExprError(f"invalid operation: {op} ({go_type(value)})")
    return value  # type: ignore[no-any-return]


def _truth(value: Any, op: str) -> bool:
    if not isinstance(value, bool):
        raise ExprError(f"invalid operation: {op} ({go_type(value)}), expected bool")
    return value


def _equal(left: Any, right: Any) -> bool:
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if left is None or right is None:
        return left is right
    if type(left) is not type(right) and not (
        isinstance(left, Sequence | Mapping) and isinstance(right, Sequence | Mapping)
    ):
        raise ExprError(f"invalid operation: == (mismatched types {go_type(left)} and {go_type(right)})")
    return bool(left == right)


def _compare(op: str, left: Any, right: Any) -> bool:
    ok = (_is_number(left) and _is_number(right)) or (isinstance(left, str) and isinstance(right, str))
    if not ok:
        raise ExprError(f"invalid operation: {op} (mismatched types {go_type(left)} and {go_type(right)})")
    return bool({"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op])


def _contains(collection: Any, item: Any) -> bool:
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
        return _equal(left, right)
    except ExprError:
        return False


def _arith(op: str, left: Any, right: Any) -> Any:
    if op == "+" and isinstance(left, str) and isinstance(right, str):
        return left + right
    a, b = _number(left, op), _number(right, op)
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


def _binary_node(op: str, left: Node, right: Node) -> Node:
    if op in ("and", "&&"):
        return lambda env: _truth(left(env), op) and _truth(right(env), op)
    if op in ("or", "||"):
        return lambda env: _truth(left(env), op) or _truth(right(env), op)
    if op == "==":
        return lambda env: _equal(left(env), right(env))
    if op == "!=":
        return lambda env: not _equal(left(env), right(env))
    if op in ("<", ">", "<=", ">="):
        return lambda env: _compare(op, left(env), right(env))
    if op == "in":
        return lambda env: _contains(right(env), left(env))
    if op == "not in":
        return lambda env: not _contains(right(env), left(env))
    return lambda env: _arith(op, left(env), right(env))


def _member(node: Node, name: str, *, optional: bool) -> Node:
    def get(env: Mapping[str, Any]) -> Any:
        value = node(env)
        if value is None and optional:
            return None
        if isinstance(value, Mapping):
            return value.get(name)
        raise ExprError(f"type {go_type(value)} has no field {name}")

    return get


def _index(node: Node, index: Node) -> Node:
    def get(env: Mapping[str, Any]) -> Any:
        value, key = node(env), index(env)
        if isinstance(value, Mapping):
            return value.get(key)
        if isinstance(value, Sequence) and not isinstance(value, str):
            if not isinstance(key, int) or isinstance(key, bool):
                raise ExprError(f"invalid index {key!r} of type {go_type(key)}")
            position = key + len(value) if key < 0 else key
            if not 0 <= position < len(value):
                raise ExprError(f"index out of range: {key} (array length is {len(value)})")
            return value[position]
        raise ExprError(f"cannot fetch {key!r} from {go_type(value)}")

    return get


def _items(value: Any, name: str) -> Sequence[Any]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return value
    raise ExprError(f"builtin {name} takes only array (got {go_type(value)})")


_PREDICATES = ("all", "any", "none", "one", "filter", "map", "count")


def _predicate(name: str, collection: Node, body: Node) -> Node:
    def run(env: Mapping[str, Any]) -> Any:
        items = _items(collection(env), name)
        outcomes = [body({**env, "#": item}) for item in items]
        if name == "map":
            return outcomes
        checks = [_truth(outcome, name) for outcome in outcomes]
        if name == "all":
            return all(checks)
        if name == "any":
            return any(checks)
        if name == "none":
            return not any(checks)
        if name == "one":
            return sum(checks) == 1
        if name == "count":
            return sum(checks)
        return [item for item, keep in zip(items, checks, strict=True) if keep]

    return run


def _len(value: Any) -> int:
    if isinstance(value, str | Sequence | Mapping):
        return len(value)
    raise ExprError(f"invalid argument for len (type {go_type(value)})")


def _as_int(value: Any) -> int:
    if _is_number(value):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
        return int(value)
    raise ExprError(f'strconv.ParseInt: parsing "{value}": invalid syntax')


def _as_float(value: Any) -> float:
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ExprError(f'strconv.ParseFloat: parsing "{value}": invalid syntax')


def _float_arg(value: Any, name: str) -> float:
    if not _is_number(value):
        raise ExprError(f"{name}() expects a number, got {go_type(value)}")
    return float(value)


def _extreme(pick: Callable[..., Any], name: str) -> Callable[..., Any]:
    def run(*args: Any) -> Any:
        values = list(_items(args[0], name)) if len(args) == 1 else list(args)
        if not values:
            raise ExprError(f"not enough arguments to call {name}")
        return pick(_number(v, name) for v in values)

    return run


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": _len,
    "abs": lambda v: abs(_number(v, "abs")),
    "min": _extreme(min, "min"),
    "max": _extreme(max, "max"),
    "sum": lambda v: sum(_number(x, "sum") for x in _items(v, "sum")),
    "isNaN": lambda v: math.isnan(_float_arg(v, "isNaN")),
    "isInf": lambda v: math.isinf(_float_arg(v, "isInf")),
    "asInt": _as_int,
    "asFloat": _as_float,
    "isNil": lambda v: v is None,
    "default": lambda v, fallback: fallback if v is None else v,
    "int": _as_int,
    "float": _as_float,
}


def compile_condition(source: str) -> Node:
    """Parse ``source`` once; call the result with an environment (``{"result": ...}``).

    Raises:
        ExprError: The condition does not parse.
    """
    if not source.strip():
        raise ExprError("the condition is empty")
    try:
        return _Parser(source).parse()
    except RecursionError as exc:
        raise ExprError("the condition nests too deeply") from exc


def evaluate_condition(source: str, result: Any) -> bool:
    """Evaluate a condition over ``result``, as Argo Rollouts' ``EvalCondition`` does.

    >>> evaluate_condition("result[0] >= 0.95", [0.97])
    True
    >>> evaluate_condition("len(result) == 0 || isNaN(result[0])", [])
    True

    Raises:
        ExprError: It does not parse, fails while running, or is not a bool.
    """
    try:
        value = compile_condition(source)({"result": result})
    except RecursionError as exc:
        raise ExprError("the condition nests too deeply") from exc
    if not isinstance(value, bool):
        raise ExprError(f"expected bool, but got {go_type(value)}")
    return value
