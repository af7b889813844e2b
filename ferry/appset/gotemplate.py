"""A subset of Go's ``text/template``, the language of ``goTemplate: true`` ApplicationSets.

Templates are parsed when the ApplicationSet is read, so anything outside the subset is refused
there, naming the construct, rather than when an Application is generated. The subset:

- text, and actions ``{{ pipeline }}`` with the trim markers ``{{-`` and ``-}}``;
- comments ``{{/* ... */}}``;
- ``{{ if p }} … {{ else if p }} … {{ else }} … {{ end }}``;
- ``{{ range p }} … {{ else }} … {{ end }}`` over a list or a map (keys sorted), rebinding ``.``;
- operands: ``.``, field chains ``.a.b``, string literals (``"…"`` with Go escapes, ```…```), integers,
  ``true``, ``false``, ``nil``, parenthesised pipelines;
- pipelines ``a | f x``: the value on the left becomes the last argument of the function on the right;
- the functions of :mod:`ferry.appset.gofuncs`.

Refused: variables (``$x``), ``with``, ``define``, ``template``, ``block``, ``break``, ``continue``,
method calls and any function not listed. Python's ``eval`` is never used: the parser builds a
small tree of frozen nodes, and :func:`execute` walks it.

``missingkey=error`` makes a field of a map that has no such key an error, as Go does; by default
it is ``nil``, printed ``<no value>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ferry.appset.gofuncs import FUNCTIONS, GoTemplateError, call, go_print, truth
from ferry.appset.golex import split_actions, unquote, words

__all__ = ["GoTemplate", "GoTemplateError", "execute", "parse"]

_KEYWORDS_REFUSED = ("with", "define", "template", "block", "break", "continue")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"-?[0-9]+(?![.eExX0-9])")
_FIELD = re.compile(r"(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.")


# -- the tree ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Field:
    """``.a.b``; ``path`` is empty for ``.`` itself."""

    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class Call:
    """A function and its arguments; a pipeline stage adds the previous value as the last one."""

    function: str
    args: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Pipeline:
    """A first operand or call, then functions to pipe it through."""

    stages: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Output:
    pipeline: Pipeline


@dataclass(frozen=True, slots=True)
class If:
    branches: tuple[tuple[Pipeline, tuple[Any, ...]], ...]
    otherwise: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Range:
    pipeline: Pipeline
    body: tuple[Any, ...]
    otherwise: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class GoTemplate:
    """A parsed template: ``source`` as written, ``nodes`` to execute."""

    source: str
    nodes: tuple[Any, ...]


# -- parsing -----------------------------------------------------------------------------------


def _operand(word: str, body: str) -> Any:
    if word.startswith(('"', "`")):
        return Literal(unquote(word))
    if word.startswith("$"):
        raise GoTemplateError(f"variables are not supported ({word} in {{{{{body}}}}})")
    if _FIELD.fullmatch(word):
        return Field(tuple(p for p in word.split(".") if p))
    if word.startswith(".") or ("." in word and _IDENT.match(word)):
        raise GoTemplateError(f"unsupported field or method syntax {word!r} in {{{{{body}}}}}")
    if _NUMBER.fullmatch(word):
        return Literal(int(word))
    if word in ("true", "false"):
        return Literal(word == "true")
    if word == "nil":
        return Literal(None)
    if word.startswith("'"):
        raise GoTemplateError(f"character constants are not supported ({word} in {{{{{body}}}}})")
    raise GoTemplateError(f"unsupported operand {word!r} in {{{{{body}}}}}")


def _pipeline(tokens: list[str], pos: int, body: str, closing: str | None) -> tuple[Pipeline, int]:
    """Parse ``command ('|' command)*`` up to ``closing`` (``)``) or the end of the action."""
    stages: list[Any] = []
    while True:
        words: list[Any] = []
        first_ident: str | None = None
        while pos < len(tokens) and tokens[pos] not in ("|", ")"):
            word = tokens[pos]
            if word == "(":
                inner, pos = _pipeline(tokens, pos + 1, body, ")")
                words.append(inner)
                continue
            if not words and _IDENT.fullmatch(word) and word not in ("true", "false", "nil"):
                if word not in FUNCTIONS:
                    raise GoTemplateError(
                        f"function {word!r} is not supported (supported: {', '.join(sorted(FUNCTIONS))})"
                    )
                first_ident = word
                words.append(word)
            else:
                words.append(_operand(word, body))
            pos += 1
        if not words:
            raise GoTemplateError(f"missing command in {{{{{body}}}}}")
        if first_ident is not None:
            stages.append(Call(first_ident, tuple(words[1:])))
        elif len(words) > 1:
            raise GoTemplateError(f"can't give argument to non-function in {{{{{body}}}}}")
        elif stages:
            raise GoTemplateError(f"non-function in a pipeline stage in {{{{{body}}}}}")
        else:
            stages.append(words[0])
        if pos < len(tokens) and tokens[pos] == "|":
            pos += 1
            continue
        break
    if closing is not None:
        if pos >= len(tokens) or tokens[pos] != closing:
            raise GoTemplateError(f"unclosed parenthesis in {{{{{body}}}}}")
        pos += 1
    elif pos < len(tokens):
        raise GoTemplateError(f"unexpected {tokens[pos]!r} in {{{{{body}}}}}")
    return Pipeline(tuple(stages)), pos


def _parse_pipeline(body: str) -> Pipeline:
    tokens = words(body)
    if not tokens:
        raise GoTemplateError("missing value for command in {{}}")
    return _pipeline(tokens, 0, body, None)[0]


def parse(source: str) -> GoTemplate:
    """Parse ``source``; :class:`GoTemplateError` names what is outside the subset.

    >>> execute(parse('{{ .name | upper }}-{{ index .labels "app.kubernetes.io/part-of" }}'),
    ...         {"name": "eu", "labels": {"app.kubernetes.io/part-of": "shop"}})
    'EU-shop'
    """
    pieces = split_actions(source)
    try:
        nodes, _, ender = _block(pieces, 0, source)
    except RecursionError as exc:
        raise GoTemplateError(f"template nests too deeply: {source[:80]!r}") from exc
    if ender is not None:
        raise GoTemplateError(f"unexpected {{{{{ender}}}}} in {source!r}")
    return GoTemplate(source, nodes)


def _block(pieces: list[tuple[str, str]], pos: int, source: str) -> tuple[tuple[Any, ...], int, str | None]:
    """Nodes up to an ``else``/``end`` action, returned as the third value (None at the end)."""
    nodes: list[Any] = []
    while pos < len(pieces):
        kind, body = pieces[pos]
        pos += 1
        if kind == "text":
            if body:
                nodes.append(Text(body))
            continue
        if body.startswith("/*"):
            if not body.endswith("*/"):
                raise GoTemplateError(f"unclosed comment in {source!r}")
            continue
        word = body.split(None, 1)[0] if body else ""
        if word in ("end", "else"):
            return tuple(nodes), pos, body
        if word in _KEYWORDS_REFUSED:
            raise GoTemplateError(f"{{{{{word}}}}} is not supported (in {source!r})")
        if word == "if":
            branch, pos = _if(pieces, pos, body[2:].strip(), source)
            nodes.append(branch)
        elif word == "range":
            loop, pos = _range(pieces, pos, body[5:].strip(), source)
            nodes.append(loop)
        else:
            nodes.append(Output(_parse_pipeline(body)))
    return tuple(nodes), pos, None


def _if(pieces: list[tuple[str, str]], pos: int, condition: str, source: str) -> tuple[If, int]:
    branches: list[tuple[Pipeline, tuple[Any, ...]]] = []
    otherwise: tuple[Any, ...] = ()
    while True:
        body, pos, ender = _block(pieces, pos, source)
        branches.append((_parse_pipeline(condition), body))
        if ender is None:
            raise GoTemplateError(f"unexpected EOF: {{{{if}}}} without {{{{end}}}} in {source!r}")
        if ender == "end":
            return If(tuple(branches), otherwise), pos
        rest = ender[4:].strip()
        if rest.startswith("if ") or rest == "if":
            condition = rest[2:].strip()
            continue
        if rest:
            raise GoTemplateError(f"unexpected {{{{{ender}}}}} in {source!r}")
        otherwise, pos, ender = _block(pieces, pos, source)
        if ender != "end":
            raise GoTemplateError(f"expected {{{{end}}}} after {{{{else}}}} in {source!r}")
        return If(tuple(branches), otherwise), pos


def _range(pieces: list[tuple[str, str]], pos: int, expression: str, source: str) -> tuple[Range, int]:
    if ":=" in expression or "$" in expression:
        raise GoTemplateError(f"range variables are not supported (in {source!r})")
    pipeline = _parse_pipeline(expression)
    body, pos, ender = _block(pieces, pos, source)
    otherwise: tuple[Any, ...] = ()
    if ender == "else":
        otherwise, pos, ender = _block(pieces, pos, source)
    if ender != "end":
        raise GoTemplateError(f"expected {{{{end}}}} for {{{{range}}}} in {source!r}")
    return Range(pipeline, body, otherwise), pos


# -- executing ---------------------------------------------------------------------------------


# A deploy repo is not trusted: nested ranges over its files must not fill the memory.
MAX_OUTPUT = 1 << 20


@dataclass(frozen=True, slots=True)
class _Scope:
    dot: Any
    missing_error: bool


class _Output:
    """The rendered text, refused once it passes :data:`MAX_OUTPUT` characters."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def write(self, text: str) -> None:
        self.size += len(text)
        if self.size > MAX_OUTPUT:
            raise GoTemplateError(f"rendering writes more than {MAX_OUTPUT} characters")
        self.parts.append(text)


