"""Start the three sandbox clusters N times in a row while a CPU-heavy job runs; count the successes.

The start race this guards against: right after ``execve`` a child's ``/proc/PID/cmdline`` reads
empty, and under load that window is wide enough for a liveness check by command line to call a
fresh kube-apiserver dead. Each round is a full ``up`` of dev, staging and production (etcd,
kube-apiserver, controller-manager, scheduler, kwok) and a ``down``; the load is ``stress-ng
--cpu N`` (apt ``stress-ng``), started here and stopped by PID.

    .venv/bin/python -m bench.sandbox_starts --rounds 10 --stress-cpus 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from ferry.errors import ClusterUnavailable
from ferry.sandbox import cluster as sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--stress-cpus", type=int, default=2, help="stress-ng --cpu workers (0: none)")
    args = parser.parse_args()
    stress = None
    if args.stress_cpus:
        if shutil.which("stress-ng") is None:
            raise SystemExit("stress-ng is not installed: apt-get install -y stress-ng")
        stress = subprocess.Popen(
            ["stress-ng", "--cpu", str(args.stress_cpus), "--quiet"], start_new_session=True
        )
        time.sleep(5)  # let the load build up before the first round
    results: list[tuple[bool, float, str]] = []
    load_before = os.getloadavg()[0]
    try:
        for index in range(1, args.rounds + 1):
            with tempfile.TemporaryDirectory(prefix="ferry-starts-") as tmp:
                started = time.monotonic()
                try:
                    sandbox.up(state_root=Path(tmp))
                    outcome, detail = True, ""
                except ClusterUnavailable as exc:
                    outcome, detail = False, str(exc).splitlines()[0]
                elapsed = time.monotonic() - started
                sandbox.down(state_root=Path(tmp))
            results.append((outcome, elapsed, detail))
            print(
                f"round {index}: {'ok' if outcome else 'FAILED'} in {elapsed:.1f} s "
                f"(load {os.getloadavg()[0]:.1f}) {detail}",
                flush=True,
            )
    finally:
        if stress is not None:
            os.killpg(stress.pid, signal.SIGKILL)
            stress.wait()
    ok = sum(1 for r in results if r[0])
    times = sorted(r[1] for r in results)
    print(
        f"{ok}/{len(results)} starts succeeded under stress-ng --cpu {args.stress_cpus}; "
        f"start time median {times[len(times) // 2]:.1f} s, max {times[-1]:.1f} s; "
        f"1-minute load {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )


if __name__ == "__main__":
    main()
