"""Benchmark: diff and apply times of a 50-resource plain-directory app on a real sandbox cluster.

It also counts the renders each ``auto_sync`` makes (calls to the renderer the engine
holds), which the sync plan brought from two (diff, then sync) to one, and the client
calls of each step (GETs, LISTs, dry-run applies, applies), which sync from listed state
(issue 14) brought to none per resource for an app in sync.

Starts its own sandbox cluster ``bench`` (real etcd + kube-apiserver + controllers
+ kwok, from the cached binaries) in a temporary state directory, so it never
disturbs the dev/staging/production clusters, and stops it at the end.

Run: ``.venv/bin/python bench/sync_bench.py [--rounds 3] [--results bench/RESULTS.md]``;
``--per-kind N`` makes N resources of each kind instead (the CI smoke runs it tiny).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ferry.sync.engine as engine_module
from ferry.config import load_config
from ferry.sandbox.cluster import down, up
from ferry.sync.engine import SyncEngine
from ferry.sync.kube import KubeCluster

RESOURCES = {"ConfigMap": 20, "Secret": 10, "Service": 10, "Deployment": 10}
CALLS = ("get", "list", "dry run", "apply")


def manifest(kind: str, index: int, generation: int) -> dict:
    name = f"{kind.lower()}-{index:02d}"
    if kind == "ConfigMap":
        return {
            "apiVersion": "v1",
            "kind": kind,
            "metadata": {"name": name},
            "data": {"generation": str(generation), "payload": "x" * 200},
        }
    if kind == "Secret":
        return {
            "apiVersion": "v1",
            "kind": kind,
            "metadata": {"name": name},
            "stringData": {"token": f"t{index}"},
        }
    if kind == "Service":
        return {
            "apiVersion": "v1",
            "kind": kind,
            "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]},
        }
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": f"registry.bench/app:{index}"}]},
            },
        },
    }


def git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=b@b", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def write_manifests(work: Path, generation: int) -> None:
    for kind, count in RESOURCES.items():
        for index in range(count):
            path = work / "manifests" / f"{kind.lower()}-{index:02d}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            # Only the ConfigMaps change between generations: 20 of 50 resources.
            path.write_text(yaml.safe_dump(manifest(kind, index, generation if kind == "ConfigMap" else 0)))


def timed(action: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


class RenderCounter:
    """Counts the engine's calls to ``render_application`` while it is entered."""

    def __init__(self) -> None:
        self.count = 0
        self._original = engine_module.render_application

    def __enter__(self) -> RenderCounter:
        def counting(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return self._original(*args, **kwargs)

        # The engine looks the renderer up in its module at each call, on main and on the branch.
        engine_module.render_application = counting  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        engine_module.render_application = self._original  # type: ignore[assignment]


class CallCounter:
    """Counts the cluster client's GETs, LISTs, dry-run applies and applies while it is entered."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(CALLS, 0)
        self._originals = (KubeCluster.get, KubeCluster.list, KubeCluster.apply)

    def __enter__(self) -> CallCounter:
        get, listing, apply = self._originals

        def counting_get(cluster: KubeCluster, *args: Any, **kwargs: Any) -> Any:
            self.counts["get"] += 1
            return get(cluster, *args, **kwargs)

        def counting_list(cluster: KubeCluster, *args: Any, **kwargs: Any) -> Any:
            self.counts["list"] += 1
            return listing(cluster, *args, **kwargs)

        def counting_apply(cluster: KubeCluster, *args: Any, **kwargs: Any) -> Any:
            self.counts["dry run" if kwargs.get("dry_run") else "apply"] += 1
            return apply(cluster, *args, **kwargs)

        KubeCluster.get, KubeCluster.list, KubeCluster.apply = (  # type: ignore[method-assign]
            counting_get,
            counting_list,
            counting_apply,
        )
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        KubeCluster.get, KubeCluster.list, KubeCluster.apply = self._originals  # type: ignore[method-assign]


def one_round(
    root: Path, server: str, kubeconfig: Path, round_index: int
) -> tuple[dict[str, float], dict[str, int], dict[str, dict[str, int]]]:
    bare, work = root / f"deploy-{round_index}.git", root / f"work-{round_index}"
    bare.mkdir()
    git("init", "--bare", "-q", "-b", "main", cwd=bare)
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    write_manifests(work, 1)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "gen 1", cwd=work)
    git("push", "-q", bare.as_uri(), "main", cwd=work)
    app = f"bench-{round_index}"
    (root / f"apps-{round_index}").mkdir()
    (root / f"apps-{round_index}" / "app.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {"name": app},
                "spec": {
                    "source": {"repoURL": bare.as_uri(), "path": "manifests", "targetRevision": "main"},
                    "destination": {"server": server, "namespace": app},
                    "syncPolicy": {"automated": {}, "syncOptions": ["CreateNamespace=true"]},
                },
            }
        )
    )
    config = root / f"ferry-{round_index}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "applications": f"apps-{round_index}",
                "cache_dir": str(root / "cache"),
                "clusters": [
                    {"name": "bench", "server": server, "kubeconfig": str(kubeconfig), "context": "bench"}
                ],
            }
        )
    )
    figures: dict[str, float] = {}
    calls: dict[str, dict[str, int]] = {}
    total = sum(RESOURCES.values())
    changing = RESOURCES["ConfigMap"]

    def step(name: str, action: Callable[[], object]) -> object:
        with CallCounter() as counter:
            figures[name], value = timed(action)
        calls[name] = counter.counts
        return value

    with SyncEngine(load_config(config)) as engine:
        application = engine.application(app)
        step("render (git + checkout + parse)", lambda: engine.render(application))
        first = step("diff, nothing live", lambda: engine.diff(app))
        assert len(first.resources) == total, len(first.resources)  # type: ignore[attr-defined]
        step(f"sync, create {total} (dry run + apply + history)", lambda: engine.sync(app))
        clean = step("diff, in sync", lambda: engine.diff(app))
        assert not clean.out_of_sync, [r.key for r in clean.out_of_sync]  # type: ignore[attr-defined]
        step("sync, nothing changed", lambda: engine.sync(app))
        write_manifests(work, 2)
        git("commit", "-qam", "gen 2", cwd=work)
        git("push", "-q", bare.as_uri(), "main", cwd=work)
        label = f"{changing} of {total} changed"
        changed = step(f"diff, {label}", lambda: engine.diff(app))
        assert len(changed.out_of_sync) == changing, len(changed.out_of_sync)  # type: ignore[attr-defined]
        step(f"sync, {label}", lambda: engine.sync(app))
        renders: dict[str, int] = {}
        write_manifests(work, 3)
        git("commit", "-qam", "gen 3", cwd=work)
        git("push", "-q", bare.as_uri(), "main", cwd=work)
        with RenderCounter() as counter:
            outcome = step(f"auto_sync, {label}", lambda: engine.auto_sync(app))
        assert outcome[0] is not None, outcome  # type: ignore[index]
        renders[f"auto_sync, {label}"] = counter.count
        with RenderCounter() as counter:
            outcome = step("auto_sync, in sync (skipped)", lambda: engine.auto_sync(app))
        assert outcome[0] is None, outcome  # type: ignore[index]
        renders["auto_sync, in sync (skipped)"] = counter.count
    return figures, renders, calls


def update_results(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    start = text.find("\n## Sync\n")
    if start != -1:
        end = text.find("\n## ", start + 1)
        text = text[:start] + (text[end:] if end != -1 else "\n")
    path.write_text(text.rstrip("\n") + "\n\n" + section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--results", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    parser.add_argument("--no-results", action="store_true", help="print only; leave RESULTS.md alone")
    parser.add_argument("--per-kind", type=int, default=0, help="this many resources of each kind")
    args = parser.parse_args()
    if args.per_kind:
        RESOURCES.update(dict.fromkeys(RESOURCES, args.per_kind))
    with tempfile.TemporaryDirectory(prefix="ferry-sync-bench-") as scratch:
        root = Path(scratch)
        started = time.perf_counter()
        sandbox = up(("bench",), state_root=root / "sandbox")
        startup = time.perf_counter() - started
        try:
            results = [
                one_round(root, sandbox.cluster("bench").server, sandbox.kubeconfig, i)
                for i in range(args.rounds)
            ]
        finally:
            down(state_root=root / "sandbox")
    rounds = [figures for figures, _, _ in results]
    renders = [f"| {step} | {', '.join(str(r[step]) for _, r, _ in results)} |" for step in results[0][1]]
    # Calls per step are the same in every round (nothing in them depends on timing): the first round's.
    calls = [
        f"| {step} | {' | '.join(str(counts[name]) for name in CALLS)} |"
        for step, counts in results[0][2].items()
    ]
    rows = [
        f"| {step} | {statistics.median(r[step] for r in rounds):.2f} | "
        f"{min(r[step] for r in rounds):.2f} | {max(r[step] for r in rounds):.2f} |"
        for step in rounds[0]
    ]
    kinds = ", ".join(f"{count} {kind}s" for kind, count in RESOURCES.items())
    section = "\n".join(
        [
            "## Sync",
            "",
            f"`bench/sync_bench.py`: one plain-directory app of {sum(RESOURCES.values())} resources "
            f"({kinds}) "
            "on one sandbox cluster (kube-apiserver v1.37.2, etcd, controllers, kwok), "
            f"{args.rounds} rounds, each a fresh app and namespace. Machine: 2 cores, Debian 12, "
            f"Python {platform.python_version()}. Cluster start-up: {startup:.1f} s (not in the figures).",
            "A diff is one labelled LIST per kind, a GET for each object the LISTs miss and a server-side "
            "dry-run apply for each object that the listed state does not show in sync (applied hash and "
            "fields); a sync is that diff, then one apply per resource that differs and one ConfigMap update "
            'for history. "diff, nothing live" dry-runs into a namespace that does not exist yet, which '
            "the API server answers only after a live namespace lookup (about 60 ms per object); a real sync "
            "creates the namespace first (CreateNamespace=true), so its dry run does not pay that.",
            "",
            "| step | median s | min s | max s |",
            "|---|---|---|---|",
            *rows,
            "",
            "Renders per `auto_sync` (calls to the renderer, one per round):",
            "",
            "| auto_sync | renders |",
            "|---|---|",
            *renders,
            "",
            "Cluster client calls per step (first round; the history ConfigMap and namespace included):",
            "",
            f"| step | {' | '.join(CALLS)} |",
            "|---|" + "---|" * len(CALLS),
            *calls,
            "",
        ]
    )
    if not args.no_results:
        update_results(args.results, section)
    print(f"load average at the end: {Path('/proc/loadavg').read_text().strip()}")
    print(section)


if __name__ == "__main__":
    main()
