"""The ``ferry.image.pushed`` event, and how the core emits it without importing Prefect.

Both the build stage and the push-notification receiver announce a pushed tag
with one :class:`ImagePushed` value. They hand it to an :data:`EventEmitter`, a
plain callable. The Prefect layer provides the real one (``flows.events``) and
registers it under the ``ferry.event_emitters`` entry point group, so the
``ferry`` CLI can find it without ``ferry`` ever importing Prefect.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from ferry.errors import ConfigError

__all__ = ["IMAGE_PUSHED_EVENT", "EventEmitter", "ImagePushed", "load_emitter", "log_emitter"]

IMAGE_PUSHED_EVENT = "ferry.image.pushed"
EMITTER_GROUP = "ferry.event_emitters"

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ImagePushed:
    """One tag pushed to a registry.

    Attributes:
        image: ``host/repository`` without tag, as image references name it.
        tag: the pushed tag.
        digest: the manifest digest, when known.
        revision: the source commit (set by Ferry's own builds).
        ref: the source ref that was built, e.g. ``refs/tags/release-v3``.
        source_repo: the source repository URL (never carries a password).
        origin: who reported the push: ``ferry-build``, ``distribution``, ``acr`` or ``harbor``.
    """

    image: str
    tag: str
    digest: str | None = None
    revision: str | None = None
    ref: str | None = None
    source_repo: str | None = None
    origin: str = "ferry-build"

    @property
    def reference(self) -> str:
        """``host/repository:tag``."""
        return f"{self.image}:{self.tag}"

    def resource(self) -> dict[str, str]:
        """The Prefect event resource: the image repository.

        >>> ImagePushed("127.0.0.1:5000/cidemo/echo-server", "v3-5a7147").resource()["prefect.resource.id"]
        'ferry.image.127.0.0.1:5000/cidemo/echo-server'
        """
        return {"prefect.resource.id": f"ferry.image.{self.image}", "prefect.resource.name": self.image}

    def payload(self) -> dict[str, Any]:
        """The event payload (what triggers template with ``{{ event.payload.x }}``)."""
        return {
            "image": self.image,
            "tag": self.tag,
            "digest": self.digest,
            "revision": self.revision,
            "ref": self.ref,
            "source_repo": self.source_repo,
            "origin": self.origin,
        }


EventEmitter = Callable[[ImagePushed], None]
"""Emits one ``ferry.image.pushed`` event; raises when the event could not be handed over."""


def log_emitter(pushed: ImagePushed) -> None:
    """An emitter that only logs: the fallback when no Prefect emitter is installed."""
    logger.info("%s %s (digest %s)", IMAGE_PUSHED_EVENT, pushed.reference, pushed.digest or "unknown")


def load_emitter(name: str | None = None) -> EventEmitter:
    """The emitter registered under ``ferry.event_emitters`` (``name``, or the first one found).

    Raises:
        ConfigError: ``name`` is given and no emitter has that name.
    """
    found = {ep.name: ep for ep in entry_points(group=EMITTER_GROUP)}
    if name is not None:
        if name not in found:
            known = ", ".join(sorted(found)) or "none installed"
            raise ConfigError(f"no event emitter named {name!r} (known: {known})")
        emitter: EventEmitter = found[name].load()
        return emitter
    for entry in found.values():
        emitter = entry.load()
        return emitter
    logger.warning("no %s entry point is installed; events are only logged", EMITTER_GROUP)
    return log_emitter
