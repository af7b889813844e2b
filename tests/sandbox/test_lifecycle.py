"""A cluster started by one process is listed and stopped cleanly by another.

Runs the real CLI (``python -m ferry.sandbox.cli``) on its own small cluster,
apart from the session clusters, and checks that ``down`` leaves no process,
no taken port and no data behind.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ferry.sandbox import cluster as sandbox_cluster
from ferry.sandbox.build import require_binaries
from ferry.sandbox.processes import is_running, port_is_free
from ferry.sandbox.versions import CLUSTER_TOOLS

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "ferry.sandbox.cli", *args], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"ferry sandbox {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def cluster_binaries() -> None:
    require_binaries(CLUSTER_TOOLS)  # raises ToolError: fail, never skip


@pytest.mark.usefixtures("cluster_binaries")
@pytest.mark.parametrize("keep", [False, True], ids=["down removes data", "down --keep keeps data"])
def test_up_status_down_leaves_no_process_and_no_port(tmp_path: Path, keep: bool) -> None:
    state = tmp_path / "state"
    kubeconfig = tmp_path / "probe.kubeconfig"
    up = _cli("up", "--name", "probe", "--state-dir", str(state), "--kubeconfig", str(kubeconfig))
    assert "probe" in up.stdout

    (probe,) = sandbox_cluster.load(state)
    assert probe.name == "probe"
    assert all(probe.running().values()), probe.running()
    assert {process.component for process in probe.processes} == set(CLUSTER_TOOLS)
    assert not any(port_is_free(port) for port in (probe.ports.etcd_client, probe.ports.apiserver))
    document = yaml.safe_load(kubeconfig.read_text())
    assert [context["name"] for context in document["contexts"]] == ["probe"]
    assert document["clusters"][0]["cluster"]["server"] == probe.server

    status = _cli("status", "--state-dir", str(state))
    assert "probe" in status.stdout and "healthy" in status.stdout

    # A second `up` reuses the healthy cluster instead of starting another.
    _cli("up", "--name", "probe", "--state-dir", str(state))
    (again,) = sandbox_cluster.load(state)
    assert [p.pid for p in again.processes] == [p.pid for p in probe.processes]

    down_args = ["down", "--state-dir", str(state)] + (["--keep"] if keep else [])
    assert "probe" in _cli(*down_args).stdout

    assert not any(is_running(process) for process in probe.processes)
    for process in probe.processes:
        assert not Path(f"/proc/{process.pid}").exists() or not is_running(process)
    taken = [port for port in probe.ports.all() if not port_is_free(port)]
    assert taken == [], f"ports still taken after down: {taken}"
    assert probe.state_dir.exists() is keep
    if keep:
        assert (probe.state_dir / "etcd").is_dir()
        assert "DOWN" in _cli("status", "--state-dir", str(state)).stdout
        _cli("down", "--state-dir", str(state))  # removes the kept data
    assert not probe.state_dir.exists()
