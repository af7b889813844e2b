"""The ``.argocd-source-<app>.yaml`` write-back target, byte for byte as Image Updater writes it.

Image Updater's default write-back target is a parameter-override file next to the
Application's source. For Helm it holds ``helm: {parameters: [...]}``, for Kustomize
``kustomize: {images: [...]}``; Argo CD merges it into the source when it renders.
Everything here is pure: the bytes already in the repository (or ``None``) go in, the
bytes to commit come out. Equal output and input means "nothing to commit".

Merge rules (``mergeHelmOverride`` / ``mergeKustomizeOverride`` in Image Updater):

* Helm: parameters already in the file keep their order; a new parameter with the same
  name replaces the old one in place; new names are appended.
* Kustomize: images are matched on registry and repository of the identifier (the part
  after ``alias=`` if there is one). A match is replaced when its tag or digest differs,
  or when it had none; otherwise the existing entry stays as written. No match: append.

Where Ferry deliberately differs, so that a write-back never loses data:

* An existing file that does not parse, holds more than one document, repeats a key or has
  a value of the wrong type makes Image Updater overwrite it with only the new
  parameters. Ferry raises :class:`~ferry.errors.ConfigError` naming the file.
* Keys Image Updater's structs do not know (another top-level key, ``forceString``
  spelled the JSON way, ...) would be silently dropped by its decoder. Ferry raises
  :class:`~ferry.errors.ConfigError` naming the key. Comments are not kept, as in Image
  Updater, because the file is regenerated.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from ferry import safeyaml
from ferry.errors import ConfigError, UnsafePathError
from ferry.writeback import goyaml
from ferry.writeback._identifier import parse_identifier
from ferry.writeback._paths import repo_relative

DEFAULT_HELM_IMAGE_NAME = "image.name"
DEFAULT_HELM_IMAGE_TAG = "image.tag"

_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_MAX_APP_NAME = 253
_NULL_TAG = "tag:yaml.org,2002:null"
_BOOL_TRUE = frozenset({"true", "True", "TRUE"})
_BOOL_FALSE = frozenset({"false", "False", "FALSE"})
# yaml.v3 still decodes YAML 1.1 booleans into a Go bool field, quoted or not.
_OLD_TRUE = frozenset({"y", "Y", "yes", "Yes", "YES", "on", "On", "ON"})
_OLD_FALSE = frozenset({"n", "N", "no", "No", "NO", "off", "Off", "OFF"})


@dataclass(frozen=True, slots=True)
class HelmParameter:
    """One entry of ``helm.parameters``; Image Updater always sets ``forcestring``."""

    name: str
    value: str
    forcestring: bool = True


def default_target_path(app_name: str, source_path: str) -> str:
    """Return ``<source_path>/.argocd-source-<app_name>.yaml``, repo-relative and normalised.

    Args:
        app_name: the Argo CD Application name; must be a DNS-1123 subdomain.
        source_path: ``spec.source.path`` of the Application.

    Raises:
        UnsafePathError: the name could reach another directory (``/``, ``..``), is not a
            DNS-1123 subdomain, or the source path leaves the repository.

    >>> default_target_path("app-helm-dev", "manifests/helm/echo-server")
    'manifests/helm/echo-server/.argocd-source-app-helm-dev.yaml'
    >>> default_target_path("app", ".")
    '.argocd-source-app.yaml'
    """
    if "/" in app_name or ".." in app_name or "\\" in app_name:
        raise UnsafePathError(
            f"application name {app_name!r} would place the write-back file outside its directory",
            application=app_name,
        )
    if len(app_name) > _MAX_APP_NAME or not _DNS1123_SUBDOMAIN.fullmatch(app_name):
        raise UnsafePathError(
            f"application name {app_name!r} is not a DNS-1123 subdomain", application=app_name
        )
    return repo_relative(
        source_path, f".argocd-source-{app_name}.yaml", what="source path", application=app_name
    )


def helm_image_parameters(
    *,
    image_name: str,
    tag: str | None,
    digest: str | None = None,
    name_param: str | None = None,
    tag_param: str | None = None,
    spec_param: str | None = None,
) -> list[HelmParameter]:
    """The parameters Image Updater's ``SetHelmImage`` sets for one updated image.

    Args:
        image_name: full name without tag, e.g. ``127.0.0.1:5000/cidemo/echo-server``.
        tag: the new tag, if any.
        digest: the new digest (``sha256:...``), for the digest strategy.
        name_param: ``<alias>.helm.image-name`` (default ``image.name``).
        tag_param: ``<alias>.helm.image-tag`` (default ``image.tag``).
        spec_param: ``<alias>.helm.image-spec``; when set, name and tag are not written.

    >>> params = helm_image_parameters(image_name="r/x", tag="v1", name_param="a.repo", tag_param="a.tag")
    >>> [(p.name, p.value) for p in params]
    [('a.repo', 'r/x'), ('a.tag', 'v1')]
    >>> [p.value for p in helm_image_parameters(image_name="r/x", tag=None, digest="sha256:ab")]
    ['r/x', 'latest@sha256:ab']
    >>> helm_image_parameters(image_name="r/x", tag="v1", digest="sha256:ab", spec_param="img")
    [HelmParameter(name='img', value='r/x:v1@sha256:ab', forcestring=True)]
    """
    if spec_param:
        full = image_name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
        return [HelmParameter(spec_param, full)]
    params = [HelmParameter(name_param or DEFAULT_HELM_IMAGE_NAME, image_name)]
    # GetTagWithDigest: a digest without a tag is written as "latest@<digest>"; no tag at all
    # (force-update with no tag) writes no tag parameter rather than an empty one.
    tag_value = (tag or "") + (f"{'' if tag else 'latest'}@{digest}" if digest else "")
    if tag_value:
        params.append(HelmParameter(tag_param or DEFAULT_HELM_IMAGE_TAG, tag_value))
    return params


def merge_helm_parameters(
    existing: Sequence[HelmParameter], updates: Sequence[HelmParameter]
) -> list[HelmParameter]:
    """Replace parameters by name in place, append new names (``mergeHelmOverride``).

    >>> merged = merge_helm_parameters([HelmParameter("a", "1"), HelmParameter("b", "2")],
    ...                                [HelmParameter("b", "3"), HelmParameter("c", "4")])
    >>> [(p.name, p.value) for p in merged]
    [('a', '1'), ('b', '3'), ('c', '4')]
    """
    merged = list(existing)
    for param in updates:
        index = next((i for i, old in enumerate(merged) if old.name == param.name), None)
        if index is None:
            merged.append(param)
        else:
            merged[index] = param
    return merged


def merge_kustomize_images(existing: Sequence[str], updates: Sequence[str]) -> list[str]:
    """Merge image overrides by registry and repository (``mergeKustomizeOverride``).

    >>> merge_kustomize_images(["a=r.io/x:1", "r.io/y:1"], ["b=r.io/x:2", "r.io/z:1"])
    ['b=r.io/x:2', 'r.io/y:1', 'r.io/z:1']
    >>> merge_kustomize_images(["a=r.io/x:1"], ["b=r.io/x:1"])
    ['a=r.io/x:1']
    """
    merged = list(existing)
    for new in updates:
        new_id = parse_identifier(new)
        for index, old in enumerate(merged):
            old_id = parse_identifier(old)
            if (new_id.name, new_id.registry) == (old_id.name, old_id.registry):
                if not old_id.has_version or (new_id.has_version and not old_id.same_version(new_id)):
                    merged[index] = new
                break
        else:
            merged.append(new)
    return merged


def render_helm_override(existing: bytes | None, params: Sequence[HelmParameter], *, source: str) -> bytes:
    """The new content of a Helm ``.argocd-source`` file.

    Args:
        existing: the file's current bytes, or ``None`` when it does not exist.
        params: the parameters Image Updater would hold for the Application: its
            ``spec.source.helm.parameters`` merged with the image parameters.
        source: the file's repo-relative path, used in error messages.

    Returns:
        The bytes to write; equal to ``existing`` when nothing changes.

    Raises:
        ConfigError: ``existing`` does not parse, or holds something the merge would drop.
    """
    if existing:
        current = read_helm_parameters(existing, source=source)
        params = merge_helm_parameters(current, params)
    entries: list[goyaml.YamlValue] = [_param_fields(p) for p in params]
    return goyaml.dump({"helm": {"parameters": entries}}).encode()


def _param_fields(param: HelmParameter) -> dict[str, goyaml.YamlValue]:
    # Field order and names are yaml.v3's view of argo-cd's HelmParameter struct.
    return {"name": param.name, "value": param.value, "forcestring": param.forcestring}


def render_kustomize_override(existing: bytes | None, images: Sequence[str], *, source: str) -> bytes:
    """The new content of a Kustomize ``.argocd-source`` file.

    Args:
        existing: the file's current bytes, or ``None`` when it does not exist.
        images: the Application's ``spec.source.kustomize.images`` with the new images set.
        source: the file's repo-relative path, used in error messages.

    Raises:
        ConfigError: ``existing`` does not parse, or holds something the merge would drop.
    """
    if existing:
        images = merge_kustomize_images(read_kustomize_images(existing, source=source), images)
    return goyaml.dump({"kustomize": {"images": list(images)}}).encode()


def read_helm_parameters(existing: bytes | None, *, source: str) -> list[HelmParameter]:
    """The Helm parameters an ``.argocd-source`` file holds (its current images among them).

    Raises:
        ConfigError: the file does not parse, or holds keys or types Image Updater would drop.
    """
    root = _load(existing, source)
    if root is None:
        return []
    helm = _fields(root, {"helm"}, source, "top level").get("helm")
    if helm is None or _is_null(helm):
        return []
    parameters = _fields(helm, {"parameters"}, source, "helm").get("parameters")
    result: list[HelmParameter] = []
    for index, entry in enumerate(_items(parameters, source, "helm.parameters")):
        where = f"helm.parameters[{index}]"
        fields = {} if _is_null(entry) else _fields(entry, {"name", "value", "forcestring"}, source, where)
        result.append(
            HelmParameter(
                name=_string(fields.get("name"), source, f"{where}.name"),
                value=_string(fields.get("value"), source, f"{where}.value"),
                forcestring=_boolean(fields.get("forcestring"), source, f"{where}.forcestring"),
            )
        )
    return result


def read_kustomize_images(existing: bytes | None, *, source: str) -> list[str]:
    """The Kustomize image overrides an ``.argocd-source`` file holds.

    Raises:
        ConfigError: the file does not parse, or holds keys or types Image Updater would drop.
    """
    root = _load(existing, source)
    if root is None:
        return []
    kustomize = _fields(root, {"kustomize"}, source, "top level").get("kustomize")
    if kustomize is None or _is_null(kustomize):
        return []
    images = _fields(kustomize, {"images"}, source, "kustomize").get("images")
    return [
        _string(item, source, f"kustomize.images[{i}]")
        for i, item in enumerate(_items(images, source, "kustomize.images"))
    ]


# --- reading the existing file the way yaml.v3 decodes it into Image Updater's structs --------


def _load(existing: bytes | None, source: str) -> yaml.MappingNode | None:
    if not existing:
        return None
    try:
        root = safeyaml.compose(existing, source=source, limits=safeyaml.OVERRIDE)
    except yaml.YAMLError as exc:
        raise ConfigError(f"existing write-back file does not parse: {exc}", source=source) from exc
    if root is None or _is_null(root):
        return None
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError("existing write-back file is not a mapping", source=source)
    return root


def _is_null(node: Any) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG and node.style is None


def _fields(node: Any, allowed: set[str], source: str, where: str) -> dict[str, Any]:
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(f"{where} must be a mapping", source=source)
    fields: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if key is None or key not in allowed:
            shown = key if key is not None else "<complex key>"
            raise ConfigError(
                f"unknown key {shown!r} at {where} would be dropped by the write-back "
                f"(known: {', '.join(sorted(allowed))})",
                source=source,
                key=shown,
            )
        if key in fields:
            raise ConfigError(f"key {key!r} repeated at {where}", source=source, key=key)
        fields[key] = value_node
    return fields


def _items(node: Any, source: str, where: str) -> list[Any]:
    if node is None or _is_null(node):
        return []
    if not isinstance(node, yaml.SequenceNode):
        raise ConfigError(f"{where} must be a list", source=source, key=where)
    return list(node.value)


def _string(node: Any, source: str, where: str) -> str:
    if node is None or _is_null(node):
        return ""
    if not isinstance(node, yaml.ScalarNode):
        raise ConfigError(f"{where} must be a string", source=source, key=where)
    # yaml.v3 decodes any scalar into a Go string as written: `1.10` stays "1.10".
    return str(node.value)


def _boolean(node: Any, source: str, where: str) -> bool:
    if node is None or _is_null(node):
        return False
    if isinstance(node, yaml.ScalarNode):
        text = node.value
        if node.style is None and text in _BOOL_TRUE | _BOOL_FALSE:
            return text in _BOOL_TRUE
        if text in _OLD_TRUE | _OLD_FALSE:
            return text in _OLD_TRUE
    raise ConfigError(f"{where} must be true or false", source=source, key=where)
