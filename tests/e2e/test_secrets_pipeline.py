"""Secrets never reach artifacts, run logs, results, events or commits: a whole pipeline, then a grep.

The pipeline runs every stage with credentials it needs for real, each secret known to the
test and held only in Prefect ``Secret`` blocks (the seed's ``secret:argocd/...`` form):

* the registry demands htpasswd auth (``ci-build`` pushes, ``image-update`` reads tags);
* the deploy repo is served by ``git http-backend`` behind Basic auth (``image-update``
  pushes the write-back, ``sync``/``auto-sync``/``release``/``rollback`` clone and fetch);

``ci-build`` (release-v1, then release-v3), ``auto-sync`` and ``sync``, ``image-update``,
``auto-sync`` again, the ``release`` through its gates and a quick ``rollback``. Then every
row of every table of the Prefect database (artifacts, logs, events and their payloads, run
parameters, states and results, run inputs), every result file Prefect wrote, the deploy
repo's history and Ferry's cache are searched for each secret and its Basic-auth encoding.
"""

from __future__ import annotations

import base64
import secrets
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.blocks.system import Secret
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, PREFECT_SERVER_DATABASE_CONNECTION_URL

from ferry.devenv.registry import start_registry
from ferry.devenv.seed import IMAGES, application, create_deploy_repo
from ferry.devenv.source import build_rule, create_source_repo
from ferry.sandbox.cluster import Sandbox
from flows.ci_build import ci_build
from flows.image_update import image_update
from flows.release import release
from flows.rollback import rollback
from flows.sync import auto_sync, sync
from tests.fixtures.git import BareRepo, BareRepoFactory, GitHttpServer
from tests.fixtures.wait import wait_until
from tests.release.world import Background, answer, paused_run

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.usefixtures("buildah")]


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _database_rows(path: Path) -> dict[str, str]:
    """Every table of the Prefect database as one text blob each."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: "\n".join(map(repr, db.execute(f'SELECT * FROM "{t}"'))) for t in tables}


def _files_under(root: Path, since: float) -> dict[str, bytes]:
    if not root.exists():
        return {}
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file() and p.stat().st_mtime >= since}


def test_a_whole_pipeline_leaves_no_secret_in_prefect_or_git(
    tmp_path: Path,
    sandbox: Sandbox,
    sandbox_tools: dict,
    prefect_harness: str,
    bare_repo: BareRepoFactory,
    git_http_server: GitHttpServer,
) -> None:
    started = time.time()
    sfx = uuid.uuid4().hex[:6]
    registry_user, registry_password = "ferry-bot", f"reg-{secrets.token_hex(12)}"
    git_user, git_password = git_http_server.username, git_http_server.password
    Secret(value={"acr": f"{registry_user}:{registry_password}"}).save(f"argocd-acr-{sfx}")
    Secret(value={"username": git_user, "password": git_password}).save(f"argocd-git-creds-{sfx}")
    registry = start_registry(tmp_path / "registry", auth=(registry_user, registry_password))
    try:
        source = create_source_repo(tmp_path / "src" / "echo-server.git")
        deploy = BareRepo(bare_repo.root / f"gitops-{sfx}.git")
        repo_url = git_http_server.url_for(deploy)
        config = _write_config(tmp_path, sfx, sandbox, registry.host, registry.url, source.url, repo_url)
        app = {env: f"app-helm-{env}-{sfx}" for env in ("dev", "staging")}

        first = source.release("v1")
        assert ci_build(config=config, return_state=True).is_completed()
        create_deploy_repo(deploy.path, registry.host, initial_tag=f"v1-{first[:6]}")
        assert auto_sync(config=config, cluster="dev", wait_timeout=90, return_state=True).is_completed()
        assert sync(app=app["staging"], config=config, wait_timeout=90, return_state=True).is_completed()
        source.commit({"VERSION": "3\n"}, "echo server v3")
        third = source.release("v3")
        assert ci_build(config=config, return_state=True).is_completed()
        updated = image_update(config=config, return_state=True)
        assert updated.is_completed(), updated.message
        assert auto_sync(config=config, cluster="dev", wait_timeout=90, return_state=True).is_completed()

        running = Background(lambda: release(app=app["dev"], config=config, return_state=True))
        run = paused_run(app["dev"], "verified-dev-*")
        answer(run, True, "alice")
        paused_run(app["dev"], "sync-staging-*")
        answer(run, True, "bob")
        assert running.result().is_completed()
        rolled = rollback(app=app["staging"], config=config, return_state=True)
        assert rolled.is_completed(), rolled.message
    finally:
        registry.stop()

    # The pipeline did use the secrets: Git saw authenticated requests, the tags are there.
    assert "auth=ok" in git_http_server.requests_log.read_text()
    assert f"v3-{third[:6]}" in deploy.read("manifests/helm/echo-server/.argocd-source-"
                                             f"{app['dev']}.yaml").decode()  # fmt: skip

    # Logs and events reach the database in batches: flush, then wait for the last of each.
    APILogWorker.drain_all()
    EventsWorker.drain_all()
    database = Path(PREFECT_SERVER_DATABASE_CONNECTION_URL.value().split("///", 1)[1])
    wait_until(lambda: "ferry.image.updated" in _database_rows(database).get("events", ""), 60, "the events")
    wait_until(lambda: "rolled back" in _database_rows(database).get("log", ""), 60, "the rollback's log")
    rows = _database_rows(database)
    assert {"artifact", "log", "events", "flow_run", "task_run"} <= set(rows)
    assert app["dev"] in rows["artifact"] and app["dev"] in rows["events"]  # the search reads real data

    haystacks: dict[str, bytes] = {f"database table {t}": text.encode() for t, text in rows.items()}
    haystacks.update(_files_under(Path(PREFECT_LOCAL_STORAGE_PATH.value()), started))
    haystacks.update(_files_under(tmp_path / "cache", started))
    haystacks["deploy repo history"] = subprocess.run(
        ["git", f"--git-dir={deploy.path}", "log", "--all", "-p", "--format=%H %an %ae%n%B"],
        capture_output=True,
        check=True,
    ).stdout
    needles = {
        "registry password": registry_password,
        "registry Basic auth": _basic(registry_user, registry_password),
        "git password": git_password,
        "git Basic auth": _basic(git_user, git_password),
    }
    found = [
        f"{what} in {where}"
        for where, text in haystacks.items()
        for what, secret in needles.items()
        if secret.encode() in text
    ]
    # Prefect itself keeps the Secret blocks (encrypted); nothing else may hold a secret.
    assert found == [], found


def _write_config(
    root: Path,
    sfx: str,
    sandbox: Sandbox,
    registry_host: str,
    registry_url: str,
    source_url: str,
    repo_url: str,
) -> str:
    docs: list[Any] = []
    for env in ("dev", "staging"):
        doc: Any = application(env, repo_url, registry_host, sandbox.cluster(env).server)
        doc["metadata"]["name"] = f"app-helm-{env}-{sfx}"
        doc["spec"]["destination"]["namespace"] = f"app-{env}-{sfx}"
        docs.append(doc)
    (root / "applications").mkdir(parents=True, exist_ok=True)
    (root / "applications" / "echo-server.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    config = {
        "applications": "applications",
        "registries": [
            {
                "name": "local",
                "prefix": registry_host,
                "api_url": registry_url,
                "insecure": True,
                "default": True,
                "credentials": f"secret:argocd/acr-{sfx}#acr",
            }
        ],
        "repositories": [{"url": repo_url, "credentials": f"git:secret:argocd/git-creds-{sfx}"}],
        "cache_dir": str(root / "cache"),
        "clusters": [
            {"name": c.name, "server": c.server, "kubeconfig": str(sandbox.kubeconfig), "context": c.context}
            for c in sandbox.clusters
        ],
        "builds": [
            {**build_rule(source_url, registry_host, name=alias), "image": f"{registry_host}/{repository}"}
            for alias, (repository, _) in IMAGES.items()
        ],
        "releases": [
            {
                "name": f"echo-server-{sfx}",
                "environments": {env: {"app": f"app-helm-{env}-{sfx}"} for env in ("dev", "staging")},
                "gate_timeout": 120,
            }
        ],
    }
    path = root / "ferry.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return str(path)
