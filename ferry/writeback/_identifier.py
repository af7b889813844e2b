"""Image Updater's ``image.NewFromIdentifier``, the parts the write-back merge rules need.

Image Updater matches Kustomize image overrides by the registry and repository path of an
identifier ``[alias=]image[:tag][@digest]``, parsed with distribution's
``reference.ParseNormalizedNamed`` and, when that refuses the string, a legacy split on
``/``, ``:`` and ``@``. Equality of two tags gives the digest precedence
(``tag.ImageTag.Equals``). Both behaviours are reproduced here so that a merge keeps or
replaces exactly the entries Image Updater would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?"
)
_DIGEST_HEX_LENGTH = {"sha256": 64, "sha384": 96, "sha512": 128}
_ANCHORED_IDENTIFIER = re.compile(r"[a-f0-9]{64}")
_MAX_NAME_LENGTH = 255


@dataclass(frozen=True, slots=True)
class ImageIdentifier:
    """What ``NewFromIdentifier`` keeps of ``[alias=]image[:tag][@digest]``."""

    alias: str
    registry: str
    name: str
    tag: str | None
    digest: str | None

    @property
    def has_version(self) -> bool:
        """Image Updater sets ``ImageTag`` only when a tag or a digest was given."""
        return self.tag is not None or self.digest is not None

    def same_version(self, other: ImageIdentifier) -> bool:
        """``tag.ImageTag.Equals``: a digest on either side decides, otherwise the tag names."""
        if self.digest or other.digest:
            return (self.digest or "") == (other.digest or "")
        return (self.tag or "") == (other.tag or "")


def _valid_digest(digest: str) -> bool:
    algorithm, _, hex_part = digest.partition(":")
    expected = _DIGEST_HEX_LENGTH.get(algorithm)
    return expected is not None and len(hex_part) == expected and hex_part == hex_part.lower()


def _parse_normalized(reference: str) -> ImageIdentifier | None:
    if _ANCHORED_IDENTIFIER.fullmatch(reference):
        return None
    slash = reference.find("/")
    head = reference[:slash] if slash >= 0 else ""
    if slash < 0 or (not any(c in head for c in ".:") and head != "localhost" and head.lower() == head):
        domain, remainder = "docker.io", reference
    else:
        domain, remainder = head, reference[slash + 1 :]
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in remainder:
        remainder = "library/" + remainder
    remote_name = remainder.split(":", 1)[0]
    if remote_name.lower() != remote_name:
        return None
    match = _REFERENCE.fullmatch(f"{domain}/{remainder}")
    if match is None or len(match["name"]) > _MAX_NAME_LENGTH:
        return None
    digest = match["digest"]
    if digest is not None and not _valid_digest(digest):
        return None
    path = match["name"][len(domain) + 1 :]
    return ImageIdentifier(alias="", registry=domain, name=path, tag=match["tag"], digest=digest)


def _legacy(identifier: str) -> ImageIdentifier:
    pieces = identifier.split("=")
    image = pieces[1] if len(pieces) > 1 else identifier
    components = image.split("/")
    registry = components[0] if len(components) > 1 and "." in components[0] else ""
    alias, separator, rest = identifier.partition("=")
    if not separator:
        alias, rest = "", identifier
    components = rest.split("/")
    if len(components) > 1 and "." in components[0]:
        rest = "/".join(components[1:])
    if "@" in rest:
        before, _, digest = rest.partition("@")
        colon, slash = before.rfind(":"), before.rfind("/")
        if colon > slash:
            return ImageIdentifier(alias, registry, before[:colon], before[colon + 1 :], digest)
        return ImageIdentifier(alias, registry, before, "", digest)
    name, has_tag, tag = rest.partition(":")
    if not has_tag:
        return ImageIdentifier(alias, registry, rest, None, None)
    tag_parts = tag.split("@")
    if len(tag_parts) == 2:
        return ImageIdentifier(alias, registry, name, tag_parts[0], tag_parts[1])
    return ImageIdentifier(alias, registry, name, tag, None)


def parse_identifier(identifier: str) -> ImageIdentifier:
    """Parse like Image Updater's ``image.NewFromIdentifier``.

    >>> parse_identifier("127.0.0.1:5000/cidemo/echo-server:v3-5a7147")  # doctest: +NORMALIZE_WHITESPACE
    ImageIdentifier(alias='', registry='127.0.0.1:5000', name='cidemo/echo-server',
                    tag='v3-5a7147', digest=None)
    >>> parse_identifier("nginx=docker.io/library/nginx:1.25").name
    'nginx'
    >>> parse_identifier("nginx").registry
    ''
    """
    alias, separator, reference = identifier.partition("=")
    if not separator:
        alias, reference = "", identifier
    parsed = _parse_normalized(reference)
    if parsed is None:
        return _legacy(identifier)
    registry = parsed.registry
    if registry == "docker.io" and not reference.startswith("docker.io"):
        registry = ""
    name = parsed.name
    if not reference.startswith("library/"):
        name = name.removeprefix("library/")
    return ImageIdentifier(alias, registry, name, parsed.tag, parsed.digest)
