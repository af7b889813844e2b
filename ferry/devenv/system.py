"""Ferry deployed the way a team would run it, on loopback: what the demo, its tests and the benchmark run.

* a Prefect server (SQLite) with the ``ferry`` process work pool, every deployment
  of ``prefect.yaml`` registered by ``prefect --no-prompt deploy --all`` (schedules
  and triggers included) and a worker on the pool;
* ``ferry receive``: registry notifications → ``ferry.image.pushed``, forge push
  webhooks → ``ferry.source.pushed``;
* the registry (htpasswd; credentials in the Prefect ``Secret`` block ``argocd-acr``,
  the seed's ``secret:argocd/acr#acr``), notifying the receiver;
* the source repo, whose ``post-receive`` hook announces pushes to the receiver,
  and the deploy repo with the seed's chart; the clusters are handed in.

Nothing here calls a flow: every stage runs as a deployment run, started by its
trigger (or, for the initial installation, by :meth:`System.run_deployment`, as
an operator would from the UI). Every process is recorded in the
:class:`~ferry.devenv.services.ServiceBook` the moment it starts, so whoever
brought the system up can stop all of it by PID, even after a failure half way.
"""

from __future__ import annotations

import fnmatch
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ferry.ci.hook import install_post_receive
from ferry.devenv.postgres import start_server
from ferry.devenv.prefect_api import FINAL_STATES, PrefectApi, parse_time
from ferry.devenv.registry import notification_config, start_registry
from ferry.devenv.seed import (
    IMAGES,
    MAIN_JOB_PLACES,
    create_deploy_repo,
    release_section,
    require_controllers,
    write_seed,
)
from ferry.devenv.services import (
    Service,
    ServiceBook,
    spawn_service,
    start_receiver,
    stop_pid,
)
from ferry.devenv.source import SourceRepo, build_rule, create_source_repo
from ferry.errors import ToolError
from ferry.sandbox.state import Sandbox

PROJECT_DIR = Path(__file__).resolve().parents[2]
POOL = "ferry"
REGISTRY_USER = "ferry-demo"
SECRET_BLOCK = "argocd-acr"  # noqa: S105 - the name of the block, not its value
#: The main job's Applications by the cluster each runs on: Production has two (its waves' regions).
APPS = {place: f"app-helm-{place}" for place in MAIN_JOB_PLACES}


@dataclass(frozen=True, slots=True)
class WorkerTuning:
    """How often the worker asks the server for runs. Prefect's default is every 10 s."""

    query_seconds: float = 10.0

    def env(self) -> dict[str, str]:
        return {"PREFECT_WORKER_QUERY_SECONDS": str(self.query_seconds)}


PREFECT_DEFAULTS = WorkerTuning()
#: A run a trigger created waits at most a second for the worker. The cost is one small API call a second.
TUNED = WorkerTuning(query_seconds=1.0)


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


