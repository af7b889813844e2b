"""Image references (``[registry/]repository[:tag][@digest]``) as Docker and Image Updater read them.

The grammar is the one of github.com/distribution/reference, which Image Updater
uses through ``ParseNormalizedNamed``. Like Image Updater, Ferry keeps the
reference as the user wrote it (``nginx`` stays ``nginx``, not
``docker.io/library/nginx``) because that is what it writes back to Git, while
:meth:`ImageReference.same_image` compares the canonical forms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ferry.errors import ConfigError

DOCKER_HUB = "docker.io"
# Names Docker treats as Docker Hub; all normalise to DOCKER_HUB.
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io"})
_NAME_MAX_LENGTH = 255

_PATH_COMPONENT_RE = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*", re.ASCII)
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_RE = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?", re.ASCII
)
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", re.ASCII)
_DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_BARE_HEX_ID_RE = re.compile(r"[a-f0-9]{64}", re.ASCII)


def _fail(text: str, reason: str) -> ConfigError:
    return ConfigError(f"invalid image reference '{text}': {reason}")


def validate_tag(tag: str, *, source: str | None = None) -> None:
    """Raise :class:`ConfigError` unless ``tag`` is a valid tag (``[\\w][\\w.-]{0,127}``)."""
    if not _TAG_RE.fullmatch(tag):
        raise _fail(source or tag, f"invalid tag '{tag}'")


def validate_digest(digest: str, *, source: str | None = None) -> None:
    """Raise :class:`ConfigError` unless ``digest`` is ``sha256:<64 hex>`` (or sha384/sha512)."""
    algorithm, _, hex_part = digest.partition(":")
    length = _DIGEST_HEX_LENGTHS.get(algorithm)
    if length is None or len(hex_part) != length or not re.fullmatch(r"[a-f0-9]+", hex_part):
        raise _fail(source or digest, f"invalid digest '{digest}' (expected sha256:<64 lowercase hex>)")


def _split_domain(name: str) -> tuple[str | None, str]:
    """Split ``name`` into registry and repository by Docker's rule for the first component."""
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return None, name


@dataclass(frozen=True, slots=True)
class ImageReference:
    """A parsed image reference, kept as written.

    ``registry`` is ``host[:port]``, or None for Docker Hub when the user did not
    name it. ``repository`` is the path as written (``nginx``, not
    ``library/nginx``).

    >>> ref = ImageReference.parse("localhost:5000/cidemo/echo-server:v3-5a7147")
    >>> ref.registry, ref.repository, ref.tag, ref.name
    ('localhost:5000', 'cidemo/echo-server', 'v3-5a7147', 'localhost:5000/cidemo/echo-server')
    >>> str(ref.with_tag("v4"))
    'localhost:5000/cidemo/echo-server:v4'
    >>> ImageReference.parse("nginx").same_image(ImageReference.parse("docker.io/library/nginx:1.25"))
    True
    >>> ImageReference.parse("Nginx")
    Traceback (most recent call last):
    ...
    ferry.errors.ConfigError: invalid image reference 'Nginx': repository must be lowercase
    """

    registry: str | None
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageReference:
        """Parse ``text`` with the Docker reference grammar; raise :class:`ConfigError` naming it."""
        if not text or text != text.strip():
            raise _fail(text, "empty or surrounded by whitespace")
        remainder, at, digest = text.partition("@")
        if at:
            if "@" in digest:
                raise _fail(text, "more than one '@'")
            validate_digest(digest, source=text)
        tag: str | None = None
        colon = remainder.rfind(":")
        if colon > remainder.rfind("/"):
            remainder, tag = remainder[:colon], remainder[colon + 1 :]
            validate_tag(tag, source=text)
        if not remainder:
            raise _fail(text, "no repository name")
        if len(remainder) > _NAME_MAX_LENGTH:
            raise _fail(text, f"name longer than {_NAME_MAX_LENGTH} characters")
        if _BARE_HEX_ID_RE.fullmatch(remainder):
            raise _fail(text, "a 64-character hex string is an image ID, not a repository name")
        registry, repository = _split_domain(remainder)
        if registry is not None and not _DOMAIN_RE.fullmatch(registry):
            raise _fail(text, f"invalid registry '{registry}'")
        if repository != repository.lower():
            raise _fail(text, "repository must be lowercase")
        for component in repository.split("/"):
            if not _PATH_COMPONENT_RE.fullmatch(component):
                raise _fail(
                    text,
                    f"invalid path component '{component}' (lowercase letters and digits, "
                    "separated by '.', '_', '__' or '-')",
                )
        return cls(registry, repository, tag, digest or None)

    @property
    def name(self) -> str:
        """Registry and repository as written, no tag or digest (Image Updater's GetFullNameWithoutTag)."""
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    @property
    def canonical_registry(self) -> str:
        """The registry host with Docker Hub's aliases (and absence) normalised to ``docker.io``."""
        if self.registry is None or self.registry in _DOCKER_HUB_ALIASES:
            return DOCKER_HUB
        return self.registry

    @property
    def canonical_repository(self) -> str:
        """The repository with Docker Hub's implicit ``library/`` for official images made explicit."""
        if self.canonical_registry == DOCKER_HUB and "/" not in self.repository:
            return f"library/{self.repository}"
        return self.repository

    @property
    def canonical_name(self) -> str:
        """``canonical_registry/canonical_repository``: the fully qualified name Docker would use."""
        return f"{self.canonical_registry}/{self.canonical_repository}"

    def with_tag(self, tag: str, digest: str | None = None) -> ImageReference:
        """A copy pointing at ``tag`` (and ``digest``, if given); any old digest is dropped.

        >>> str(ImageReference.parse("ghcr.io/a/b:1@sha256:" + "0" * 64).with_tag("2"))
        'ghcr.io/a/b:2'
        """
        validate_tag(tag, source=f"{self.name}:{tag}")
        if digest is not None:
            validate_digest(digest, source=f"{self.name}:{tag}@{digest}")
        return replace(self, tag=tag, digest=digest)

    def same_image(self, other: ImageReference) -> bool:
        """True when both name the same repository on the same registry, tags and digests aside."""
        return self.canonical_name == other.canonical_name

    def __str__(self) -> str:
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text
