"""The Prefect side of Ferry's events: the emitter the core is handed.

Registered as the ``ferry.event_emitters`` entry point ``prefect``, so that
``ferry receive``, ``ferry build`` and the source repo's ``post-receive`` hook
(which live in ``ferry/`` and never import Prefect) emit real Prefect events.
The ``image-updater`` and ``ci-build`` deployments' triggers in ``prefect.yaml``
listen for them.
"""

from __future__ import annotations

from prefect.events import emit_event
from prefect.settings import get_current_settings

from ferry.ci.events import FerryEvent


def emit_ferry_event(item: FerryEvent) -> None:
    """Emit ``ferry.image.pushed`` or ``ferry.source.pushed`` under its stable id.

    Raises:
        RuntimeError: Prefect is not set up to send events (no ``PREFECT_API_URL``), so the
            caller (the receiver) answers 503 and the sender delivers the notification again.
    """
    if not get_current_settings().api.url:
        # Without an API URL Prefect would start a throwaway local server just to drop the event.
        raise RuntimeError(f"cannot emit {item.event} for {item.reference}: PREFECT_API_URL is not set")
    event = emit_event(event=item.event, resource=item.resource(), payload=item.payload(), id=item.event_id())
    if event is None:
        raise RuntimeError(f"Prefect did not accept the {item.event} event for {item.reference}")


#: The name the build stage uses (one emitter serves every Ferry event).
emit_image_pushed = emit_ferry_event
