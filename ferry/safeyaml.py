"""YAML from deploy repos and Applications, read with bounds.

A deploy repo is written by many hands, so every YAML file Ferry reads from it
(or from an Application) is parsed under three limits before anything else
touches it:

* **size**: the text itself;
* **expanded nodes**: the node count the document would have with every alias
  copied out. PyYAML shares an aliased node instead of copying it, so a 766-byte
  "billion laughs" file composes instantly; it is the merge patch, the JSON dump
  or the validation afterwards that expands it to gigabytes. Counting the
  expansion at compose time (each anchored subtree's size is remembered, each
  alias adds it) stops it before any of that runs;
* **depth**: PyYAML's composer recurses once per nesting level, so a 40 KB file of
  ``[[[[…`` raises ``RecursionError`` (which is no ``YAMLError`` and escaped every
  handler). The limit turns it into an error naming the file.

Override files (``.argocd-source*.yaml``) get no aliases at all: Image Updater
never writes one, and a merge patch is the place they would do harm.

Violations raise :class:`~ferry.errors.ConfigError` naming the file; ordinary
syntax errors stay ``yaml.YAMLError`` so callers keep their own messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from ferry.errors import ConfigError

try:
    from yaml import cyaml as _cyaml
except ImportError:  # PyYAML built without libyaml: the pure-Python parser does the same, slower
    _cyaml = None  # type: ignore[assignment]
_CParser: Any = None if _cyaml is None else vars(_cyaml)["CParser"]

__all__ = ["OVERRIDE", "REPO", "Limits", "check", "compose", "load", "load_all"]


@dataclass(frozen=True, slots=True)
class Limits:
    """What one YAML text may hold.

    Attributes:
        max_bytes: the encoded size of the text.
        max_nodes: scalars, sequences and mappings, with every alias expanded.
        max_depth: nesting of sequences and mappings.
        aliases: whether ``*alias`` (and so ``<<: *merge``) is allowed.
    """

    max_bytes: int = 16 << 20
    max_nodes: int = 1_000_000
    max_depth: int = 100
    aliases: bool = True


#: Values files, kustomizations, Application manifests, rendered output, ``ferry.yaml``.
REPO = Limits()
#: ``.argocd-source*.yaml``: small, written by a machine, merged into the source.
OVERRIDE = Limits(max_bytes=1 << 20, max_nodes=100_000, max_depth=32, aliases=False)


class _Refused(Exception):
    """A limit was hit; carries the message without location."""


class _Bounds(Composer):
    """A composer that counts expanded nodes and depth, and may refuse aliases."""

    def _bound(self, limits: Limits) -> None:
        self._limits = limits
        self._depth = 0
        self._expanded = 0
        self._sizes: dict[str, int] = {}

    def compose_document(self) -> Any:
        self._sizes = {}  # anchors are scoped to one document
        return super().compose_document()

    def _count(self, nodes: int) -> None:
        self._expanded += nodes
        if self._expanded > self._limits.max_nodes:
            raise _Refused(f"expands to more than {self._limits.max_nodes} YAML nodes (an alias bomb?)")

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[attr-defined]
        if isinstance(event, yaml.AliasEvent):
            line = event.start_mark.line + 1 if event.start_mark else 0
            if not self._limits.aliases:
                raise _Refused(f"YAML aliases are not allowed in this file (line {line})")
            if event.anchor in self.anchors:
                size = self._sizes.get(str(event.anchor))
                if size is None:
                    raise _Refused(f"alias *{event.anchor} refers to itself (line {line})")
                self._count(size)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > self._limits.max_depth:
            raise _Refused(f"nested deeper than {self._limits.max_depth} levels")
        before = self._expanded
        self._count(1)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, yaml.ScalarNode) and node.style == "":
            node.style = None  # libyaml's plain style is "", PyYAML's None: readers of styles see one
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._sizes[str(anchor)] = self._expanded - before
        return node


class _BoundedLoader(_Bounds, yaml.SafeLoader):
    """SafeLoader with the bounds: the pure-Python parser, where libyaml is missing."""

    def __init__(self, stream: str, limits: Limits) -> None:
        yaml.SafeLoader.__init__(self, stream)
        self._bound(limits)


if _CParser is not None:

    class _CBoundedLoader(_Bounds, _CParser, SafeConstructor, Resolver):  # type: ignore[misc]
        """libyaml's scanner and parser under the same composer: about ten times faster.

        Only events come from C; the nodes are composed here, so the bounds count
        exactly what they count above, and the constructor and resolver are PyYAML's
        own safe ones (what ``yaml.CSafeLoader`` combines too).
        """

        def __init__(self, stream: str, limits: Limits) -> None:
            _CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self._bound(limits)


def _loader(stream: str, limits: Limits) -> Any:
    return (_CBoundedLoader if _CParser is not None else _BoundedLoader)(stream, limits)


def _text(data: str | bytes, source: str, limits: Limits) -> str:
    size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
    if size > limits.max_bytes:
        raise ConfigError(f"is {size} bytes, more than the {limits.max_bytes} allowed", source=source)
    if isinstance(data, bytes):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"does not parse: it is not UTF-8 ({exc})", source=source) from exc
    return data


def _run(data: str | bytes, source: str, limits: Limits, action: str) -> Any:
    loader = _loader(_text(data, source, limits), limits)
    try:
        if action == "compose":
            return loader.get_single_node()
        if action == "check":
            while loader.check_node():
                loader.get_node()
            return None
        if action == "load":
            return loader.get_single_data()
        documents = []
        while loader.check_data():
            documents.append(loader.get_data())
        return documents
    except _Refused as exc:
        raise ConfigError(str(exc), source=source) from None
    except yaml.MarkedYAMLError as exc:
        # libyaml stops at 1,000 levels while scanning, before the composer counts them: the
        # same refusal (ours is lower), so it gets the same message.
        if "maximum nesting depth" in str(exc.problem):
            raise ConfigError(f"nested deeper than {limits.max_depth} levels", source=source) from None
        raise
    finally:
        loader.dispose()


def check(data: str | bytes, *, source: str, limits: Limits = REPO) -> None:
    """Parse every document of ``data`` within ``limits`` and discard it.

    For texts another parser (ruamel's round-trip loader) reads afterwards.

    >>> check("a: &x [1, 2]\\nb: *x\\n", source="values.yaml")
    >>> check("a: &x [1]\\nb: *x\\n", source=".argocd-source.yaml", limits=OVERRIDE)
    Traceback (most recent call last):
    ...
    ferry.errors.ConfigError: .argocd-source.yaml: YAML aliases are not allowed in this file (line 2)
    """
    _run(data, source, limits, "check")


def compose(data: str | bytes, *, source: str, limits: Limits = REPO) -> yaml.Node | None:
    """The node tree of a single-document text (``yaml.compose`` within ``limits``)."""
    node: yaml.Node | None = _run(data, source, limits, "compose")
    return node


def load(data: str | bytes, *, source: str, limits: Limits = REPO) -> Any:
    """``yaml.safe_load`` within ``limits``.

    >>> load("[[[1]]]", source="deep.yaml", limits=Limits(max_depth=2))
    Traceback (most recent call last):
    ...
    ferry.errors.ConfigError: deep.yaml: nested deeper than 2 levels
    """
    return _run(data, source, limits, "load")


def load_all(data: str | bytes, *, source: str, limits: Limits = REPO) -> list[Any]:
    """``list(yaml.safe_load_all(...))`` within ``limits`` (counted over the whole stream)."""
    documents: list[Any] = _run(data, source, limits, "load_all")
    return documents
