"""Start, check and stop the sandbox's server processes by PID.

Every component runs in its own session, so its PID is also its process-group
ID and one ``killpg`` reaches any helper it forks. A PID read back from a state
file is only signalled while ``/proc/<pid>/cmdline`` still names the binary we
started: after a reboot or a crash the number may belong to someone else.
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
    """Start ``command`` in a new session, appending its output to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=dict(env) if env is not None else None,
        )
    return ManagedProcess(component, process.pid, str(command[0]), str(log))


def is_running(process: ManagedProcess) -> bool:
    """Return True while ``process`` is alive and still runs the binary we started.

    Reaps it first when it is our own child, since an unreaped zombie would
    otherwise look alive to ``kill(pid, 0)``.
    """
    with contextlib.suppress(ChildProcessError):
        os.waitpid(process.pid, os.WNOHANG)
    proc = Path(f"/proc/{process.pid}")
    try:
        stat = (proc / "stat").read_text()
        argv0 = (proc / "cmdline").read_bytes().split(b"\0", 1)[0].decode(errors="replace")
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X") and argv0 == process.binary


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
