"""A server whose free port was taken before it bound starts again on another (real registry)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import ferry.devenv.ports as ports
from ferry.devenv.ports import PortTaken
from ferry.devenv.registry import start_registry

pytestmark = pytest.mark.registry


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port something else is listening on."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        yield int(squatter.getsockname()[1])


def test_registry_starts_again_on_another_port_when_its_port_was_taken(
    tmp_path: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    offered: list[int] = []
    real_free_port = ports.free_port

    def first_the_taken_one() -> int:
        offered.append(taken_port if not offered else real_free_port())
        return offered[-1]

    monkeypatch.setattr(ports, "free_port", first_the_taken_one)
    registry = start_registry(tmp_path / "registry")
    try:
        assert offered[0] == taken_port and len(offered) == 2
        assert registry.url == f"http://127.0.0.1:{offered[1]}"
        assert httpx.get(f"{registry.url}/v2/", timeout=5).status_code == 200
    finally:
        registry.stop()


def test_a_port_taken_every_time_gives_up_naming_it(
    tmp_path: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ports, "free_port", lambda: taken_port)
    with pytest.raises(PortTaken, match=f"127.0.0.1:{taken_port} was taken"):
        start_registry(tmp_path / "registry")