@dataclass
class System:
    """The running system: where everything is, and the book that stops it."""

    root: Path
    book: ServiceBook
    api_url: str
    env: dict[str, str]
    config: Path | None = None
    source: SourceRepo | None = None
    deploy_repo: Path | None = None
    registry_host: str = ""
    registry_url: str = ""
    #: Only in memory: the flows read the password from the ``argocd-acr`` Secret block.
    registry_auth: tuple[str, str] | None = field(default=None, repr=False)
    receiver_url: str = ""
    tuning: WorkerTuning = TUNED
    worker: Service | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/api")

    def api(self) -> PrefectApi:
        return PrefectApi(self.api_url)

    def run_link(self, run_id: str) -> str:
        return f"{self.ui_url}/runs/flow-run/{run_id}"

    def start_worker(self, tuning: WorkerTuning | None = None, name: str = "ferry-worker") -> Service:
        """Start a process worker on the pool (stopping the one this system runs, if any)."""
        self.stop_worker()
        self.tuning = tuning or self.tuning
        self.worker = self.add_worker(name, service="prefect-worker", log="worker.log")
        return self.worker

    def add_worker(self, name: str, *, service: str = "", log: str = "", limit: int | None = None) -> Service:
        """One more process worker ``name`` (booked as ``service``, output in ``logs/<log>``), once it polls.

        ``limit`` caps its runs at once: else the first worker to poll takes every run due, spread ones too.
        """
        env = {**self.env, **self.tuning.env()}
        argv = [_bin("prefect"), "worker", "start", "--pool", POOL, "--type", "process", "--name", name]
        if limit is not None:
            argv += ["--limit", str(limit)]
        logs = self.root / "logs" / (log or f"worker-{name}.log")
        process = spawn_service(argv, logs, env=env, cwd=PROJECT_DIR)
        # A process worker ignores the first two SIGTERMs: its group is killed outright.
        worker = Service(service or f"prefect-worker-{name}", process.pid, "", kill=True)
        self.book.add(worker)
        with self.api() as api:
            api.wait(lambda: self._polled(api, name), 120, f"worker {name} to poll the {POOL} pool")
        return worker

    @staticmethod
    def _polled(api: PrefectApi, name: str) -> dict[str, Any] | None:
        return next(
            (w for w in api.workers(POOL) if w["name"] == name and w.get("last_heartbeat_time")), None
        )

    def stop_worker(self) -> None:
        if self.worker is not None:
            stop_pid(self.worker.pid, kill=True)
            self.worker = None

    # -- runs ----------------------------------------------------------------------------------

    def run_deployment(
        self, name: str, parameters: dict[str, Any] | None = None, timeout: float = 600
    ) -> dict[str, Any]:
        """Start a run of deployment ``name`` (as the UI's "Run" does) and wait for it to finish."""
        with self.api() as api:
            created = api.create_flow_run(api.deployment(name)["id"], parameters)
            return api.wait_final(created["id"], timeout)

    def wait_for_run(
        self,
        deployment: str,
        done: Callable[[dict[str, Any]], bool],
        *,
        after: float,
        timeout: float,
        what: str,
    ) -> dict[str, Any]:
        """A run of ``deployment`` that started after ``after`` (epoch s) and for which ``done`` holds.

        Started, not created: a scheduled run created long ago may be the one that picks the work up.
        """
        with self.api() as api:
            deployment_id = api.deployment(deployment)["id"]

            def found() -> dict[str, Any] | None:
                for run in api.flow_runs(deployment_id=deployment_id):
                    started = parse_time(run.get("start_time"))
                    if started is not None and started >= after and done(run):
                        return run
                return None

            try:
                return api.wait(found, timeout, what)
            except ToolError as exc:
                # A chain that stalls says where: every run since ``after``, so a CI log alone shows
                # which stage never started, waited for a slot, or failed.
                raise ToolError(f"{exc}\n{self.runs_since(after)}") from exc

    def runs_since(self, after: float) -> str:
        """One line per flow run started or created since ``after``: deployment, name, state, message."""
        with self.api() as api:
            names = {d["id"]: d["name"] for d in api.deployments()}
            lines = []
            for run in api.flow_runs():
                when = parse_time(run.get("start_time")) or parse_time(run.get("created")) or 0
                if when < after:
                    continue
                state = run.get("state") or {}
                message = (state.get("message") or "").replace("\n", " ")[:160]
                deployment = names.get(run.get("deployment_id") or "", "-")
                lines.append(f"  {deployment:<18} {run['name']:<40} {run['state_name']:<22} {message}")
        return "runs since then:\n" + ("\n".join(lines) if lines else "  (none)")

    def wait_for_gate(self, pattern: str, *, after: float = 0.0, timeout: float = 600) -> dict[str, Any]:
        """The ``release`` run that is paused at a gate whose key matches the glob ``pattern``."""

        def paused_there_or_ended(run: dict[str, Any]) -> bool:
            state = run.get("state") or {}
            key = (state.get("state_details") or {}).get("pause_key") or ""
            paused = run["state_type"] == "PAUSED" and fnmatch.fnmatchcase(key, pattern)
            return paused or run["state_type"] in FINAL_STATES

        run = self.wait_for_run(
            "release",
            paused_there_or_ended,
            after=after,
            timeout=timeout,
            what=f"a release run paused at {pattern}",
        )
        if run["state_type"] in FINAL_STATES:
            # It will never pause there: say so now, with why, instead of waiting out the timeout.
            message = (run.get("state") or {}).get("message") or ""
            raise ToolError(
                f"release run {run['name']!r} ended {run['state_name']} before gate {pattern}: {message}\n"
                f"{self.runs_since(after)}"
            )
        return run

    def stop(self) -> list[str]:
        return self.book.stop_all()


