"""A ``kubernetes`` work pool (prefect-kubernetes) with a real worker, on the session's ``dev`` cluster.

What runs for real: the session's Prefect server, ``prefect work-pool create --type kubernetes``
with the default base job template, ``prefect deploy`` of ``flows/image_update.py:image_update``
from a ``prefect.yaml`` (no build, no push: the image is only a name on a loopback registry),
``prefect worker start --type kubernetes``, and the cluster's kube-apiserver, Job controller and
scheduler. kwok plays the kubelet: it never pulls the image or starts a container, and moves the
pod Pending → Running → Succeeded (exit code 0) at once, as its default stages say for a Job's pod.

So the tests hold the worker to what it hands the cluster (the Job) and to what Prefect records
while nothing runs the flow: the run stays Pending (``InfrastructurePending``) with the Job as
its infrastructure pid, although Kubernetes reports the Job Complete. README, "Beyond one
machine", shows this Job and what a real cluster adds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s_client

from ferry.devenv.prefect_api import PrefectApi
from ferry.devenv.services import spawn_service, stop_pid
from ferry.sandbox.api import AdminApi
from ferry.sandbox.kubeconfig import write_kubeconfig
from ferry.sandbox.processes import log_tail
from tests.fixtures.clusters import LiveSandbox
from tests.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

PROJECT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))
POOL = "ferry-k8s-test"
DEPLOYMENT = "image-updater-k8s"
WORKER = "ferry-k8s-worker"
FLOW_ENTRYPOINT = "flows/image_update.py:image_update"
# A name only: kwok never pulls, and no registry listens on this port.
IMAGE = "127.0.0.1:5000/ferry/flows:k8s-test"
# Where the image would hold the repo and ferry.yaml: the run's pull step and parameter point there.
IMAGE_PROJECT_DIR = "/opt/ferry"
IMAGE_CONFIG = "/etc/ferry/ferry.yaml"
FINISHED_JOB_TTL = 600
# The session's clusters are shared with every other test: a namespace of this module's own.
NAMESPACE = f"ferry-flows-{uuid.uuid4().hex[:6]}"
POD_EVENTS = [f"prefect.kubernetes.pod.{phase}" for phase in ("pending", "running", "succeeded")]
JOBS = f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs"
PODS = f"/api/v1/namespaces/{NAMESPACE}/pods"


@dataclass
class Pool:
    """The pool, its deployment and its polling worker, with clients of the server and of ``dev``."""

    api: PrefectApi
    api_url: str
    deployment: dict[str, Any]
    #: Reads objects as the API server returns them (camelCase, as in a manifest).
    kube: AdminApi
    runs: list[str]
    worker_log: Path

    def run(self, job_variables: dict[str, Any] | None = None) -> dict[str, Any]:
        created = self.api.create_flow_run(self.deployment["id"], job_variables=job_variables)
        self.runs.append(created["id"])
        return created

    def listed(self, path: str, selector: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.kube.get(f"{path}?labelSelector={selector}")["items"]
        return items

    def job_of(self, run_id: str, timeout: float = 120) -> dict[str, Any]:
        """The Job the worker created for run ``run_id`` (found by the label the worker gives it)."""
        try:
            jobs = wait_for(
                lambda: self.listed(JOBS, f"prefect.io/flow-run-id={run_id}"),
                timeout,
                f"the worker's Job for flow run {run_id}",
            )
        except AssertionError as exc:
            # Why it made none (the cluster refused, a template error) is only in the worker's log.
            raise AssertionError(f"{exc}\nworker log:\n{log_tail(self.worker_log, 40)}") from None
        assert len(jobs) == 1, [j["metadata"]["name"] for j in jobs]
        return jobs[0]


def _prefect_env(api_url: str, home: Path) -> dict[str, str]:
    # Nothing of the caller's Prefect settings or kubeconfig: whatever the worker holds as a
    # PREFECT_* setting ends up in every Job's env, so the test sets each one itself.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and k != "KUBECONFIG"}
    return {
        **inherited,
        "PREFECT_API_URL": api_url,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PYTHONPATH": str(PROJECT),
    }


def _prefect(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([PREFECT, *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"prefect {' '.join(args)} ({done.returncode}):\n{done.stdout}{done.stderr}"
    return done.stdout


def _prefect_yaml() -> dict[str, Any]:
    """The deployment as a team would declare it (README, "Beyond one machine")."""
    return {
        "name": "ferry",
        "prefect-version": "3.9.1",
        "build": None,
        "push": None,
        "pull": [{"prefect.deployments.steps.set_working_directory": {"directory": IMAGE_PROJECT_DIR}}],
        "deployments": [
            {
                "name": DEPLOYMENT,
                "entrypoint": FLOW_ENTRYPOINT,
                "parameters": {"config": IMAGE_CONFIG},
                "work_pool": {
                    "name": POOL,
                    "job_variables": {
                        "image": IMAGE,
                        "namespace": NAMESPACE,
                        "env": {"PREFECT_LOGGING_EXTRA_LOGGERS": "ferry"},
                    },
                },
            }
        ],
    }


@pytest.fixture(scope="module")
def pool(
    tmp_path_factory: pytest.TempPathFactory,
    sandbox: LiveSandbox,
    kube_client: Callable[[str], k8s_client.ApiClient],
    prefect_harness: str,
) -> Iterator[Pool]:
    """Namespace, pool, deployment and a polling worker; all of it removed again, newest first."""
    root = tmp_path_factory.mktemp("k8s-pool")
    dev = sandbox.cluster("dev")
    core = k8s_client.CoreV1Api(kube_client("dev"))
    env = _prefect_env(prefect_harness, root / "prefect-home")
    with PrefectApi(prefect_harness) as api, dev.admin_api() as kube, ExitStack() as undo:
        core.create_namespace(k8s_client.V1Namespace(metadata=k8s_client.V1ObjectMeta(name=NAMESPACE)))
        undo.callback(core.delete_namespace, NAMESPACE)

        # The CLI an operator uses: the default template, its defaults changed, the pool made from it.
        template_file = root / "kubernetes-template.json"
        kind = ("--type", "kubernetes")
        _prefect(env, "work-pool", "get-default-base-job-template", *kind, "-f", str(template_file))
        template = json.loads(template_file.read_text())
        defaults = template["variables"]["properties"]
        defaults["namespace"]["default"] = NAMESPACE
        defaults["image"]["default"] = IMAGE
        defaults["finished_job_ttl"]["default"] = FINISHED_JOB_TTL
        template_file.write_text(json.dumps(template, indent=2))
        _prefect(env, "work-pool", "create", POOL, *kind, "--base-job-template", str(template_file))
        undo.callback(api.delete_work_pool, POOL)

        prefect_file = root / "prefect.yaml"
        prefect_file.write_text(yaml.safe_dump(_prefect_yaml(), sort_keys=False))
        _prefect(env, "--no-prompt", "deploy", "--prefect-file", str(prefect_file), "--name", DEPLOYMENT)
        deployment = api.deployment(DEPLOYMENT)
        undo.callback(api.delete_deployment, deployment["id"])

        runs: list[str] = []

        def delete_runs() -> None:
            for run_id in runs:
                api.delete_flow_run(run_id)

        # Callbacks run newest first: the worker stops, then the runs go, then their deployment.
        undo.callback(delete_runs)

        # A kubeconfig with dev alone as its current context: the worker's client (and its observer's)
        # take the current context of $KUBECONFIG; the session's file has every cluster.
        kubeconfig = write_kubeconfig(root / "kubeconfig-dev", [dev.kubeconfig_entry()], "dev")
        worker_env = {**env, "KUBECONFIG": str(kubeconfig), "PREFECT_WORKER_QUERY_SECONDS": "1"}
        argv = [PREFECT, "worker", "start", "--pool", POOL, "--type", "kubernetes", "--name", WORKER]
        worker_log = root / "worker.log"
        worker = spawn_service(argv, worker_log, env=worker_env, cwd=root)
        # Its own session (spawn_service), so its group is its PID; SIGKILL, as for every Prefect worker
        # here: a worker ignores the first two SIGTERMs.
        undo.callback(stop_pid, worker.pid, kill=True)
        # The worker starts its pod observer before it first polls: once it polls, the observer watches.
        api.wait(
            lambda: next(
                (w for w in api.workers(POOL) if w["name"] == WORKER and w.get("last_heartbeat_time")), None
            ),
            120,
            f"worker {WORKER} to poll {POOL}",
        )
        yield Pool(api, prefect_harness, deployment, kube, runs, worker_log)


def _container(job: dict[str, Any]) -> dict[str, Any]:
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return dict(container)


def _env_of(job: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in _container(job)["env"]}


def test_the_worker_creates_the_runs_job_and_the_run_stays_pending_when_kwok_completes_the_pod(
    pool: Pool,
) -> None:
    work_pool = pool.api.work_pool(POOL)
    assert work_pool["type"] == "kubernetes"
    defaults = work_pool["base_job_template"]["variables"]["properties"]
    assert (defaults["namespace"]["default"], defaults["image"]["default"]) == (NAMESPACE, IMAGE)
    assert pool.deployment["entrypoint"] == FLOW_ENTRYPOINT
    assert pool.deployment["job_variables"]["image"] == IMAGE

    run = pool.run()
    job = pool.job_of(run["id"])
    name = job["metadata"]["name"]

    # The Job: named after the run, labelled with the run, its deployment, flow, pool and worker.
    labels = job["metadata"]["labels"]
    assert job["metadata"]["namespace"] == NAMESPACE
    assert job["metadata"]["generateName"] == f"{run['name']}-"
    assert labels["prefect.io/flow-run-id"] == run["id"]
    assert labels["prefect.io/flow-run-name"] == run["name"]
    assert labels["prefect.io/deployment-id"] == pool.deployment["id"]
    assert labels["prefect.io/deployment-name"] == DEPLOYMENT
    assert labels["prefect.io/flow-name"] == "image-update"
    assert labels["prefect.io/work-pool-name"] == POOL
    assert labels["prefect.io/worker-name"] == WORKER
    assert labels["app.kubernetes.io/managed-by"] == "prefect"
    pod_template = job["spec"]["template"]
    assert pod_template["metadata"]["labels"]["prefect.io/flow-run-id"] == run["id"], "copied onto the pod"
    # The template's defaults: no retry by Kubernetes, and the TTL the pool set.
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["ttlSecondsAfterFinished"] == FINISHED_JOB_TTL
    assert pod_template["spec"]["restartPolicy"] == "Never"
    assert "serviceAccountName" not in pod_template["spec"], "service_account_name is unset by default"

    # One container: the image as set, no command of its own (the image's entrypoint runs) and
    # the args `prefect flow-run execute`, which takes the run's id from the env.
    container = _container(job)
    assert container["name"] == "prefect-job"
    assert container["image"] == IMAGE
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert "command" not in container
    assert container["args"] == ["prefect", "flow-run", "execute"]
    env = _env_of(job)
    assert env["PREFECT__FLOW_RUN_ID"] == run["id"]
    assert env["PREFECT__DEPLOYMENT_NAME"] == DEPLOYMENT
    assert env["PREFECT__WORKER_NAME"] == WORKER
    # The worker's own API URL, loopback here: a pod of a real cluster could not reach it.
    assert env["PREFECT_API_URL"] == pool.api_url
    assert env["PREFECT_LOGGING_EXTRA_LOGGERS"] == "ferry", "the deployment's job_variables env"
    # backoffLimit 0: a flow run whose pod gets SIGTERM (evicted) asks to be scheduled again.
    assert env["PREFECT_FLOW_RUN_EXECUTE_SIGTERM_BEHAVIOR"] == "reschedule"
    # The worker's other PREFECT_* settings come along too, its local PREFECT_HOME among them.
    assert "PREFECT_HOME" in env and "PREFECT_WORKER_QUERY_SECONDS" in env

    # The Job controller made its one pod, the scheduler put it on kwok's node, and kwok "ran" it.
    pods = wait_for(lambda: pool.listed(PODS, f"job-name={name}"), 60, "the Job's pod")
    assert len(pods) == 1
    (owner,) = pods[0]["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Job", name, job["metadata"]["uid"])
    assert owner["controller"] is True
    pod_path = f"{PODS}/{pods[0]['metadata']['name']}"
    pod = pool.kube.wait_for(
        pod_path,
        lambda pod: pod["status"].get("phase") in ("Succeeded", "Failed"),
        timeout=60,
        what="kwok to finish the pod",
    )
    assert pod["spec"]["nodeName"] == "kwok-node-0"
    assert pod["spec"]["serviceAccountName"] == "default", "the namespace's, filled in on admission"
    assert pod["status"]["phase"] == "Succeeded"
    (status,) = pod["status"]["containerStatuses"]
    terminated = status["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")
    assert status["imageID"] == "", "no image was pulled"
    done = pool.kube.wait_for(
        f"{JOBS}/{name}",
        lambda job: job["status"].get("succeeded") == 1,
        timeout=60,
        what="the Job controller to count the pod",
    )
    assert {c["type"] for c in done["status"]["conditions"] if c["status"] == "True"} >= {"Complete"}

    # Prefect: the Job is the run's infrastructure; the observer saw the pod Pending and said so,
    # and nothing ever ran the flow, so the run is neither Running nor Completed with the Job.
    def pending_on_the_job() -> dict[str, Any] | None:
        found = pool.api.flow_run(run["id"])
        ready = found.get("infrastructure_pid") and found["state_name"] == "InfrastructurePending"
        return found if ready else None

    flow_run = pool.api.wait(pending_on_the_job, 60, "the run's infrastructure pid and InfrastructurePending")
    assert flow_run["infrastructure_pid"] == f"{NAMESPACE}:{name}"
    assert flow_run["state_type"] == "PENDING"
    assert flow_run["state"]["message"] == "Kubernetes pod is pending."
    assert flow_run["start_time"] is None
    states = pool.api.states(run["id"])
    assert list(states) == ["Scheduled", "Pending", "Submitting", "InfrastructurePending"]

    # Each phase kwok wrote, replicated by the worker's observer as an event of the pod and the run.
    pod_resource = f"prefect.kubernetes.pod.{pod['metadata']['uid']}"

    def pod_events() -> dict[str, dict[str, Any]] | None:
        since = states["Scheduled"] - 5
        found = {
            e["event"]: e
            for e in pool.api.events(POD_EVENTS, since)
            if e["resource"]["prefect.resource.id"] == pod_resource
        }
        return found if set(found) == set(POD_EVENTS) else None

    events = pool.api.wait(pod_events, 60, "the observer's pod events")
    for event in events.values():
        related = {r["prefect.resource.id"] for r in event["related"]}
        assert {f"prefect.flow-run.{run['id']}", f"prefect.deployment.{pool.deployment['id']}"} <= related


def test_a_runs_job_variables_give_its_pod_an_api_url_of_its_own(pool: Pool) -> None:
    # What a real cluster needs: the pods reach the server by an in-cluster name, not the worker's URL.
    in_cluster = "http://prefect-server.prefect.svc.cluster.local:4200/api"
    run = pool.run(job_variables={"env": {"PREFECT_API_URL": in_cluster}})
    env = _env_of(pool.job_of(run["id"]))
    assert env["PREFECT_API_URL"] == in_cluster
    assert env["PREFECT__FLOW_RUN_ID"] == run["id"]
    assert env["PREFECT_LOGGING_EXTRA_LOGGERS"] == "ferry", "merged with the deployment's env, not replaced"
