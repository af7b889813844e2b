"""Benchmark: the Argo Rollouts controller and Prometheus in the sandbox — start, memory, step latency.

Starts its own sandbox cluster ``bench`` with the controller (in a temporary
state directory, apart from any other cluster) and its own Prometheus and
exporter, all on 127.0.0.1, and stops them by PID at the end. Measures:

* a warm ``ensure_binaries(["rollouts-controller"])`` (the binary and the CRDs cached);
* cluster start, then the controller's part (CRDs applied and Established, ``/healthz``);
* the controller's and Prometheus' RSS and CPU over an idle minute;
* Prometheus start to ``/-/ready`` and to its first scrape;
* per canary step: from Ferry's promote to the controller's next pause (pods ready).

Run: ``.venv/bin/python bench/rollouts_bench.py [--rounds 3]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubernetes import config as k8s_config

from ferry.analysis.prometheus import PrometheusClient
from ferry.devenv.exporter import running_exporter
from ferry.devenv.prometheus import start_prometheus
from ferry.release.argo import ArgoRollout
from ferry.sandbox import rollouts
from ferry.sandbox.build import ensure_binaries
from ferry.sandbox.cluster import down, up
from ferry.sync.kube import KubeCluster

TICKS = os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def idle(pids: dict[str, int], seconds: float) -> dict[str, tuple[float, float]]:
    """(RSS MiB at the end, % of one core over the window) per process."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    time.sleep(seconds)
    return {
        name: (rss_mib(pid), 100 * (cpu_seconds(pid) - before[name]) / seconds) for name, pid in pids.items()
    }


def rollout(name: str, image: str) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": "bench"},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "echo", "image": image}]},
            },
            "strategy": {
                "canary": {"steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]}
            },
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle", type=float, default=60.0)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")

    started = time.monotonic()
    ensure_binaries(["rollouts-controller"])
    print(f"warm build (rollouts-controller): {time.monotonic() - started:.2f} s")

    root = Path(tempfile.mkdtemp(prefix="ferry-rollouts-bench-"))
    try:
        started = time.monotonic()
        plain = up(("bench",), state_root=root)
        cluster_s = time.monotonic() - started
        started = time.monotonic()
        sandbox = up(("bench",), state_root=root, argo_rollouts=True)
        controller_s = time.monotonic() - started
        (bench,) = sandbox.clusters
        controller = rollouts.controller_process(bench)
        assert controller is not None and plain.clusters[0].server == bench.server
        print(f"cluster start: {cluster_s:.1f} s; then the controller (CRDs + healthz): {controller_s:.1f} s")

        with running_exporter() as exporter:
            started = time.monotonic()
            prometheus = start_prometheus(root / "prometheus", [exporter.target])
            ready_s = time.monotonic() - started
            with PrometheusClient(prometheus.url) as client:
                while not client.query("ferry_exporter_generation").values():
                    time.sleep(0.1)
            scrape_s = time.monotonic() - started
            print(f"prometheus: ready {ready_s:.1f} s, first scrape {scrape_s:.1f} s after start")
            try:
                usage = idle({"rollouts-controller": controller.pid, "prometheus": prometheus.pid}, args.idle)
                for name, (rss, cpu) in usage.items():
                    print(f"{name}: RSS {rss:.0f} MiB, {cpu:.1f} % of one core over {args.idle:.0f} s idle")
            finally:
                prometheus.stop()

        api = k8s_config.new_client_from_config(config_file=str(sandbox.kubeconfig), context="bench")
        kube = KubeCluster("bench", api)
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}})
        latencies: list[float] = []
        for round_ in range(args.rounds):
            name = f"echo-{round_}"
            provider = ArgoRollout(kube, "bench", name, poll_interval=0.1)
            kube.apply(rollout(name, "r/echo:v1"))
            assert provider.next_pause(120) is None
            kube.apply(rollout(name, "r/echo:v2"))
            started = time.monotonic()
            step = provider.next_pause(120)
            latencies.append(time.monotonic() - started)
            while step is not None:
                provider.approve(step)
                started = time.monotonic()
                step = provider.next_pause(120)
                latencies.append(time.monotonic() - started)
        kube.close()
        print(
            f"sync/promote → next pause or done ({len(latencies)} steps): "
            f"median {statistics.median(latencies):.2f} s, "
            f"max {max(latencies):.2f} s"
        )
    finally:
        down(state_root=root)
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
