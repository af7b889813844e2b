"""The ``helmvalues[:path]`` write-back target: edit a Helm values file in place.

With ``write-back-target: helmvalues``, Image Updater writes the new image straight into a
values file instead of an ``.argocd-source`` file. It sets each parameter with
``setHelmValue``: a key equal to the whole dotted path at the top level is set as it is
(``image.tag: v1`` stays a literal key); otherwise the path is split on dots and walked,
creating mappings that are missing, and a path through anything but a mapping is an error.

Image Updater re-encodes the whole file with yaml.v3. Ferry edits it with ruamel.yaml's
round trip instead, so comments, key order, quoting and the file's own indentation survive
and the commit diff shows only the changed values. A value is written in the style it
already had, or, for a new or unquoted one, in the style yaml.v3 would choose.

Note for callers: Image Updater sets the tag parameter before the name parameter in this
mode, which decides the order of keys it has to create.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from ferry import safeyaml
from ferry.errors import ConfigError
from ferry.writeback import _roundtrip
from ferry.writeback._paths import repo_relative

DEFAULT_VALUES_FILE = "values.yaml"
KUSTOMIZATION_FILE_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
"""The names kustomize recognises, in the order Image Updater probes them."""

_HELM_PREFIX = "helmvalues"
_KUSTOMIZE_PREFIX = "kustomization"


def resolve_target_path(target_annotation: str, source_path: str) -> str:
    """Resolve a ``write-back-target`` annotation to a repo-relative path.

    ``helmvalues`` means ``values.yaml`` in the source path; ``helmvalues:rel/file.yaml`` is
    relative to the source path; ``helmvalues:/file.yaml`` is relative to the repository
    root. ``kustomization[:path]`` works the same way but names a directory, in which the
    file is one of :data:`KUSTOMIZATION_FILE_NAMES`.

    Args:
        target_annotation: the annotation's value.
        source_path: the Application's ``spec.source.path``.

    Returns:
        A normalised path relative to the repository root.

    Raises:
        ConfigError: the annotation is neither form, or ``helmvalues:`` names no file.
        UnsafePathError: the path leaves the repository.

    >>> resolve_target_path("helmvalues", "manifests/helm/echo-server")
    'manifests/helm/echo-server/values.yaml'
    >>> resolve_target_path("helmvalues:../values-dev.yaml", "manifests/helm/echo-server")
    'manifests/helm/values-dev.yaml'
    >>> resolve_target_path("kustomization:/base", "overlays/dev")
    'base'
    """
    kind, separator, path = target_annotation.partition(":")
    what = "write-back-target"
    if kind == _HELM_PREFIX:
        if not separator:
            return repo_relative(source_path, DEFAULT_VALUES_FILE, what=what)
        if not path.strip("/"):
            raise ConfigError("helmvalues: names no file", key=what)
        return repo_relative(source_path, path, what=what)
    if kind == _KUSTOMIZE_PREFIX:
        return repo_relative(source_path, path if separator else ".", what=what)
    raise ConfigError(
        f"unknown write-back-target {target_annotation!r}: "
        "expected helmvalues[:path] or kustomization[:path]",
        key=what,
    )


def set_helm_values(existing: bytes, assignments: Sequence[tuple[str, str]], *, source: str) -> bytes:
    """Set dotted paths in a values file, keeping everything else as it was.

    Args:
        existing: the values file's bytes (empty for a new file).
        assignments: ``(path, value)`` pairs applied in order, e.g.
            ``("image.echoServer.tag", "v3-5a7147")``. Values are strings, as in
            Image Updater (``forcestring``).
        source: the file's repo-relative path, for error messages.

    Returns:
        The new bytes; exactly ``existing`` when every value was already set.

    Raises:
        ConfigError: the file does not parse, its root is not a mapping, or a path runs
            through a value that is not a mapping.
    """
    data, handler = _roundtrip.load(existing, source=source)
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        raise ConfigError("values file root must be a mapping", source=source)
    changed = False
    for path, value in assignments:
        changed = _set(data, path, value, source) or changed
    if not changed:
        return existing
    return _roundtrip.dump(data, handler)


def get_helm_value(existing: bytes | None, path: str, *, source: str = DEFAULT_VALUES_FILE) -> str | None:
    """Read a dotted path the way :func:`set_helm_values` would write it.

    Returns the scalar's text exactly as written (``1.10`` stays ``"1.10"``), ``""`` for
    null, and ``None`` when the path is absent.

    Raises:
        ConfigError: the file does not parse, or the path runs through or ends at a value
            that is not a scalar.

    >>> get_helm_value(b"image:\\n  tag: 1.10\\n", "image.tag")
    '1.10'
    >>> get_helm_value(b"image.tag: v1\\nimage:\\n  tag: v2\\n", "image.tag")
    'v1'
    """
    if not existing:
        return None
    try:
        root = safeyaml.compose(existing, source=source)
    except yaml.YAMLError as exc:
        raise ConfigError(f"does not parse as YAML: {exc}", source=source) from exc
    if root is None:
        return None
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError("values file root must be a mapping", source=source)
    node = _node_child(root, path)
    if node is None:
        node = root
        parts = path.split(".")
        for depth, part in enumerate(parts):
            if not isinstance(node, yaml.MappingNode):
                raise ConfigError(
                    f"{'.'.join(parts[:depth])!r} is not a mapping, so {path!r} cannot be read",
                    source=source,
                    key=path,
                )
            node = _node_child(node, part)
            if node is None:
                return None
    if not isinstance(node, yaml.ScalarNode):
        raise ConfigError(f"{path!r} is not a scalar value", source=source, key=path)
    if node.tag == "tag:yaml.org,2002:null" and node.style is None:
        return ""
    return str(node.value)


def _node_child(mapping: yaml.MappingNode, key: str) -> Any:
    for key_node, value_node in mapping.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return value_node
    return None


def _find_key(mapping: CommentedMap, text: str) -> tuple[bool, Any]:
    # yaml.v3 compares the key's text, so `1:` or `true:` match "1" and "true".
    for key in mapping:
        if key == text or (not isinstance(key, str) and _roundtrip.scalar_text(key) == text):
            return True, key
    return False, None


def _assign(mapping: CommentedMap, key: Any, value: str, path: str, source: str) -> bool:
    previous = mapping[key]
    if isinstance(previous, CommentedMap | CommentedSeq | dict | list):
        raise ConfigError(f"{path!r} is a mapping or list, not a value to set", source=source, key=path)
    if _roundtrip.scalar_text(previous) == value and isinstance(previous, str):
        return False
    mapping[key] = _roundtrip.styled(value, previous)
    return True


def _set(root: CommentedMap, path: str, value: str, source: str) -> bool:
    found, key = _find_key(root, path)
    if found:
        return _assign(root, key, value, path, source)
    current = root
    parts = path.split(".")
    for depth, part in enumerate(parts):
        found, key = _find_key(current, part)
        last = depth == len(parts) - 1
        if not found:
            if last:
                current[part] = _roundtrip.styled(value, None)
                return True
            current[part] = CommentedMap()
            current = current[part]
            continue
        if last:
            return _assign(current, key, value, path, source)
        child = current[key]
        if not isinstance(child, CommentedMap):
            prefix = ".".join(parts[: depth + 1])
            raise ConfigError(
                f"{prefix!r} is not a mapping, so {path!r} cannot be set", source=source, key=path
            )
        current = child
    return True  # unreachable: the loop always returns on the last part
