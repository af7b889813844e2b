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

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ferry.analysis.expr_values import (
    FUNCTIONS,
    ExprError,
    arith,
    compare,
    contains,
    equal,
    go_type,
    items,
    number,
    truth,
)

__all__ = ["ExprError", "compile_condition", "evaluate_condition", "go_type"]


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
        return lambda env: then(env) if truth(condition(env), "?:") else otherwise(env)

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
            return lambda env: not truth(operand(env), "not")
        if tok.text in ("-", "+"):
            self.take()
            operand = self.binary(_UNARY_POWER)
            sign = -1 if tok.text == "-" else 1
            return lambda env: sign * number(operand(env), tok.text)
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
            value = _parsenumber(tok.text)
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
        function = FUNCTIONS.get(name.text)
        if function is None:
            raise ExprError(f"unknown func {name.text}")
        args = self.arguments(")")
        return lambda env: function(*[arg(env) for arg in args])


def _fail(message: str) -> Any:
    raise ExprError(message)


def _parsenumber(text: str) -> int | float:
    clean = text.replace("_", "")
    if re.fullmatch(r"\d+", clean):
        return int(clean)
    return float(clean)


def _unquote(text: str) -> str:
    body = text[1:-1]
    escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(0)), body)


def _binary_node(op: str, left: Node, right: Node) -> Node:
    if op in ("and", "&&"):
        return lambda env: truth(left(env), op) and truth(right(env), op)
    if op in ("or", "||"):
        return lambda env: truth(left(env), op) or truth(right(env), op)
    if op == "==":
        return lambda env: equal(left(env), right(env))
    if op == "!=":
        return lambda env: not equal(left(env), right(env))
    if op in ("<", ">", "<=", ">="):
        return lambda env: compare(op, left(env), right(env))
    if op == "in":
        return lambda env: contains(right(env), left(env))
    if op == "not in":
        return lambda env: not contains(right(env), left(env))
    return lambda env: arith(op, left(env), right(env))


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


_PREDICATES = ("all", "any", "none", "one", "filter", "map", "count")


def _predicate(name: str, collection: Node, body: Node) -> Node:
    def run(env: Mapping[str, Any]) -> Any:
        elements = items(collection(env), name)
        outcomes = [body({**env, "#": element}) for element in elements]
        if name == "map":
            return outcomes
        checks = [truth(outcome, name) for outcome in outcomes]
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
        return [element for element, keep in zip(elements, checks, strict=True) if keep]

    return run


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
