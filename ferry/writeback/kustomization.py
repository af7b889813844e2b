"""The ``kustomization[:path]`` write-back target: edit ``images:`` in a kustomization file.

Image Updater turns each override ``[name=]image[:tag][@digest]`` into a kustomize
``Image`` (``parseImageOverride``) and sets it in the ``images`` list with kyaml's
``ElementSetter`` keyed on ``name`` — the same effect as ``kustomize edit set image``:
an entry with that name gets the new ``newName``/``newTag``/``digest`` (fields the
override does not carry are removed), a new name is appended, and ``images:`` is created
when missing.

Ferry edits the file with ruamel.yaml's round trip, so comments, order and the other
fields survive; an entry's keys that kustomize's ``Image`` does not know are kept, where
the element replacement would drop them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from ferry import safeyaml
from ferry.errors import ConfigError
from ferry.writeback import _roundtrip
from ferry.writeback._identifier import parse_identifier

_FIELDS = ("newName", "newTag", "digest")


@dataclass(frozen=True, slots=True)
class KustomizeImage:
    """One entry of a kustomization's ``images:`` list."""

    name: str
    new_name: str | None = None
    new_tag: str | None = None
    digest: str | None = None

    def fields(self) -> dict[str, str | None]:
        """The optional fields under their kustomization key names."""
        return {"newName": self.new_name, "newTag": self.new_tag, "digest": self.digest}


def kustomize_image_from_override(override: str) -> KustomizeImage:
    """Image Updater's ``parseImageOverride``: a ``kustomize.images`` string as an ``Image``.

    Without ``name=``, the image keeps its name and only the tag or digest changes.

    >>> image = kustomize_image_from_override("nginx=127.0.0.1:5000/cidemo/echo-server:v3-5a7147")
    >>> image.name, image.new_name, image.new_tag
    ('nginx', '127.0.0.1:5000/cidemo/echo-server', 'v3-5a7147')
    >>> kustomize_image_from_override("r.io/x:v1@sha256:" + "a" * 64).digest[:9]
    'sha256:aa'
    """
    parsed = parse_identifier(override)
    name = f"{parsed.registry}/{parsed.name}" if parsed.registry else parsed.name
    tag = parsed.tag or None
    if not parsed.alias:
        return KustomizeImage(name=name, new_tag=tag, digest=parsed.digest or None)
    return KustomizeImage(name=parsed.alias, new_name=name, new_tag=tag, digest=parsed.digest or None)


def set_kustomize_images(existing: bytes, images: Sequence[KustomizeImage], *, source: str) -> bytes:
    """Set ``images`` in a kustomization file, matched by ``name``.

    Args:
        existing: the kustomization file's bytes.
        images: the images to set.
        source: the file's repo-relative path, for error messages.

    Returns:
        The new bytes; exactly ``existing`` when every image was already set.

    Raises:
        ConfigError: the file does not parse, is not a mapping, or ``images`` is not a list
            of mappings with a ``name``.
    """
    data, handler = _roundtrip.load(existing, source=source)
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        raise ConfigError("kustomization root must be a mapping", source=source)
    entries = data.get("images")
    changed = False
    if entries is None:
        entries = CommentedSeq()
        data["images"] = entries
        changed = True
    if not isinstance(entries, CommentedSeq):
        raise ConfigError("'images' must be a list", source=source, key="images")
    for image in images:
        changed = _set_one(entries, image, source) or changed
    if not changed:
        return existing
    return _roundtrip.dump(data, handler)


def read_kustomize_images(
    existing: bytes | None, *, source: str = "kustomization.yaml"
) -> list[KustomizeImage]:
    """The ``images:`` entries of a kustomization file, values exactly as written.

    Raises:
        ConfigError: the file does not parse or ``images`` has the wrong shape.

    >>> read_kustomize_images(b"images:\\n- name: nginx\\n  newTag: 1.10\\n")
    [KustomizeImage(name='nginx', new_name=None, new_tag='1.10', digest=None)]
    """
    if not existing:
        return []
    try:
        root = safeyaml.compose(existing, source=source)
    except yaml.YAMLError as exc:
        raise ConfigError(f"does not parse as YAML: {exc}", source=source) from exc
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError("kustomization root must be a mapping", source=source)
    images = next((v for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value == "images"), None)
    if images is None or (isinstance(images, yaml.ScalarNode) and images.tag.endswith(":null")):
        return []
    if not isinstance(images, yaml.SequenceNode):
        raise ConfigError("'images' must be a list", source=source, key="images")
    result = []
    for index, entry in enumerate(images.value):
        fields = _entry_fields(entry, source, index)
        result.append(
            KustomizeImage(
                name=fields["name"],
                new_name=fields.get("newName"),
                new_tag=fields.get("newTag"),
                digest=fields.get("digest"),
            )
        )
    return result


def _entry_fields(entry: Any, source: str, index: int) -> dict[str, str]:
    if not isinstance(entry, yaml.MappingNode):
        raise ConfigError(f"images[{index}] must be a mapping", source=source, key="images")
    fields = {
        k.value: v.value
        for k, v in entry.value
        if isinstance(k, yaml.ScalarNode) and isinstance(v, yaml.ScalarNode)
    }
    if "name" not in fields:
        raise ConfigError(f"images[{index}] has no name", source=source, key="images")
    return fields


def _set_one(entries: CommentedSeq, image: KustomizeImage, source: str) -> bool:
    for index, entry in enumerate(entries):
        if not isinstance(entry, CommentedMap) or "name" not in entry:
            raise ConfigError(f"images[{index}] must be a mapping with a name", source=source, key="images")
        if _roundtrip.scalar_text(entry["name"]) == image.name:
            return _update(entry, image)
    entry = CommentedMap()
    entry["name"] = _roundtrip.styled(image.name, None)
    for key, value in image.fields().items():
        if value is not None:
            entry[key] = _roundtrip.styled(value, None)
    entries.append(entry)
    return True


def _update(entry: CommentedMap, image: KustomizeImage) -> bool:
    changed = False
    for key, value in image.fields().items():
        if value is None:
            if key in entry:
                del entry[key]
                changed = True
            continue
        previous = entry.get(key)
        if key in entry and isinstance(previous, str) and previous == value:
            continue
        if key in entry:
            entry[key] = _roundtrip.styled(value, previous)
        else:
            entry.insert(_insert_position(entry, key), key, _roundtrip.styled(value, None))
        changed = True
    return changed


def _insert_position(entry: CommentedMap, key: str) -> int:
    # Keep kustomize's field order: name, newName, newTag, digest.
    order = ("name", *_FIELDS)
    earlier = order[: order.index(key)]
    keys = list(entry)
    positions = [keys.index(k) + 1 for k in earlier if k in entry]
    return max(positions) if positions else len(keys)
