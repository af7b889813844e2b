"""A port taken between choosing it and binding it costs a retry, not a failed start."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from ferry.sandbox import cluster as sandbox
from ferry.sandbox.processes import free_ports, is_running


def test_apiserver_port_taken_meanwhile_starts_again_with_new_ports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    calls: list[list[int]] = []

    def ports_with_a_clash(count: int) -> list[int]:
        ports = free_ports(count)
        if not calls:
            ports[2] = taken  # ClusterPorts field order: etcd client, etcd peer, apiserver, ...
        calls.append(ports)
        return ports

    monkeypatch.setattr(sandbox, "free_ports", ports_with_a_clash)
    caplog.set_level(logging.WARNING, logger="ferry.sandbox")
    try:
        started = sandbox.up(["clash"], state_root=tmp_path / "state", timeout=120)
        (cluster,) = started.clusters
        assert len(calls) == 2, "the first start must fail on the taken port and the second succeed"
        assert cluster.ports.apiserver != taken
        assert all(cluster.running().values())
        assert "a port was taken meanwhile" in caplog.text
    finally:
        stopped = sandbox.down(state_root=tmp_path / "state")
        squatter.close()
    assert stopped == ["clash"]
    assert not any(is_running(p) for p in cluster.processes)
