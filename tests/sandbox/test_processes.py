"""Process identity: a just-spawned child is never misread as dead, and a recycled PID is never ours."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import time
from pathlib import Path

from ferry.errors import ClusterUnavailable
from ferry.sandbox.processes import ManagedProcess, exit_status, is_running, spawn, stop

SLEEP = shutil.which("sleep") or "/bin/sleep"


def test_a_process_counts_as_running_from_the_moment_spawn_returns(tmp_path: Path) -> None:
    # Right after execve the kernel lets Popen return before /proc/PID/cmdline is readable: the old
    # argv0 check called most of these dead (276 of 300 in a probe on this machine).
    started: list[ManagedProcess] = []
    misread: list[int] = []
    try:
        for i in range(100):
            started.append(spawn("sleeper", [SLEEP, "30"], tmp_path / f"{i}.log"))
            if not is_running(started[-1]):  # asked at once, as the start-up checks do
                misread.append(started[-1].pid)
    finally:
        stop(started, timeout=5)
    assert misread == []
    assert not any(is_running(p) for p in started)


def test_a_pid_with_another_start_time_is_not_ours(tmp_path: Path) -> None:
    process = spawn("sleeper", [SLEEP, "30"], tmp_path / "sleep.log")
    try:
        # What a state file would say about a PID that now belongs to a later process.
        recycled = dataclasses.replace(process, start_ticks=process.start_ticks + 1)
        assert is_running(process) and not is_running(recycled)
        assert stop([recycled], timeout=5) == [] and is_running(process), "a stranger must not be signalled"
    finally:
        stop([process], timeout=5)


def test_a_process_from_a_state_file_is_recognised_by_its_start_time(tmp_path: Path) -> None:
    other = subprocess.Popen([SLEEP, "30"], start_new_session=True)  # not started through spawn
    try:
        ticks = int(Path(f"/proc/{other.pid}/stat").read_text().rsplit(")", 1)[-1].split()[19])
        recorded = ManagedProcess("sleeper", other.pid, SLEEP, str(tmp_path / "x.log"), ticks)
        assert is_running(recorded)
        assert stop([recorded], timeout=5) == []
        assert other.wait(timeout=10) is not None
        assert not is_running(recorded)
    finally:
        other.kill()
        other.wait()


def test_a_component_that_dies_is_named_with_its_exit_status_and_log(tmp_path: Path) -> None:
    log = tmp_path / "apiserver.log"
    try:
        process = spawn("kube-apiserver", [SLEEP, "--bogus-flag"], log)
    except ClusterUnavailable as exc:  # it died before spawn saw it run
        assert "kube-apiserver exited at once with status 1" in str(exc)
        assert "bogus-flag" in str(exc), "the message carries the real log tail"
    else:  # it died just after
        deadline = time.monotonic() + 10
        while is_running(process):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert exit_status(process) == 1
        assert "bogus-flag" in log.read_text()
