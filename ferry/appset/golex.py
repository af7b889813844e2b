"""Lexing Go templates: text and actions (with the trim markers applied), and an action's words.

Kept apart from :mod:`ferry.appset.gotemplate`, which parses the words into a tree.
"""

from __future__ import annotations

from ferry.appset.gofuncs import GoTemplateError

__all__ = ["split_actions", "unquote", "words"]

_STRING_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a", "b": "\b"}


# -- lexing ------------------------------------------------------------------------------------


def split_actions(source: str) -> list[tuple[str, str]]:
    """``("text", s)`` and ``("action", body)`` pieces, with the trim markers applied."""
    pieces: list[tuple[str, str]] = []
    pos = 0
    while True:
        start = source.find("{{", pos)
        if start < 0:
            pieces.append(("text", source[pos:]))
            return pieces
        text = source[pos:start]
        inner_start = start + 2
        # Go's trim markers need the space: "{{-3}}" is the number -3, "{{- 3}}" trims.
        left_trim = (
            source.startswith("- ", inner_start)
            or source.startswith("-\t", inner_start)
            or (source.startswith("-\n", inner_start))
        )
        if left_trim:
            text = text.rstrip(" \t\r\n")
            inner_start += 1
        end = _action_end(source, inner_start)
        if end < 0:
            raise GoTemplateError(f"unclosed action in {source!r}")
        inner_end = end
        right_trim = end >= 2 and source[end - 1] == "-" and source[end - 2] in " \t\r\n"
        if right_trim:
            inner_end = end - 1
        pieces.append(("text", text))
        pieces.append(("action", source[inner_start:inner_end].strip()))
        pos = end + 2
        if right_trim:
            while pos < len(source) and source[pos] in " \t\r\n":
                pos += 1


def _action_end(source: str, pos: int) -> int:
    """The index of the ``}}`` closing an action, skipping string literals."""
    quote = ""
    while pos < len(source):
        char = source[pos]
        if quote:
            if char == "\\" and quote == '"':
                pos += 2
                continue
            if char == quote:
                quote = ""
        elif char in "\"`'":
            quote = char
        elif source.startswith("}}", pos):
            return pos
        pos += 1
    return -1


def words(body: str) -> list[str]:
    """The words of an action: literals whole, ``(``, ``)`` and ``|`` alone."""
    out: list[str] = []
    pos = 0
    while pos < len(body):
        char = body[pos]
        if char.isspace():
            pos += 1
        elif char in "()|":
            out.append(char)
            pos += 1
        elif char == '"':
            end = pos + 1
            while end < len(body) and body[end] != '"':
                end += 2 if body[end] == "\\" else 1
            if end >= len(body):
                raise GoTemplateError(f"unterminated quoted string in {{{{{body}}}}}")
            out.append(body[pos : end + 1])
            pos = end + 1
        elif char == "`":
            end = body.find("`", pos + 1)
            if end < 0:
                raise GoTemplateError(f"unterminated raw string in {{{{{body}}}}}")
            out.append(body[pos : end + 1])
            pos = end + 1
        else:
            end = pos
            while end < len(body) and not body[end].isspace() and body[end] not in '()|"`':
                end += 1
            out.append(body[pos:end])
            pos = end
    return out


def unquote(token: str) -> str:
    if token.startswith("`"):
        return token[1:-1]
    out: list[str] = []
    chars = token[1:-1]
    index = 0
    while index < len(chars):
        char = chars[index]
        if char != "\\":
            out.append(char)
            index += 1
            continue
        escape = chars[index + 1 : index + 2]
        if escape in _STRING_ESCAPES:
            out.append(_STRING_ESCAPES[escape])
            index += 2
        elif escape in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[escape]
            digits = chars[index + 2 : index + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise GoTemplateError(f"invalid escape in string {token}")
            out.append(chr(int(digits, 16)))
            index += 2 + width
        else:
            raise GoTemplateError(f"invalid escape \\{escape} in string {token}")
    return "".join(out)
