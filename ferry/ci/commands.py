"""The builder's command templates, parsed and filled in: an import-free leaf.

It holds the vocabulary of a ``builder:`` entry (see :mod:`ferry.ci.builder` for
what each placeholder means): the buildah defaults, the known placeholders, and
the parsing that rejects a bad template. The ``builds:`` schema checks templates
when ``ferry.yaml`` is loaded, so this module imports nothing of Ferry: loading
the config must not pull in the code that runs builds.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["BUILDAH", "DEFAULT_BUILD", "DEFAULT_PUSH", "BuilderCommands", "expand"]

_STORAGE = "--root {storage}/root --runroot {storage}/run --storage-driver vfs"
DEFAULT_BUILD = (
    f"buildah {_STORAGE} bud --isolation chroot --format oci --file {{dockerfile}} "
    "{build_args} {labels} {annotations} --tag {image} {context}"
)
DEFAULT_PUSH = (
    f"buildah {_STORAGE} push --authfile {{authfile}} --tls-verify={{tls_verify}} "
    "--digestfile {digestfile} {image}"
)
LIST_PLACEHOLDERS = {"{build_args}": "--build-arg", "{labels}": "--label", "{annotations}": "--annotation"}
SCALAR_PLACEHOLDERS = frozenset(
    {"context", "dockerfile", "image", "storage", "authfile", "docker_config", "tls_verify", "digestfile"}
)
_FIELD = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True, slots=True)
class BuilderCommands:
    """The two command templates, already split into arguments.

    >>> BuilderCommands.parse("docker build {context}", "docker push {image}").push
    ('docker', 'push', '{image}')
    """

    build: tuple[str, ...]
    push: tuple[str, ...]

    @classmethod
    def parse(cls, build: str, push: str) -> BuilderCommands:
        """Split and check both templates.

        Raises:
            ValueError: an unknown placeholder, a list placeholder inside a larger
                argument, or an empty command.
        """
        return cls(_parse_command(build, "build"), _parse_command(push, "push"))


def _parse_command(text: str, which: str) -> tuple[str, ...]:
    try:
        tokens = tuple(shlex.split(text))
    except ValueError as exc:
        raise ValueError(f"{which} command: {exc}") from None
    if not tokens:
        raise ValueError(f"{which} command is empty")
    for token in tokens:
        if token in LIST_PLACEHOLDERS:
            continue
        for name in _FIELD.findall(token):
            if f"{{{name}}}" in LIST_PLACEHOLDERS:
                raise ValueError(f"{which} command: {{{name}}} must be an argument of its own")
            if name not in SCALAR_PLACEHOLDERS:
                known = ", ".join(sorted({*SCALAR_PLACEHOLDERS, *(p.strip("{}") for p in LIST_PLACEHOLDERS)}))
                raise ValueError(f"{which} command: unknown placeholder {{{name}}} (known: {known})")
    return tokens


BUILDAH = BuilderCommands.parse(DEFAULT_BUILD, DEFAULT_PUSH)


def expand(
    command: Sequence[str], scalars: Mapping[str, str], lists: Mapping[str, Sequence[str]]
) -> list[str]:
    """Fill a parsed command template in.

    >>> expand(["b", "{build_args}", "-t", "{image}"], {"image": "h/r:t"}, {"{build_args}": ["A=1", "B=2"]})
    ['b', '--build-arg', 'A=1', '--build-arg', 'B=2', '-t', 'h/r:t']

    Raises:
        ValueError: a list item starts with ``-``, which a builder could read as a flag of its own.
    """
    argv: list[str] = []
    for token in command:
        if token in LIST_PLACEHOLDERS:
            for item in lists.get(token, ()):
                # Items are ``key=value``; a key never starts with "-", so one that does is refused
                # rather than handed to the builder where it might parse as another flag.
                if item.startswith("-"):
                    raise ValueError(f"{token} item {item!r} starts with '-'")
                argv.extend([LIST_PLACEHOLDERS[token], item])
            continue
        argv.append(_FIELD.sub(lambda m: scalars[m.group(1)], token))
    return argv
