"""The Prefect side of ``ferry.image.pushed``: the emitter the core is handed.

Registered as the ``ferry.event_emitters`` entry point ``prefect``, so that
``ferry receive`` and ``ferry build`` (which live in ``ferry/`` and never import
Prefect) can emit real Prefect events. The ``image-updater`` deployment's
trigger in ``prefect.yaml`` listens for this event.
"""

from __future__ import annotations

from prefect.events import emit_event
from prefect.settings import get_current_settings

from ferry.ci.events import IMAGE_PUSHED_EVENT, ImagePushed


def emit_image_pushed(pushed: ImagePushed) -> None:
    """Emit ``ferry.image.pushed`` for one pushed tag; the resource is the image repository.

    Raises:
        RuntimeError: Prefect is not set up to send events (no ``PREFECT_API_URL``), so the
            caller (the receiver) answers 503 and the registry delivers the notification again.
    """
    if not get_current_settings().api.url:
        # Without an API URL Prefect would start a throwaway local server just to drop the event.
        raise RuntimeError(
            f"cannot emit {IMAGE_PUSHED_EVENT} for {pushed.reference}: PREFECT_API_URL is not set"
        )
    event = emit_event(event=IMAGE_PUSHED_EVENT, resource=pushed.resource(), payload=pushed.payload())
    if event is None:
        raise RuntimeError(
            f"Prefect did not accept the {IMAGE_PUSHED_EVENT} event for {pushed.reference}: "
            "is PREFECT_API_URL set?"
        )
