"""Builds sync scenarios on the real sandbox clusters: a bare deploy repo, Applications and ferry.yaml.

Each scenario gets its own repository, cache and app-name suffix, so tests that
share the session's clusters never see each other's objects (prune selects by
app name across the whole cluster, as Argo CD does).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ferry.config import load_config
from ferry.devenv.seed import CHART_PATH, ENVIRONMENTS, application, create_deploy_repo
from ferry.sandbox.build import binary_path
from ferry.sandbox.cluster import STATE_FILE, Cluster, Sandbox
from ferry.sandbox.components import ClusterLayout, apiserver_command
from ferry.sandbox.processes import spawn, stop
from ferry.sync.engine import SyncEngine
from tests.fixtures.git import BareRepo

REGISTRY = "registry.ferry.test:5000"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
FERRY = [sys.executable, "-m", "ferry.cli"]


@dataclass
class World:
    """One scenario: its repo, its config file and the app names in it."""

    root: Path
    repo: BareRepo
    config: Path
    suffix: str

    def name(self, base: str) -> str:
        return f"{base}-{self.suffix}"

    def engine(self) -> SyncEngine:
        return SyncEngine(load_config(self.config))

    def commit(self, files: dict[str, str | None], message: str = "change") -> str:
        return self.repo.commit(files, message)

    def ferry(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "COLUMNS": "200"}
        return subprocess.run(
            [*FERRY, *args, "--config", str(self.config)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )


def _clusters_config(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [
        {"name": c.name, "server": c.server, "kubeconfig": str(sandbox.kubeconfig), "context": c.context}
        for c in sandbox.clusters
    ]


def write_world(
    root: Path, sandbox: Sandbox, repo: BareRepo, apps: list[dict[str, Any]], suffix: str
) -> World:
    """Write ``ferry.yaml`` (clusters from the sandbox) and the Applications under ``root``."""
    (root / "applications").mkdir(parents=True, exist_ok=True)
    (root / "applications" / "apps.yaml").write_text(yaml.safe_dump_all(apps, sort_keys=False))
    config = {
        "applications": "applications",
        "repositories": [{"url": repo.url}],
        "cache_dir": str(root / "cache"),
        "clusters": _clusters_config(sandbox),
    }
    (root / "ferry.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return World(root, repo, root / "ferry.yaml", suffix)


def seed_world(root: Path, sandbox: Sandbox, suffix: str) -> World:
    """The seed chart and its three Applications (dev automated), renamed ``app-helm-<env>-<suffix>``."""
    bare = root / "gitops-demo.git"
    url = create_deploy_repo(bare, REGISTRY)
    apps = []
    for env in ENVIRONMENTS:
        app = application(env, url, REGISTRY, sandbox.cluster(env).server)
        app["metadata"]["name"] = f"app-helm-{env}-{suffix}"  # type: ignore[index]
        app["spec"]["destination"]["namespace"] = f"app-{env}-{suffix}"  # type: ignore[index]
        apps.append(app)
    return write_world(root, sandbox, BareRepo(bare), apps, suffix)


def override_file(app: str, tag: str) -> dict[str, str]:
    """What Image Updater writes back for ``app`` (both images at ``tag``), keyed by repo path."""
    text = "helm:\n  parameters:\n"
    for key, repository in (
        ("echoServer", "cidemo/echo-server"),
        ("echoWebServer", "cidemo/echo-web-server"),
    ):
        text += (
            f"  - name: image.{key}.repository\n    value: {REGISTRY}/{repository}\n    forcestring: true\n"
            f"  - name: image.{key}.tag\n    value: {tag}\n    forcestring: true\n"
        )
    return {f"{CHART_PATH}/.argocd-source-{app}.yaml": text}


def plain_app(
    name: str, repo_url: str, server: str, namespace: str, path: str, **spec: Any
) -> dict[str, Any]:
    """A minimal Application manifest for a path in ``repo_url``."""
    source: dict[str, Any] = {
        "repoURL": repo_url,
        "path": path,
        "targetRevision": "main",
        **spec.pop("source", {}),
    }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name},
        "spec": {
            "project": "default",
            "source": source,
            "destination": {"server": server, "namespace": namespace},
            "syncPolicy": {"syncOptions": ["CreateNamespace=true"], **spec.pop("syncPolicy", {})},
            **spec,
        },
    }


# -- stopping and starting one cluster's API server ----------------------------------------------------


def stop_apiserver(cluster: Cluster) -> None:
    """Stop the cluster's kube-apiserver (by the PID the sandbox recorded); etcd and the rest keep running."""
    stop([p for p in cluster.processes if p.component == "kube-apiserver"], timeout=10)


def start_apiserver(cluster: Cluster, timeout: float = 90.0) -> Cluster:
    """Start kube-apiserver again on its port and certificates, record its new PID, wait until ready."""
    layout = ClusterLayout(cluster.name, cluster.state_dir, cluster.ports, cluster.pki)
    process = spawn(
        "kube-apiserver",
        apiserver_command(binary_path("kube-apiserver"), layout),
        layout.log_dir / "kube-apiserver.log",
    )
    processes = tuple(process if p.component == "kube-apiserver" else p for p in cluster.processes)
    restarted = Cluster(
        cluster.name, cluster.server, cluster.state_dir, cluster.ports, processes, cluster.kubernetes_version
    )
    # The session fixture stops clusters by the PIDs in cluster.json: the new one must be there.
    (cluster.state_dir / STATE_FILE).write_text(json.dumps(restarted.to_json(), indent=2))
    deadline = time.monotonic() + timeout
    with restarted.admin_api() as api:
        while not api.healthy():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{cluster.name}: kube-apiserver did not become ready again")
            time.sleep(0.5)
    return restarted