def _prefect_cli(system: System, *args: str, timeout: float = 600) -> str:
    log = system.root / "logs" / "prefect-cli.log"
    done = subprocess.run(
        [_bin("prefect"), *args],
        cwd=PROJECT_DIR,
        env=system.env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    with log.open("a") as out:
        out.write(f"$ prefect {' '.join(args)}\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        raise ToolError(
            f"prefect {' '.join(args)} failed ({done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}"
        )
    return done.stdout


def bring_up(
    root: Path,
    sandbox: Sandbox,
    *,
    also: Sequence[Sandbox] = (),
    tuning: WorkerTuning = TUNED,
    database: str = "sqlite",
    step: Callable[[str], None] = lambda _: None,
) -> System:
    """Start the deployed system under ``root`` against the clusters of ``sandbox`` and ``also``
    (together, one for each of :data:`~ferry.devenv.seed.MAIN_JOB_PLACES`).

    The caller owns the result: on an exception part of it may be running, and
    ``ServiceBook(root).stop_all()`` stops it. ``database``: see :func:`start_server`.

    Raises:
        ToolError: No Argo Rollouts controller runs where the seed needs one (nothing is started then).
    """
    require_controllers((sandbox, *also))
    root.mkdir(parents=True, exist_ok=True)
    (root / "logs").mkdir(exist_ok=True)
    book = ServiceBook(root)

    step(f"Prefect server ({'PostgreSQL' if database == 'postgres' else 'SQLite'})")
    api_url, env = start_server(root, book, database)
    system = System(root, book, api_url, env, tuning=tuning)

    step("ferry receive: registry notifications and source pushes → Prefect events")
    token, secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    system.receiver_url = start_receiver(root / "logs", book, system.env, _bin("ferry"), (token, secret))

    step("Registry (CNCF Distribution, htpasswd), notifying ferry receive")
    password = secrets.token_urlsafe(16)
    registry = start_registry(
        root / "registry",
        auth=(REGISTRY_USER, password),
        extra_config=notification_config(f"{system.receiver_url}/notifications", token),
    )
    book.add(Service("registry", registry.pid, registry.url))
    system.registry_host, system.registry_url = registry.host, registry.url
    system.registry_auth = registry.auth
    with system.api() as api:
        api.create_secret_block(SECRET_BLOCK, {"acr": f"{REGISTRY_USER}:{password}"})

    step("Source repo (post-receive hook → ferry receive), deploy repo, the seed's Applications")
    source = create_source_repo(root / "git" / "echo-server.git")
    install_post_receive(source.bare, f"{system.receiver_url}/source", secret)
    credentials = f"secret:{SECRET_BLOCK.replace('-', '/', 1)}#acr"
    rules = [
        {
            **build_rule(source.url, registry.host, name=alias),
            "image": f"{registry.host}/{repository}",
            "credentials": credentials,
        }
        for alias, (repository, _) in IMAGES.items()
    ]
    bare = root / "git" / "gitops-demo.git"
    clusters = [
        {"name": c.name, "server": c.server, "kubeconfig": str(s.kubeconfig), "context": c.context}
        for s in (sandbox, *also)
        for c in s.clusters
    ]
    layout = write_seed(
        root / "config",
        repo_url=bare.resolve().as_uri(),
        registry_prefix=registry.host,
        registry_api=registry.url,
        registry_credentials=credentials,
        clusters=clusters,
        places=MAIN_JOB_PLACES,
        builds=rules,
        releases=[release_section()],
    )
    # The deploy repo starts at the tag release-v1 of the current source commit builds to.
    create_deploy_repo(bare, registry.host, initial_tag=f"v1-{source.head()[:6]}")
    system.config, system.source, system.deploy_repo = layout.config, source, bare
    env["FERRY_CONFIG"] = str(layout.config)

    step("Work pool 'ferry' (process) and every deployment of prefect.yaml")
    _prefect_cli(system, "work-pool", "create", POOL, "--type", "process", "--overwrite")
    _prefect_cli(system, "--no-prompt", "deploy", "--all")

    step(f"Worker on the pool (PREFECT_WORKER_QUERY_SECONDS={tuning.query_seconds:g})")
    system.start_worker(tuning)
    return system


def install_v1(system: System, timeout: float = 600) -> str:
    """The demo's starting point, made by deployment runs: ``release-v1`` built, v1 in every environment.

    Returns the v1 tag.
    """
    assert system.source is not None
    pushed_at = time.time()
    sha = system.source.release("v1")
    tag = f"v1-{sha[:6]}"
    system.wait_for_run(
        "ci-build",
        lambda run: run["state_type"] in FINAL_STATES and tag in str((run.get("state") or {}).get("message")),
        after=pushed_at - 1,
        timeout=timeout,
        what=f"ci-build to push {tag}",
    )
    runs = [system.run_deployment("sync-dev", timeout=timeout)]
    runs += [
        system.run_deployment("sync", {"app": APPS[place]}, timeout=timeout)
        for place in APPS
        if place != "dev"
    ]
    failed = [
        f"{r['name']}: {r['state_type']} {(r.get('state') or {}).get('message')}"
        for r in runs
        if r["state_type"] != "COMPLETED"
    ]
    if failed:
        raise ToolError("installing v1 failed: " + "; ".join(failed))
    return tag


def push_release(system: System, version: str) -> tuple[str, float]:
    """A developer's ``git commit`` and ``git push origin HEAD:release-<version>``: (commit, end of push)."""
    assert system.source is not None
    system.source.commit({"VERSION": f"{version}\n"}, f"echo server {version}")
    sha = system.source.release(version)
    return sha, time.time()
