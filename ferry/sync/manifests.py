"""Manifests as text: a rendered YAML stream split into objects, and the files of a plain-directory source.

Helm and kustomize print one multi-document stream; a directory source is read
file by file with Argo CD's ``recurse``/``include``/``exclude`` rules. Both end
as the same list of objects.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from ferry import safeyaml
from ferry.argocd.application import Application, ApplicationSource
from ferry.errors import ConfigError

_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def parse_manifests(text: str, *, origin: str) -> list[dict[str, Any]]:
    """Split a multi-document YAML stream into objects; ``kind: *List`` documents are flattened.

    >>> [m["kind"] for m in parse_manifests("kind: A\\napiVersion: v1\\n---\\n# empty\\n", origin="t")]
    ['A']
    """
    try:
        documents = safeyaml.load_all(text, source=origin)
    except yaml.YAMLError as exc:
        raise ConfigError(f"rendered output is not YAML: {exc}", source=origin) from exc
    objects: list[dict[str, Any]] = []
    for document in documents:
        if document is None:
            continue
        if not isinstance(document, dict):
            raise ConfigError("a rendered document is not a mapping", source=origin)
        if str(document.get("kind", "")).endswith("List") and isinstance(document.get("items"), list):
            objects.extend(item for item in document["items"] if isinstance(item, dict))
            continue
        if not document.get("apiVersion") or not document.get("kind"):
            raise ConfigError("a rendered object has no apiVersion or kind", source=origin)
        objects.append(document)
    return objects


def expand_braces(pattern: str) -> list[str]:
    """Expand ``{a,b}`` alternatives the way Argo CD's include/exclude globs allow.

    >>> expand_braces("{app.yaml,svc/*.yml}")
    ['app.yaml', 'svc/*.yml']
    """
    match = re.search(r"\{([^{}]*)\}", pattern)
    if not match:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end() :]
    return [
        expanded for option in match.group(1).split(",") for expanded in expand_braces(head + option + tail)
    ]


def _glob_matches(patterns: str | None, relative: str) -> bool:
    if not patterns:
        return False
    name = relative.rsplit("/", 1)[-1]
    return any(
        fnmatch.fnmatchcase(relative, p) or fnmatch.fnmatchcase(name, p) for p in expand_braces(patterns)
    )


def directory_files(
    directory: Path, *, recurse: bool, include: str | None, exclude: str | None
) -> Iterator[Path]:
    """Manifest files of a plain-directory source, sorted; dotfiles (the override files) are skipped."""
    candidates = directory.rglob("*") if recurse else directory.glob("*")
    for path in sorted(candidates):
        relative = path.relative_to(directory).as_posix()
        if any(part.startswith(".") for part in relative.split("/")):
            continue
        if not path.is_file() or path.suffix not in _MANIFEST_SUFFIXES:
            continue
        if include and not _glob_matches(include, relative):
            continue
        if _glob_matches(exclude, relative):
            continue
        yield path


def directory_manifests(app: Application, source: ApplicationSource, directory: Path) -> list[dict[str, Any]]:
    """The objects of a plain-directory source, file by file in :func:`directory_files` order."""
    options = source.directory
    objects: list[dict[str, Any]] = []
    for path in directory_files(
        directory,
        recurse=bool(options and options.recurse),
        include=options.include if options else None,
        exclude=options.exclude if options else None,
    ):
        text = path.read_text(encoding="utf-8")
        objects.extend(parse_manifests(text, origin=f"{app.name}: {path.relative_to(directory)}"))
    return objects
