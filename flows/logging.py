"""Send the ferry core's log records to the Prefect run they happen in."""

from __future__ import annotations

import logging

from prefect.logging.handlers import APILogHandler


def forward_ferry_logs() -> None:
    """Attach Prefect's API handler to the ``ferry`` logger once, so the core's logs show in the UI.

    The core logs through the standard library only (it never imports Prefect);
    this is the one place its records are routed to the flow run's log.
    """
    logger = logging.getLogger("ferry")
    if not any(isinstance(h, APILogHandler) for h in logger.handlers):
        logger.addHandler(APILogHandler())
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
