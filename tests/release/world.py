"""The seed scenario for release tests: real registry, real bare deploy repo, the three sandbox clusters.

Each world gets its own suffix: app names ``app-helm-<env>-<sfx>``, namespaces
``app-<env>-<sfx>`` and image repositories ``<sfx>/cidemo/...`` in the shared
session registry, so tests never see each other's tags or objects.
"""

from __future__ import annotations

import contextvars
import fnmatch
import http.server
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.sorting import ArtifactSort, FlowRunSort

from blocks.ports import PORTS
from ferry.config import load_config
from ferry.devenv.oci import push_image
from ferry.devenv.registry import RunningRegistry
from ferry.devenv.rollout_chart import ROLLOUT_CHART_PATH, rollout_chart_files
from ferry.devenv.seed import ENVIRONMENTS, IMAGES, UPDATER, application, chart_files, create_repo, workload
from ferry.sandbox.cluster import Sandbox
from ferry.sync.engine import SyncEngine
from ferry.update.outcomes import CycleReport

OLD_BUILD = datetime(2023, 7, 1, tzinfo=UTC)
NEW_BUILD = datetime(2023, 7, 19, 7, 35, tzinfo=UTC)
NEWER_BUILD = datetime(2023, 8, 1, tzinfo=UTC)


@dataclass
class ReleaseWorld:
    root: Path
    registry: RunningRegistry
    sandbox: Sandbox
    sfx: str
    config: Path
    bare: Path

    def app(self, env: str) -> str:
        return f"app-helm-{env}-{self.sfx}"

    def namespace(self, env: str) -> str:
        return f"app-{env}-{self.sfx}"

    def image(self, alias: str = "echoserver") -> str:
        return f"{self.registry.host}/{self.sfx}/{IMAGES[alias][0]}"

    def push(self, tag: str, created: datetime) -> None:
        for repo, _ in IMAGES.values():
            push_image(self.registry.url, f"{self.sfx}/{repo}", tag, created=created)

    def engine(self) -> SyncEngine:
        # The flows' wiring, so a world whose clusters are Prefect blocks is reached as the flows reach it.
        return PORTS.engine(load_config(self.config))

    def update_images(self) -> CycleReport:
        return PORTS.update_cycle(load_config(self.config))

    def image_of(self, env: str, name: str = "echo-server") -> str | None:
        with self.engine() as engine:
            cluster, ns = engine.connect(self.app(env)), engine.target(self.app(env)).namespace
            # Of the kind the seed chart renders it as there: Production's echo server is an Argo Rollout.
            live = cluster.get(*workload(env, name), name, ns)
        return None if live is None else str(live["spec"]["template"]["spec"]["containers"][0]["image"])

    def deployment(self, env: str, name: str) -> dict[str, Any] | None:
        return self.live(env, "apps/v1", "Deployment", name)

    def live(self, env: str, api_version: str, kind: str, name: str) -> dict[str, Any] | None:
        """One live object of ``env``'s Application, in its namespace."""
        with self.engine() as engine:
            cluster, ns = engine.connect(self.app(env)), engine.target(self.app(env)).namespace
            return cluster.get(api_version, kind, name, ns)


def rollout_application(doc: dict[str, Any], image: str) -> dict[str, Any]:
    """``doc`` (a seed Application) deploying the Argo Rollout chart instead, its one image annotated."""
    annotations = {k: v for k, v in doc["metadata"]["annotations"].items() if "webserver" not in k}
    annotations[UPDATER + "image-list"] = f"echoserver={image}"
    annotations[UPDATER + "echoserver.helm.image-name"] = "image.repository"
    annotations[UPDATER + "echoserver.helm.image-tag"] = "image.tag"
    source = {**doc["spec"]["source"], "path": ROLLOUT_CHART_PATH}
    source.pop("helm", None)
    return {
        **doc,
        "metadata": {**doc["metadata"], "annotations": annotations},
        "spec": {**doc["spec"], "source": source},
    }


