"""OCI platforms (``os/arch[/variant]``) and the ``platforms`` annotation filter."""

from __future__ import annotations

import platform as _host
from dataclasses import dataclass

from ferry.errors import ConfigError

# Python's machine names, mapped to the GOARCH names registries use.
_HOST_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm"}


@dataclass(frozen=True, slots=True)
class Platform:
    """A target platform as an OCI index lists it.

    >>> Platform.parse("linux/arm64/v8")
    Platform(os='linux', architecture='arm64', variant='v8')
    >>> Platform.parse("linux/amd64").matches(Platform("linux", "amd64", "v2"))
    True
    >>> Platform.parse("linux/arm/v7").matches(Platform("linux", "arm", "v6"))
    False
    """

    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Parse ``os/arch[/variant]``; raise :class:`ConfigError` naming the text when malformed."""
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ConfigError(f"invalid platform '{text}': expected os/arch or os/arch/variant")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")

    def matches(self, other: Platform) -> bool:
        """True when ``other`` satisfies this wanted platform; one without a variant accepts any variant."""
        if (self.os, self.architecture) != (other.os, other.architecture):
            return False
        return not self.variant or self.variant == other.variant

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def host_platform() -> Platform:
    """The platform Ferry runs on; Image Updater's default when no ``platforms`` annotation is set."""
    machine = _host.machine().lower()
    return Platform("linux", _HOST_ARCH.get(machine, machine))


def parse_platforms(text: str | None) -> tuple[Platform, ...]:
    """Parse the comma-separated ``platforms`` annotation; empty means the host platform.

    >>> [str(p) for p in parse_platforms("linux/amd64, linux/arm64")]
    ['linux/amd64', 'linux/arm64']
    """
    if text is None or not text.strip():
        return (host_platform(),)
    return tuple(Platform.parse(item) for item in text.split(",") if item.strip())


def any_matches(wanted: tuple[Platform, ...], candidate: Platform) -> bool:
    """True when ``candidate`` satisfies at least one wanted platform."""
    return any(w.matches(candidate) for w in wanted)
