"""Send the ferry core's log records to the Prefect run they happen in."""

from __future__ import annotations

import logging

from prefect.context import FlowRunContext, TaskRunContext
from prefect.logging.handlers import APILogHandler


class RunLogHandler(APILogHandler):
    """Prefect's API log handler, for records logged inside a flow or task run only.

    The core also logs outside runs (the CLI, worker threads of the registry
    client, tests); Prefect's handler warns about each such record, though it
    could never send them. They still reach the console through the root logger.
    """

    def emit(self, record: logging.LogRecord) -> None:
        if FlowRunContext.get() is None and TaskRunContext.get() is None:
            return
        super().emit(record)


def forward_ferry_logs() -> None:
    """Attach the run log handler to the ``ferry`` logger once, so the core's logs show in the UI.

    The core logs through the standard library only (it never imports Prefect);
    this is the one place its records are routed to the flow run's log.
    """
    logger = logging.getLogger("ferry")
    if not any(isinstance(h, APILogHandler) for h in logger.handlers):
        logger.addHandler(RunLogHandler())
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