def execute(template: GoTemplate, data: Any, *, missingkey_error: bool = False) -> str:
    """Render ``template`` with ``data`` as ``.``; :class:`GoTemplateError` on a failed evaluation."""
    out = _Output()
    _run(template.nodes, _Scope(data, missingkey_error), out)
    return "".join(out.parts)


def _run(nodes: Sequence[Any], scope: _Scope, out: _Output) -> None:
    for node in nodes:
        if isinstance(node, Text):
            out.write(node.text)
        elif isinstance(node, Output):
            out.write(go_print(_evaluate(node.pipeline, scope)))
        elif isinstance(node, If):
            for condition, body in node.branches:
                if truth(_evaluate(condition, scope)):
                    _run(body, scope, out)
                    break
            else:
                _run(node.otherwise, scope, out)
        elif isinstance(node, Range):
            items = _evaluate(node.pipeline, scope)
            if isinstance(items, Mapping):
                elements = [items[k] for k in sorted(items)]
            elif isinstance(items, (list, tuple)):
                elements = list(items)
            elif items is None:
                elements = []
            else:
                raise GoTemplateError(f"range can't iterate over {go_print(items)}")
            for element in elements:
                _run(node.body, _Scope(element, scope.missing_error), out)
            if not elements:
                _run(node.otherwise, scope, out)


def _evaluate(pipeline: Pipeline, scope: _Scope) -> Any:
    value: Any = None
    for index, stage in enumerate(pipeline.stages):
        if isinstance(stage, Call):
            args = [_value(arg, scope) for arg in stage.args]
            if index > 0:
                args.append(value)
            value = call(stage.function, args)
        else:
            value = _value(stage, scope)
    return value


def _value(node: Any, scope: _Scope) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Pipeline):
        return _evaluate(node, scope)
    if isinstance(node, Field):
        value = scope.dot
        for name in node.path:
            if value is None:
                if scope.missing_error:
                    raise GoTemplateError(f"nil data; no entry for key {name!r}")
                return None
            if not isinstance(value, Mapping):
                raise GoTemplateError(f"can't evaluate field {name} in type {type(value).__name__}")
            if name not in value:
                if scope.missing_error:
                    raise GoTemplateError(f'map has no entry for key "{name}"')
                return None
            value = value[name]
        return value
    raise GoTemplateError(f"cannot evaluate {node!r}")  # pragma: no cover - the parser builds no other
