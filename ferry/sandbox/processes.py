"""Start, check and stop the sandbox's server processes by PID.

Every component runs in its own session, so its PID is also its process-group
ID and one ``killpg`` reaches any helper it forks.

A process is identified by its PID *and* its start time (``/proc/<pid>/stat``
field 22), recorded once it has exec'd our binary (``/proc/<pid>/exe``). Its
command line is never used: right after ``execve`` the kernel already let
``Popen`` return but has not yet set up the new argument area, so
``/proc/<pid>/cmdline`` reads empty, and under load that window is wide enough
to call a fresh apiserver dead. The start time cannot change over a process's
life, and a PID reused after a reboot or a crash has another one, so a number
read back from a state file is only signalled while both still match. Our own
children are also tracked by their ``Popen`` handle, which knows the exit status.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ferry.errors import ClusterUnavailable


@dataclass(frozen=True, slots=True)
class ManagedProcess:
    """A component process the sandbox started.

    Attributes:
        component: ``etcd``, ``kube-apiserver``, ….
        pid: Process ID, equal to its process-group ID.
        binary: Absolute path of the executable, checked before signalling.
        log: File receiving its stdout and stderr.
    """

    component: str
    pid: int
    binary: str
    log: str
    start_ticks: int = 0


#: Children started by this process, by PID, with their start time: ``poll()`` reaps them and
#: knows their exit status.
_CHILDREN: dict[int, tuple[subprocess.Popen[bytes], int]] = {}
#: How long a just-spawned child may take to show our binary as its executable (it normally has already).
_EXEC_TIMEOUT = 10.0


def free_ports(count: int) -> list[int]:
    """Return ``count`` distinct TCP ports on 127.0.0.1 that were free a moment ago.

    All sockets stay open until every port is chosen, so the kernel cannot hand
    out the same port twice in one call.
    """
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_is_free(port: int) -> bool:
    """Return True when a server could listen on ``127.0.0.1:port`` now.

    Uses ``SO_REUSEADDR`` as every server does, so connections of the stopped
    server lingering in TIME_WAIT do not count as the port being taken.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen(1)
        except OSError:
            return False
    return True


def spawn(
    component: str,
    command: Sequence[str],
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
) -> ManagedProcess:
    """Start ``command`` in a new session, appending its output to ``log``.

    Returns once the child runs our binary, with its start time recorded.

    Raises:
        ClusterUnavailable: The child exited at once, or never showed our binary as its executable.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    binary = str(command[0])
    with log.open("ab") as output:
        child = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=dict(env) if env is not None else None,
        )
    deadline = time.monotonic() + _EXEC_TIMEOUT
    while True:
        stat = _stat(child.pid)
        if child.poll() is not None or stat is None:
            raise ClusterUnavailable(
                f"{component} exited at once with status {child.returncode}; "
                f"last lines of {log}:\n{log_tail(log)}"
            )
        if _runs(child.pid, binary):
            _CHILDREN[child.pid] = (child, stat[1])
            return ManagedProcess(component, child.pid, binary, str(log), stat[1])
        if time.monotonic() >= deadline:
            child.kill()
            raise ClusterUnavailable(f"{component} (pid {child.pid}) never ran {binary}")
        time.sleep(0.01)


def _stat(pid: int) -> tuple[str, int] | None:
    """``(state, start time in clock ticks since boot)`` of ``pid``, or None when there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = text.rsplit(")", 1)[-1].split()
    return fields[0], int(fields[19])


def _runs(pid: int, binary: str) -> bool:
    """Whether ``pid`` executes ``binary`` (a replaced binary reads as "<path> (deleted)")."""
    try:
        exe = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    except OSError:
        return False
    return exe == os.path.realpath(binary)


def is_running(process: ManagedProcess) -> bool:
    """Return True while ``process`` is alive and is still the process we started.

    Our own child is asked through its ``Popen`` handle (which also reaps it).
    Any other PID must be alive, not a zombie, and have the recorded start
    time; state files written before start times were recorded fall back to
    comparing the executable.
    """
    child = _own_child(process)
    if child is not None:
        if child.poll() is not None:
            return False
    else:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(process.pid, os.WNOHANG)
    stat = _stat(process.pid)
    if stat is None or stat[0] in ("Z", "X"):
        return False
    if process.start_ticks:
        return stat[1] == process.start_ticks
    return _runs(process.pid, process.binary)


def exit_status(process: ManagedProcess) -> int | None:
    """The exit status of a process this one started and that has exited (None when unknown)."""
    child = _own_child(process)
    return None if child is None else child.poll()


def _own_child(process: ManagedProcess) -> subprocess.Popen[bytes] | None:
    known = _CHILDREN.get(process.pid)
    if known is None or (process.start_ticks and known[1] != process.start_ticks):
        return None  # not ours, or an earlier child of ours whose PID was reused
    return known[0]


def stop(processes: Sequence[ManagedProcess], *, timeout: float = 20.0) -> list[ManagedProcess]:
    """SIGTERM each process group in order, then SIGKILL whatever outlives ``timeout``.

    Args:
        processes: In shutdown order (clients before servers, etcd last), so
            no component spends its grace period retrying a dead dependency.
        timeout: Seconds to wait for a clean exit before SIGKILL.

    Returns:
        The processes that had to be killed.

    Raises:
        ClusterUnavailable: A process survived SIGKILL (it is stuck in the kernel).
    """
    killed: list[ManagedProcess] = []
    for process in processes:
        if not is_running(process):
            continue
        _signal_group(process.pid, signal.SIGTERM)
        if _wait_gone(process, timeout):
            continue
        _signal_group(process.pid, signal.SIGKILL)
        killed.append(process)
        if not _wait_gone(process, 5.0):
            raise ClusterUnavailable(f"{process.component} (pid {process.pid}) survived SIGKILL")
    return killed


def _signal_group(pid: int, signum: signal.Signals) -> None:
    # The group may already be gone between the check and the signal: that is success.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)


def _wait_gone(process: ManagedProcess, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_running(process):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def log_tail(path: str | Path, lines: int = 25) -> str:
    """Return the last ``lines`` lines of a log file ('' when it does not exist)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
