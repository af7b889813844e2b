"""A sync whose process is killed mid-apply, on a real cluster: the record says so, and the next sync ends it.

The app has two sync waves. Wave 0 is a Deployment no node can schedule, so the sync
waits for it to become healthy before wave 1; that is where ``ferry sync`` is killed
with SIGKILL, as an OOM kill or a lost worker would end it. Wave 1 was never applied.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from ferry.sandbox.cluster import Sandbox
from ferry.sync.model import SyncStatus
from tests.fixtures.git import BareRepoFactory
from tests.sync.world import FERRY, PROJECT_ROOT, plain_app, write_world

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def _deployment(name: str, selector: dict[str, str] | None) -> str:
    spec: dict[str, Any] = {
        "replicas": 1,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "c", "image": "registry.ferry.test:5000/echo:v1"}]},
        },
    }
    if selector:
        spec["template"]["spec"]["nodeSelector"] = selector
    doc = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "annotations": {"argocd.argoproj.io/sync-wave": "0"}},
        "spec": spec,
    }
    return json.dumps(doc)


LATER = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: later\n"
    "  annotations: {argocd.argoproj.io/sync-wave: '1'}\ndata: {k: v}\n"
)


def test_a_sync_killed_mid_apply_is_recorded_running_and_the_next_auto_sync_finishes_it(
    tmp_path: Path, sandbox: Sandbox, bare_repo: BareRepoFactory, kube_client: Any
) -> None:
    suffix = uuid.uuid4().hex[:6]
    name, namespace = f"killed-{suffix}", f"killed-{suffix}"
    unschedulable = {"ferry.test/no-such-node": "true"}
    repo = bare_repo(
        name, {"manifests/web.json": _deployment("web", unschedulable), "manifests/later.yaml": LATER}
    )
    app = plain_app(name, repo.url, sandbox.cluster("dev").server, namespace, "manifests")
    app["spec"]["syncPolicy"]["automated"] = {}
    world = write_world(tmp_path, sandbox, repo, [app], suffix)
    with world.engine() as engine:
        first = engine.plan(name).revision

    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    syncing = subprocess.Popen(
        [*FERRY, "sync", name, "--config", str(world.config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        from kubernetes import client as k8s

        apps = k8s.AppsV1Api(kube_client("dev"))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and syncing.poll() is None:
            try:
                apps.read_namespaced_deployment("web", namespace)
                break  # wave 0 is applied; the sync now waits for it to become healthy
            except k8s.ApiException as exc:
                if exc.status != 404:
                    raise
            time.sleep(0.2)
        assert syncing.poll() is None, "the sync was still waiting on wave 0"
    finally:
        os.killpg(syncing.pid, signal.SIGKILL)
        syncing.wait()

    with world.engine() as engine:
        status = engine.status(name)
        assert status.sync is SyncStatus.OUT_OF_SYNC, "wave 1 was never applied"
        attempt = status.last_attempt
        assert attempt is not None and attempt.running and attempt.revision == first, attempt
        assert attempt.phase == "Running" and "syncing to" in attempt.message
        assert engine.history(name) == (), "no sync finished, so none is in the history"
    listed = world.ferry("apps", "-o", "json")
    (row,) = [r for r in json.loads(listed.stdout) if r["name"] == name]
    assert row["lastAttempt"]["phase"] == "Running" and row["status"] == "OutOfSync", row
    assert "(sync Running)" in world.ferry("apps").stdout

    # Someone makes wave 0 schedulable; automated sync takes over the interrupted attempt.
    world.commit({"manifests/web.json": _deployment("web", None)}, "schedule anywhere")
    with world.engine() as engine:
        result, reason = engine.auto_sync(name, wait_timeout=120)
        assert result is not None, reason
        assert "never finished" in reason, reason
        status = engine.status(name)
        assert status.sync is SyncStatus.SYNCED and status.last_attempt is not None
        assert (status.last_attempt.running, status.last_attempt.phase) == (False, "Succeeded")
        assert [e.revision for e in engine.history(name)] == [result.revision]
