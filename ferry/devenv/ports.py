"""Free loopback ports for the servers Ferry starts, and starting again when one was taken.

A port found free is bound by the server a moment later, by another process.
Between the two, anything else on the machine may take it (tests run beside
other suites here). A server that then fails to bind loses nothing but time:
:func:`on_free_port` picks another port and starts it again.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TypeVar

from ferry.errors import PortTaken

# PortTaken lives with the other errors; it is part of this module's API, so it is exported here too.
__all__ = ["PORT_ATTEMPTS", "PortTaken", "free_port", "on_free_port", "port_taken"]

T = TypeVar("T")

#: How many ports to try before giving up.
PORT_ATTEMPTS = 3


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_taken(log_text: str) -> bool:
    """Whether a server's output says its address was in use (Go, OpenSSH, Python, uvicorn, Prefect)."""
    lowered = log_text.lower()
    return any(sign in lowered for sign in ("address already in use", "errno 98", "is already in use"))


def on_free_port(start: Callable[[int], T], attempts: int = PORT_ATTEMPTS) -> T:
    """Call ``start(port)`` with a free port; when it raises :class:`PortTaken`, again with another.

    Raises:
        PortTaken: Every attempt found its port taken.
    """
    for attempt in range(1, attempts + 1):
        try:
            return start(free_port())
        except PortTaken:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
