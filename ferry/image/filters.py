"""The ``allow-tags`` and ``ignore-tags`` filters, applied to tag names before any strategy.

``allow-tags`` is ``regexp:<expression>`` (searched anywhere in the tag, like Go's
``MatchString``) or ``any``. ``ignore-tags`` is a comma-separated list of globs
with the semantics of Go's ``path.Match``, which Image Updater uses: ``*`` and
``?`` never match ``/``, classes are ``[...]`` or ``[^...]`` with ranges, and
``\\`` escapes the next character.

Ferry is stricter than Image Updater here: an unknown ``allow-tags`` form, an
invalid regexp or an invalid glob is a :class:`ConfigError` instead of a logged
warning that silently matches nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from ferry.errors import ConfigError

_STAR = "*"
_ANY = "?"


@dataclass(frozen=True, slots=True)
class _CharClass:
    negated: bool
    ranges: tuple[tuple[str, str], ...]

    def matches(self, char: str) -> bool:
        inside = any(lo <= char <= hi for lo, hi in self.ranges)
        return inside != self.negated


# A token is "*", "?", a literal one-character string wrapped in a tuple, or a class.
_Token = str | tuple[str] | _CharClass


def _bad_pattern(pattern: str, reason: str) -> ConfigError:
    return ConfigError(f"invalid ignore-tags pattern '{pattern}': {reason}")


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    """Read one (possibly escaped) character of a class at ``i``, as Go's ``getEsc`` does."""
    if i >= len(pattern) or pattern[i] in "-]":
        raise _bad_pattern(pattern, "malformed character class")
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise _bad_pattern(pattern, "trailing backslash")
    char, i = pattern[i], i + 1
    if i >= len(pattern):
        raise _bad_pattern(pattern, "unterminated character class")
    return char, i


def _tokenize(pattern: str) -> tuple[_Token, ...]:
    tokens: list[_Token] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            tokens.append(_STAR)
            i += 1
        elif char == "?":
            tokens.append(_ANY)
            i += 1
        elif char == "\\":
            if i + 1 >= len(pattern):
                raise _bad_pattern(pattern, "trailing backslash")
            tokens.append((pattern[i + 1],))
            i += 2
        elif char == "[":
            i += 1
            negated = i < len(pattern) and pattern[i] == "^"
            if negated:
                i += 1
            ranges: list[tuple[str, str]] = []
            while True:
                if i < len(pattern) and pattern[i] == "]" and ranges:
                    i += 1
                    break
                lo, i = _class_char(pattern, i)
                hi = lo
                if pattern[i] == "-":
                    hi, i = _class_char(pattern, i + 1)
                ranges.append((lo, hi))
            tokens.append(_CharClass(negated, tuple(ranges)))
        else:
            tokens.append((char,))
            i += 1
    return tuple(tokens)


@dataclass(frozen=True, slots=True)
class GlobPattern:
    """One glob with Go ``path.Match`` semantics, validated when parsed.

    >>> GlobPattern.parse("v1.[0-9]*").matches("v1.2.3")
    True
    >>> GlobPattern.parse("[^a-c]?").matches("b1")
    False
    >>> GlobPattern.parse("latest\\\\*").matches("latest*")
    True
    """

    text: str
    tokens: tuple[_Token, ...]

    @classmethod
    def parse(cls, text: str) -> GlobPattern:
        """Parse ``text``; raise :class:`ConfigError` naming it when Go would return ErrBadPattern."""
        return cls(text, _tokenize(text))

    def matches(self, name: str) -> bool:
        """True when the whole of ``name`` matches the glob."""
        tokens = self.tokens

        @cache
        def match_from(t: int, n: int) -> bool:
            if t == len(tokens):
                return n == len(name)
            token = tokens[t]
            if token == _STAR:
                # Zero characters, or one more non-'/' character and stay on the star.
                return match_from(t + 1, n) or (n < len(name) and name[n] != "/" and match_from(t, n + 1))
            if n == len(name):
                return False
            char = name[n]
            if token == _ANY:
                ok = char != "/"
            elif isinstance(token, _CharClass):
                ok = token.matches(char)
            else:
                ok = token[0] == char
            return ok and match_from(t + 1, n + 1)

        return match_from(0, 0)


def _parse_allow(value: str | None) -> re.Pattern[str] | None:
    """The compiled ``allow-tags`` regexp, or None when every tag is allowed."""
    if value is None or value == "" or value.strip().lower() == "any":
        return None
    kind, colon, expression = value.partition(":")
    if not colon or kind.strip().lower() != "regexp":
        raise ConfigError(f"invalid allow-tags value '{value}': expected 'regexp:<expression>' or 'any'")
    try:
        return re.compile(expression)
    except re.error as exc:
        raise ConfigError(f"invalid allow-tags regexp '{expression}': {exc}") from exc


def _parse_ignore(value: str | None) -> tuple[GlobPattern, ...]:
    if not value:
        return ()
    return tuple(GlobPattern.parse(item.strip()) for item in value.split(",") if item.strip())


@dataclass(frozen=True, slots=True)
class TagFilter:
    """Which tag names a strategy may consider.

    >>> f = TagFilter.parse(allow_tags="regexp:^v[0-9]+", ignore_tags="v0*, *-debug")
    >>> [f.allows(t) for t in ("v1.2", "v0.9", "v2-debug", "latest")]
    [True, False, False, False]
    >>> TagFilter.parse(ignore_tags="*").allows("v1")
    False
    """

    allow: re.Pattern[str] | None = None
    ignore: tuple[GlobPattern, ...] = ()

    @classmethod
    def parse(cls, allow_tags: str | None = None, ignore_tags: str | None = None) -> TagFilter:
        """Build a filter from the raw ``allow-tags`` and ``ignore-tags`` annotation values.

        Args:
            allow_tags: ``regexp:<re>``, ``any``, or None/empty for any.
            ignore_tags: comma-separated globs, or None/empty for none.

        Raises:
            ConfigError: naming the value, for an unknown form, a bad regexp or a bad glob.
        """
        return cls(_parse_allow(allow_tags), _parse_ignore(ignore_tags))

    def allows(self, tag_name: str) -> bool:
        """True when ``tag_name`` passes ``allow-tags`` and matches no ``ignore-tags`` glob."""
        if self.allow is not None and self.allow.search(tag_name) is None:
            return False
        return not any(pattern.matches(tag_name) for pattern in self.ignore)


ALLOW_ALL = TagFilter()
"""The filter used when neither annotation is set."""
