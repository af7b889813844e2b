"""The ``ferry.image.pushed`` and ``ferry.source.pushed`` events, and how the core emits them.

The build stage and the push-notification receiver announce a pushed tag with
one :class:`ImagePushed` value; the receiver's forge webhooks and the source
repo's ``post-receive`` hook announce a pushed ref with a :class:`SourcePushed`.
They hand them to an :data:`EventEmitter`, a plain callable. The Prefect layer
provides the real one (``blocks.ports.emit_ferry_event``) and registers it under the
``ferry.event_emitters`` entry point group, so the ``ferry`` CLI can find it
without ``ferry`` ever importing Prefect.

Each value has a stable event id derived from what happened, not from who saw
it: a tag that Ferry's own build announces and the registry then reports again
is one event, and Prefect's trigger service acts on an event id only once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, ClassVar

from ferry.errors import ConfigError

__all__ = [
    "IMAGE_PUSHED_EVENT",
    "SOURCE_PUSHED_EVENT",
    "EventEmitter",
    "FerryEvent",
    "ImagePushed",
    "SourcePushed",
    "load_emitter",
    "log_emitter",
]

IMAGE_PUSHED_EVENT = "ferry.image.pushed"
SOURCE_PUSHED_EVENT = "ferry.source.pushed"
_ID_NAMESPACE = uuid.UUID("5d6b8e1e-6a3f-4f0e-9c57-0c1f3c0a9f11")
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

    event: ClassVar[str] = IMAGE_PUSHED_EVENT

    image: str
    tag: str
    digest: str | None = None
    revision: str | None = None
    ref: str | None = None
    source_repo: str | None = None
    origin: str = "ferry-build"

    def event_id(self) -> uuid.UUID:
        """The same id for the same tag and digest, whoever reports it."""
        return uuid.uuid5(_ID_NAMESPACE, f"{self.event}|{self.image}|{self.tag}|{self.digest or ''}")

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


@dataclass(frozen=True, slots=True)
class SourcePushed:
    """One ref pushed to a source repository.

    Attributes:
        repo: the repository URL, as ``builds:`` rules name it (never carries a password).
        ref: the full ref, ``refs/tags/release-v3``.
        before: the SHA the ref pointed at before (all zeros for a new ref).
        after: the SHA it points at now (all zeros for a deleted ref).
        pusher: who pushed, when the forge says so.
        origin: ``post-receive``, ``github``, ``gitlab`` or ``gitea``.
    """

    event: ClassVar[str] = SOURCE_PUSHED_EVENT

    repo: str
    ref: str
    before: str
    after: str
    pusher: str | None = None
    origin: str = "post-receive"

    @property
    def reference(self) -> str:
        return f"{self.repo} {self.ref}"

    @property
    def deleted(self) -> bool:
        return set(self.after) <= {"0"}

    def resource(self) -> dict[str, str]:
        """The Prefect event resource: the source repository.

        >>> pushed = SourcePushed("file:///srv/echo-server.git", "refs/tags/release-v3", "0" * 40, "5a" * 20)
        >>> pushed.resource()["prefect.resource.id"], pushed.resource()["prefect.resource.name"]
        ('ferry.source.file:///srv/echo-server.git', 'echo-server')
        """
        name = self.repo.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
        return {"prefect.resource.id": f"ferry.source.{self.repo}", "prefect.resource.name": name}

    def payload(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "ref": self.ref,
            "before": self.before,
            "after": self.after,
            "pusher": self.pusher,
            "origin": self.origin,
        }

    def event_id(self) -> uuid.UUID:
        """The same id for the same ref update, whether the hook or a forge reports it."""
        return uuid.uuid5(_ID_NAMESPACE, f"{self.event}|{self.repo}|{self.ref}|{self.before}|{self.after}")


FerryEvent = ImagePushed | SourcePushed

EventEmitter = Callable[[FerryEvent], None]
"""Emits one Ferry event; raises when the event could not be handed over."""


def log_emitter(item: FerryEvent) -> None:
    """An emitter that only logs: the fallback when no Prefect emitter is installed."""
    logger.info("%s %s", item.event, item.reference)


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
