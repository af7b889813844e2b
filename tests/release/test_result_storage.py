"""What ``sync-env`` leaves in Prefect's result storage (issue 10, finding 6).

``sync_env`` persists its result so that a resumed release does not sync twice. On main
that result was the whole ``SyncResult``, whose diff kept the unmasked desired and live
objects: a Secret's base64 ``data`` sat in a 0644 file under the result storage path.
Here the real task syncs an app holding a Secret to the real dev cluster, under the
harness, and the files it wrote are read back.
"""

from __future__ import annotations

import base64
import json
import stat
import uuid
from pathlib import Path

import pytest
from prefect import flow
from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

from ferry.sandbox.cluster import Sandbox
from ferry.sync.model import Initiator, SyncResult
from tasks.release import sync_env
from tests.fixtures.git import BareRepoFactory
from tests.sync.world import plain_app, write_world

pytestmark = [pytest.mark.cluster]

PASSWORD = "hunter2-result-storage-7Qx"


@flow
def sync_once(config: str, app: str, revision: str) -> SyncResult:
    from ferry.config import load_config
    from ferry.sync.engine import SyncEngine

    with SyncEngine(load_config(Path(config))) as engine:
        return sync_env(engine, app, revision, Initiator("tester"), None)


def test_sync_env_persists_a_slim_masked_result_readable_by_its_owner_only(
    tmp_path: Path, sandbox: Sandbox, bare_repo: BareRepoFactory, prefect_harness: str
) -> None:
    suffix = uuid.uuid4().hex[:6]
    secret = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {PASSWORD}\n"
    repo = bare_repo(f"results-{suffix}", {"m/secret.yaml": secret})
    name = f"results-{suffix}"
    world = write_world(
        tmp_path, sandbox, repo, [plain_app(name, repo.url, sandbox.cluster("dev").server, name, "m")], suffix
    )
    storage = tmp_path / "results"
    with temporary_settings({PREFECT_LOCAL_STORAGE_PATH: storage}):
        result = sync_once(str(world.config), name, repo.head())

    files = [p for p in storage.rglob("*") if p.is_file()]
    assert files, "sync-env persisted its result"
    encoded = base64.b64encode(PASSWORD.encode())
    for path in files:
        content = _readable(path.read_bytes())
        assert PASSWORD.encode() not in content and encoded not in content, f"{path} holds the Secret"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path} is {oct(path.stat().st_mode)}"
    assert result.diff.resources and all(r.desired is None and r.live is None for r in result.diff.resources)


def _readable(content: bytes) -> bytes:
    """The file's bytes plus its base64 payloads decoded (Prefect stores base64 of a pickle)."""
    decoded = [content]
    try:
        record = json.loads(content)
    except ValueError:
        return content
    stack = [record]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and len(item) > 16:
            try:
                decoded.append(base64.b64decode(item, validate=False))
            except ValueError:
                pass
    return b"\n".join(decoded)
