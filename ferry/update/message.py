"""Commit messages and branch names from Image Updater's Go-template syntax.

Teams moving from Image Updater keep their ``git.commit-message-template`` and
``git-branch`` templates, so Ferry understands the subset of ``text/template``
those use: ``{{ .AppName }}``, ``{{ .SHA256 }}``, ``{{ range .AppChanges }}``
(``.Image``, ``.OldTag``, ``.NewTag``) and ``{{ range .Images }}`` (``.Name``,
``.Alias``, ``.OldTag``, ``.NewTag``) up to ``{{ end }}``, and the ``{{-``/``-}}``
whitespace trimming markers. Anything else is a :class:`ConfigError`, so a
typo shows at once rather than in a commit.

Image names in messages and branch names are Image Updater's ``ImageName``: the
registry host left out (``cidemo/echo-server``), as its commits read.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ferry.errors import ConfigError
from ferry.writeback._identifier import parse_identifier

_ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.DOTALL)


@dataclass(frozen=True, slots=True)
class ImageChange:
    """One image moved from one tag to another, as it appears in messages, events and artifacts."""

    alias: str | None
    image: str  # the image name without tag, as written in the image-list
    old_tag: str | None
    new_tag: str
    renders_unchanged: bool = False  # the write-back changes nothing the app renders (ferry.update.effect)

    @property
    def old_ref(self) -> str:
        return f"{self.image}:{self.old_tag}" if self.old_tag else self.image

    @property
    def new_ref(self) -> str:
        return f"{self.image}:{self.new_tag}"

    @property
    def name(self) -> str:
        """Image Updater's ``ImageName``: the image without its registry host (``cidemo/echo-server``)."""
        return parse_identifier(self.image).name

    def as_dict(self) -> dict[str, object]:
        """The JSON form in cycle results and in the ``ferry.image.updated`` event's ``images``.

        ``ferry.release.gates.ImageMove.from_event`` reads it back, so its keys are a contract.
        """
        return {
            "alias": self.alias,
            "image": self.image,
            "old_tag": self.old_tag,
            "new_tag": self.new_tag,
            "renders_unchanged": self.renders_unchanged,
        }


MAX_BRANCH_LENGTH = 255


def changes_digest(changes: Sequence[ImageChange]) -> str:
    """``{{ .SHA256 }}``: the hash Image Updater takes over ``<name>-<old>-<new>,`` per change.

    >>> changes_digest([ImageChange(None, "foo/bar", "1.0", "1.1")])
    '0fcc2782543e4bb067c174c21bf44eb947f3e55c0d62c403e359c1c209cbd041'
    """
    text = "".join(f"{c.name}-{c.old_tag or ''}-{c.new_tag}," for c in changes)
    return hashlib.sha256(text.encode()).hexdigest()


def render_branch_name(template: str, *, app_name: str, changes: Sequence[ImageChange]) -> str:
    """A write-branch name; cut to 255 characters as Image Updater cuts it."""
    return render_template(template, app_name=app_name, changes=changes)[:MAX_BRANCH_LENGTH]


def _tokens(template: str) -> list[tuple[str, str]]:
    """Split into ('text', s) and ('action', s) tokens, applying the trim markers."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    trim_next = False
    for match in _ACTION.finditer(template):
        text = template[pos : match.start()]
        if trim_next:
            text = text.lstrip()
        if match.group(1):
            text = text.rstrip()
        tokens.append(("text", text))
        tokens.append(("action", match.group(2)))
        trim_next = bool(match.group(3))
        pos = match.end()
    tail = template[pos:]
    tokens.append(("text", tail.lstrip() if trim_next else tail))
    return tokens


def render_template(template: str, *, app_name: str, changes: Sequence[ImageChange]) -> str:
    """Render a commit message or branch template.

    >>> c = [ImageChange("web", "r/web", "v1", "v2")]
    >>> render_template("up {{ .AppName }}: {{range .AppChanges}}{{.Image}} {{.OldTag}}->{{.NewTag}}{{end}}",
    ...                 app_name="a", changes=c)
    'up a: r/web v1->v2'
    """
    fields = {".AppName": app_name, ".SHA256": changes_digest(changes)}
    out: list[str] = []
    body: list[tuple[str, str]] | None = None
    depth = 0
    for kind, value in _tokens(template):
        if body is not None:
            if kind == "action" and value.startswith("range "):
                depth += 1
            if kind == "action" and value == "end":
                if depth == 0:
                    for change in changes:
                        out.append(_render_body(body, change, fields))
                    body = None
                    continue
                depth -= 1
            body.append((kind, value))
            continue
        if kind == "text":
            out.append(value)
        elif value in _RANGES:
            body = []
        elif value in fields:
            out.append(fields[value])
        else:
            raise ConfigError(f"unsupported template action {{{{ {value} }}}}", key="commit message template")
    if body is not None:
        raise ConfigError("{{ range }} without {{ end }}", key="commit message template")
    return "".join(out)


_RANGES = ("range .AppChanges", "range .Images")


def _render_body(body: list[tuple[str, str]], change: ImageChange, fields: dict[str, str]) -> str:
    values = {
        ".Image": change.name,
        ".Name": change.name,
        ".Alias": change.alias or "",
        ".OldTag": change.old_tag or "",
        ".NewTag": change.new_tag,
        **fields,
    }
    parts: list[str] = []
    for kind, value in body:
        if kind == "text":
            parts.append(value)
        elif value in values:
            parts.append(values[value])
        else:
            raise ConfigError(
                f"unsupported template action {{{{ {value} }}}} inside range", key="commit message template"
            )
    return "".join(parts)
