"""A manifest the API server refused never reaches a diff (issue 10, finding 2).

On main the raw manifest became the "desired" side when the server-side dry run refused
it, so whatever a hostile repo put into it (there: the worker's kubeconfig, read through a
symlink) was printed by ``ferry diff`` and published in the release's diff artifact.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from ferry.sandbox.cluster import Sandbox
from ferry.sync.model import SyncStatus
from tests.fixtures.git import BareRepoFactory
from tests.sync.world import plain_app, write_world

pytestmark = [pytest.mark.cluster]

MARKER = "client-key-data-LS0tLS1CRUdJTiBQUklWQVRF"


def test_a_refused_manifest_is_named_but_never_shown(
    tmp_path: Path, sandbox: Sandbox, bare_repo: BareRepoFactory, kube_client: Any
) -> None:
    suffix = uuid.uuid4().hex[:6]
    refused = (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: broken\n"
        f"  annotations:\n    stolen: {MARKER}\nspec:\n  ports:\n  - port: 70000\n  selector:\n    app: x\n"
    )
    good = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\ndata:\n  k: v\n"
    repo = bare_repo(f"refused-{suffix}", {"m/refused.yaml": refused, "m/good.yaml": good})
    name = namespace = f"refused-{suffix}"
    # In an existing namespace the dry run judges the object (in a missing one it cannot).
    k8s.CoreV1Api(kube_client("dev")).create_namespace({"metadata": {"name": namespace}})
    world = write_world(
        tmp_path,
        sandbox,
        repo,
        [plain_app(name, repo.url, sandbox.cluster("dev").server, namespace, "m")],
        suffix,
    )
    with world.engine() as engine:
        diff = engine.diff(name)
    assert diff.status is SyncStatus.OUT_OF_SYNC
    (broken,) = diff.errors
    assert broken.key.name == "broken" and "70000" in broken.error
    assert broken.desired is None and broken.diff == ""
    assert MARKER not in diff.unified()
    assert "rejected by the server-side dry run" in diff.unified()
    assert "+kind: ConfigMap" in diff.unified(), "the rest of the app is still diffed"
    printed = world.ferry("diff", name)
    assert printed.returncode == 1
    assert MARKER not in printed.stdout + printed.stderr
