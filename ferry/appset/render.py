"""Rendering an ApplicationSet's template with one set of parameters, as Argo CD's ``Render`` does.

Every string of the template is rendered on its own, map keys included; numbers and booleans are
left as they are. Two languages:

- fasttemplate (the default): ``{{name}}`` or ``{{ name }}`` is replaced by the parameter of that
  exact name when it is a string; any other tag is left as written. An opening ``{{`` with no
  closing ``}}`` is an error.
- Go templates (``goTemplate: true``): :mod:`ferry.appset.gotemplate`, with ``missingkey=error``
  when the ApplicationSet's ``goTemplateOptions`` say so.

As in Argo CD, an empty parameter set leaves the template untouched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ferry.appset.gofuncs import GoTemplateError
from ferry.appset.gotemplate import GoTemplate, execute, parse

__all__ = ["Language", "check_template", "render_string", "render_value"]

_TEMPLATED = re.compile(r"\{\{.*\}\}", re.DOTALL)
_OPTIONS = frozenset({"missingkey=error", "missingkey=default", "missingkey=invalid", "missingkey=zero"})


@dataclass(frozen=True, slots=True)
class Language:
    """How strings are rendered: Go templates or fasttemplate, and Go's ``missingkey`` option."""

    go: bool = False
    missingkey_error: bool = False

    @classmethod
    def of(cls, go_template: bool, options: tuple[str, ...]) -> Language:
        """From ``goTemplate`` and ``goTemplateOptions``; an unknown option is refused."""
        for option in options:
            if option not in _OPTIONS:
                raise GoTemplateError(f"unsupported goTemplateOptions entry {option!r}")
            if option in ("missingkey=zero", "missingkey=invalid"):
                # Go's "zero" prints "<no value>" for a map of interfaces too; Ferry does not model it.
                raise GoTemplateError(f"goTemplateOptions {option!r} is not supported (use missingkey=error)")
        missing = next((o for o in reversed(options) if o.startswith("missingkey=")), "missingkey=default")
        return cls(go=go_template, missingkey_error=missing == "missingkey=error")


@lru_cache(maxsize=4096)
def _parsed(source: str) -> GoTemplate:
    return parse(source)


def _fasttemplate(source: str, params: Mapping[str, Any]) -> str:
    if not _TEMPLATED.search(source):
        return source
    out: list[str] = []
    pos = 0
    while True:
        start = source.find("{{", pos)
        if start < 0:
            out.append(source[pos:])
            return "".join(out)
        end = source.find("}}", start + 2)
        if end < 0:
            raise GoTemplateError(f"invalid template {source!r}: cannot find end tag '}}}}'")
        out.append(source[pos:start])
        tag = source[start + 2 : end]
        replacement = params.get(tag.strip())
        if tag.strip() and isinstance(replacement, str):
            out.append(replacement)
        else:
            out.append("{{" + tag + "}}")
        pos = end + 2


def render_string(source: str, params: Mapping[str, Any], language: Language) -> str:
    """Render one string.

    >>> render_string("{{ path.basename }}-app", {"path.basename": "guestbook"}, Language())
    'guestbook-app'
    >>> render_string("{{ .path.basename }}", {"path": {"basename": "guestbook"}}, Language(go=True))
    'guestbook'
    """
    if not language.go:
        return _fasttemplate(source, params)
    try:
        return execute(_parsed(source), params, missingkey_error=language.missingkey_error)
    except GoTemplateError as exc:
        raise GoTemplateError(f"failed to execute go template {source}: {exc.message}") from exc


def render_value(value: Any, params: Mapping[str, Any], language: Language) -> Any:
    """Render every string of ``value`` (a YAML tree), keys of mappings too."""
    if not params:
        return value
    if isinstance(value, str):
        return render_string(value, params, language)
    if isinstance(value, Mapping):
        rendered: dict[str, Any] = {}
        for key, item in value.items():
            if item is None:
                continue
            new_key = render_string(key, params, language) if isinstance(key, str) else key
            rendered[new_key] = render_value(item, params, language)
        return rendered
    if isinstance(value, (list, tuple)):
        return [render_value(item, params, language) for item in value]
    return value


def check_template(value: Any, where: str, language: Language) -> None:
    """Parse every string of ``value`` as a Go template; the error names the field ``where`` it sits."""
    if not language.go:
        return
    if isinstance(value, str):
        try:
            _parsed(value)
        except GoTemplateError as exc:
            raise GoTemplateError(f"{where}: {exc.message}") from exc
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_template(key, f"{where} (key {key!r})", language)
            check_template(item, f"{where}.{key}", language)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            check_template(item, f"{where}[{index}]", language)