def build_world(
    root: Path,
    registry: RunningRegistry,
    sandbox: Sandbox,
    *,
    release: dict[str, Any] | None = None,
    environments: tuple[str, ...] = ENVIRONMENTS,
    cluster_blocks: bool = False,
    rollout: dict[str, Any] | None = None,
) -> ReleaseWorld:
    """Push v1.0, create the deploy repo, write ferry.yaml (clusters, registry, the release) and sync v1.0.

    With ``cluster_blocks`` each cluster is a saved ``KubernetesClusterConfig`` block (the
    Prefect harness must be up) instead of a kubeconfig and context. With ``rollout``
    (``rollout_chart_files``' keywords) Production deploys the Argo Rollout chart, on the
    cluster where the controller runs.
    """
    sfx = uuid.uuid4().hex[:6]
    prefix = f"{registry.host}/{sfx}"
    bare = root / "gitops-demo.git"
    image = f"{prefix}/{IMAGES['echoserver'][0]}"
    extra = {} if rollout is None else rollout_chart_files(image, "v1.0", **rollout)
    url = create_repo(bare, {**chart_files(prefix), **extra}, "main", "seed: echo-server chart")
    docs = []
    for env in environments:
        doc: Any = application(env, url, prefix, sandbox.cluster(env).server)
        doc["metadata"]["name"] = f"app-helm-{env}-{sfx}"
        doc["spec"]["destination"]["namespace"] = f"app-{env}-{sfx}"
        docs.append(rollout_application(doc, image) if rollout is not None and env == "production" else doc)
    (root / "applications").mkdir(parents=True, exist_ok=True)
    (root / "applications" / "echo-server.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    apps = {env: f"app-helm-{env}-{sfx}" for env in environments}
    release = release or {}
    envs = {
        env: {
            "app": apps[env],
            **({"canary": release.pop(f"{env}_canary")} if f"{env}_canary" in release else {}),
        }
        for env in environments
    }
    clusters = [
        {"name": c.name, "server": c.server, **_reach(sandbox, c.name, c.context, sfx, cluster_blocks)}
        for c in sandbox.clusters
    ]
    release = {"name": f"echo-server-{sfx}", "environments": envs, "gate_timeout": 120, **release}
    write_ferry_yaml(root, registry, url, clusters, release)
    world = ReleaseWorld(root, registry, sandbox, sfx, root / "ferry.yaml", bare)
    world.push("v1.0", OLD_BUILD)
    with world.engine() as engine:
        for env in environments:
            engine.sync(world.app(env), wait_timeout=90)
    return world


def write_ferry_yaml(
    root: Path, registry: RunningRegistry, url: str, clusters: list[dict[str, Any]], release: dict[str, Any]
) -> None:
    """``root/ferry.yaml`` for a world: the session registry, the deploy repo, ``clusters``, one release."""
    config = {
        "applications": "applications",
        "registries": [
            {
                "name": "local",
                "prefix": registry.host,
                "api_url": registry.url,
                "insecure": True,
                "default": True,
            }
        ],
        "repositories": [{"url": url}],
        "cache_dir": str(root / "cache"),
        "clusters": clusters,
        "releases": [release],
    }
    (root / "ferry.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def _reach(sandbox: Sandbox, name: str, context: str, sfx: str, as_block: bool) -> dict[str, str]:
    """How a ``clusters:`` entry reaches its cluster: the kubeconfig, or a block saved from it."""
    if not as_block:
        return {"kubeconfig": str(sandbox.kubeconfig), "context": context}
    from prefect_kubernetes.credentials import KubernetesClusterConfig

    block = f"{name}-{sfx}"
    KubernetesClusterConfig.from_file(sandbox.kubeconfig, context_name=context).save(block, overwrite=True)
    return {"block": block}


# -- running a flow in the background and answering its gates ------------------------------------------


class Background:
    """A flow called in a thread (with the caller's Prefect settings context); ``result()`` joins it."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self._outcome: list[Any] = []
        context = contextvars.copy_context()
        self.thread = threading.Thread(target=context.run, args=(self._run, call), daemon=True)
        self.thread.start()

    def _run(self, call: Callable[[], Any]) -> None:
        try:
            self._outcome.append(call())
        except BaseException as exc:
            self._outcome.append(exc)

    def result(self, timeout: float = 300) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the flow did not finish"
        outcome = self._outcome[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def paused_run(app: str, key: str, *, timeout: float = 180, flow_name: str | None = None) -> FlowRun:
    """Wait for the run (with parameter ``app``) to pause at a gate whose key matches ``key``.

    ``key`` is a glob: gate keys carry the revision (``sync-staging-9f14c6e2a1b3``), so tests ask
    for ``sync-staging-*`` or ``canary-staging-*-step-1``.
    """
    deadline = time.monotonic() + timeout
    seen = "nothing"
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            # Only paused runs: scheduled runs of other deployments have no start time and sort first.
            paused = FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
            )
            for run in client.read_flow_runs(
                flow_run_filter=paused, sort=FlowRunSort.START_TIME_DESC, limit=200
            ):
                if run.parameters.get("app") != app or run.state is None:
                    continue
                seen = f"{run.name}: {run.state.type.value} {run.state.state_details.pause_key}"
                pause_key = run.state.state_details.pause_key or ""
                if run.state.is_paused() and fnmatch.fnmatchcase(pause_key, key):
                    return run
            time.sleep(0.5)
    raise AssertionError(f"no run of {app} paused at {key!r} (last seen: {seen})")


def read_run(run_id: Any) -> FlowRun:
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))[0]


def answer(run: FlowRun, approved: bool, approver: str = "alice", comment: str = "") -> Any:
    """Decide the run's open gate through the API, as the UI's form does."""
    from prefect.flow_runs import resume_flow_run

    decision = "approve" if approved else "reject"
    return resume_flow_run(run.id, run_input={"decision": decision, "approver": approver, "comment": comment})


def artifact(prefix: str, run_id: Any) -> str:
    """The newest artifact of run ``run_id`` whose key starts with ``prefix``."""
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])),
            sort=ArtifactSort.CREATED_DESC,
        )
    matching = [a for a in found if (a.key or "").startswith(prefix)]
    assert matching, f"no artifact {prefix}* in run {run_id} (have: {sorted({a.key for a in found})})"
    return str(matching[0].data)


@contextmanager
def http_endpoint(status: int = 200, body: bytes = b"echo-server ok") -> Iterator[str]:
    """A loopback HTTP server answering every GET with ``status`` and ``body``; yields its URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/healthz"
    finally:
        server.shutdown()
        server.server_close()
