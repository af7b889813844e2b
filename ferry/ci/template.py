"""The tag template mini-language of build rules: ``{version}-{sha:6}`` → ``v3-5a7147``.

Grammar (the whole template, nothing else is accepted)::

    template    := ( literal | placeholder )+
    literal     := one or more of  A-Z a-z 0-9 . _ -
    placeholder := "{" name [ ":" length ] "}"
    name        := a named group of the rule's pattern, or "sha", "ref"
    length      := a positive integer: keep the first ``length`` characters

``sha`` is the full 40-hex commit id, ``ref`` the short ref name (``release-v3``).
A named group that did not take part in the match renders as an empty string.
There is no escaping: braces never occur in an image tag, so a literal brace is
an error. The rendered tag must satisfy the distribution spec's tag grammar
(``[A-Za-z0-9_][A-Za-z0-9._-]{0,127}``); a ref whose captured text would break
it (``release-v3/x``) is not built, see :func:`render_tag`.

Build arguments use the same placeholders, but their literal text is free.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ferry.registry.model import is_valid_tag

BUILTIN_NAMES = frozenset({"sha", "ref"})

_PLACEHOLDER = re.compile(r"\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<length>[0-9]+))?\}")
_TAG_LITERAL = re.compile(r"[A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class Placeholder:
    """One ``{name[:length]}`` of a template."""

    name: str
    length: int | None = None


Part = str | Placeholder


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: literal strings and placeholders, in order.

    >>> t = Template.parse("{version}-{sha:6}", names={"version"})
    >>> t.render({"version": "v3", "sha": "5a7147e0c0ffee"})
    'v3-5a7147'
    >>> Template.parse("{release}", names={"version"})
    Traceback (most recent call last):
    ...
    ValueError: unknown placeholder {release}: expected one of ref, sha, version
    """

    text: str
    parts: tuple[Part, ...]

    @classmethod
    def parse(cls, text: str, *, names: set[str] | frozenset[str], tag_literals: bool = True) -> Template:
        """Parse ``text``; ``names`` are the pattern's named groups (the builtins are always known).

        Args:
            text: the template.
            names: named groups the rule's pattern defines.
            tag_literals: require literal text to be legal in an image tag (off for build args).

        Raises:
            ValueError: the template is empty, has an unknown placeholder, a zero length,
                a stray brace, or (with ``tag_literals``) a character no tag may contain.
        """
        known = set(names) | BUILTIN_NAMES
        parts: list[Part] = []
        position = 0
        for match in _PLACEHOLDER.finditer(text):
            parts.extend(_literal(text[position : match.start()], tag_literals))
            name, length = match.group("name"), match.group("length")
            if name not in known:
                raise ValueError(
                    f"unknown placeholder {{{name}}}: expected one of {', '.join(sorted(known))}"
                )
            if length is not None and int(length) == 0:
                raise ValueError(f"placeholder {match.group(0)} keeps zero characters")
            parts.append(Placeholder(name, int(length) if length is not None else None))
            position = match.end()
        parts.extend(_literal(text[position:], tag_literals))
        if tag_literals and not parts:
            raise ValueError("the tag template is empty")
        return cls(text, tuple(parts))

    @property
    def names(self) -> frozenset[str]:
        """Every placeholder name the template uses."""
        return frozenset(p.name for p in self.parts if isinstance(p, Placeholder))

    def render(self, values: Mapping[str, str | None]) -> str:
        """Substitute ``values`` (missing or None values render as ``""``)."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = values.get(part.name) or ""
            out.append(value[: part.length] if part.length is not None else value)
        return "".join(out)


def _literal(text: str, tag_literals: bool) -> list[Part]:
    if not text:
        return []
    if "{" in text or "}" in text:
        raise ValueError(f"stray brace in {text!r}: placeholders look like {{name}} or {{name:6}}")
    if tag_literals and not _TAG_LITERAL.fullmatch(text):
        raise ValueError(f"{text!r} has characters an image tag cannot hold (allowed: A-Z a-z 0-9 . _ -)")
    return [text]


def render_tag(template: Template, values: Mapping[str, str | None]) -> str | None:
    """Render a tag, or None when the result is not a valid image tag (too long, empty, leading dot).

    >>> t = Template.parse("{version}-{sha:6}", names={"version"})
    >>> render_tag(t, {"version": "v3", "sha": "5a7147e0"}), render_tag(t, {"version": "v3/x", "sha": "5a"})
    ('v3-5a7147', None)
    """
    tag = template.render(values)
    return tag if is_valid_tag(tag) else None
