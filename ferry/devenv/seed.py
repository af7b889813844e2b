"""The seed scenario, laid out for real: a Helm chart in a bare deploy repo and its three Applications.

The layout is the seed's: ``manifests/helm/echo-server`` with ``values.yaml``
and ``values-{dev,staging,production}.yaml``; Applications ``app-helm-dev``
(automated), ``app-helm-staging`` and ``app-helm-production`` annotated for
Image Updater exactly as the seed shows, with the registry host replaced by the
local one. The main job adds Production's second region, ``app-helm-production-2``
on its own cluster (:data:`MAIN_JOB_PLACES`), and releases Production as two waves.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from ferry.devenv.rollout_chart import PAUSED_STEPS
from ferry.errors import ConfigError, ToolError
from ferry.sandbox import rollouts
from ferry.sandbox.state import Sandbox

CHART_PATH = "manifests/helm/echo-server"
ENVIRONMENTS = ("dev", "staging", "production")
IMAGES = {
    "echoserver": ("cidemo/echo-server", "echoServer"),
    "webserver": ("cidemo/echo-web-server", "echoWebServer"),
}
UPDATER = "argocd-image-updater.argoproj.io/"

# A validation Job for Dev; kwok's pod stages run it to success.
SMOKE_JOB: dict[str, object] = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "smoke"},
    "spec": {
        "backoffLimit": 0,
        "template": {
            "spec": {"restartPolicy": "Never", "containers": [{"name": "smoke", "image": "busybox"}]}
        },
    },
}

_DEPLOYMENT = """{kind}
metadata:
  name: {name}
  labels:
    app.kubernetes.io/name: {name}
    app.kubernetes.io/instance: {{{{ .Release.Name }}}}
spec:
  replicas: {{{{ .Values.replicaCount }}}}
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {name}
    spec:
      containers:
        - name: {name}
          image: "{{{{ .Values.image.{key}.repository }}}}:{{{{ .Values.image.{key}.tag }}}}"
          ports:
            - containerPort: 8080{strategy}
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector:
    app.kubernetes.io/name: {name}
  ports:
    - port: 80
      targetPort: 8080
"""
_PLAIN_KIND = "apiVersion: apps/v1\nkind: Deployment"
# The echo server is a Rollout where the values carry ``rollout`` (Production), else the same Deployment.
# The conditionals sit inside lines, and the strategy block trims itself away, so an environment without
# ``rollout`` renders exactly the bytes of the plain Deployment.
_SWITCHED_KIND = (
    "apiVersion: {{ if .Values.rollout }}argoproj.io/v1alpha1{{ else }}apps/v1{{ end }}\n"
    "kind: {{ if .Values.rollout }}Rollout{{ else }}Deployment{{ end }}"
)
_ROLLOUT_STRATEGY = """
{{- with .Values.rollout }}
  strategy:
    canary:
      steps:
{{ toYaml .steps | indent 8 }}
{{- end }}"""
#: The Rollout Production runs the echo server as; the release's Argo canary drives it.
PRODUCTION_ROLLOUT = "echo-server"
#: Where the seed's Applications run: a cluster (named after its environment) → that environment, whose
#: values file and namespace its Application ``app-helm-<cluster>`` takes. The three of the seed.
PLACES: dict[str, str] = {env: env for env in ENVIRONMENTS}
#: The main job's: Production in two regions, each an Application on its own cluster.
MAIN_JOB_PLACES: dict[str, str] = {**PLACES, "production-2": "production"}
#: Production's waves in the main job, in order: (region, the Application released in it).
PRODUCTION_WAVES = (("cn-hangzhou", "app-helm-production"), ("cn-beijing", "app-helm-production-2"))
#: The clusters whose sandbox must run the Argo Rollouts controller: the seed's Production is a Rollout,
#: which nothing else would ever roll out. Pass it as ``sandbox.up(..., argo_rollouts=ROLLOUT_CLUSTERS)``.
ROLLOUT_CLUSTERS = tuple(place for place, env in MAIN_JOB_PLACES.items() if env == "production")


def workload(place: str, name: str) -> tuple[str, str]:
    """The apiVersion and kind the seed chart renders workload ``name`` as on cluster ``place``.

    >>> workload("production-2", "echo-server"), workload("staging", "echo-server")
    (('argoproj.io/v1alpha1', 'Rollout'), ('apps/v1', 'Deployment'))
    """
    if MAIN_JOB_PLACES.get(place) == "production" and name == PRODUCTION_ROLLOUT:
        return "argoproj.io/v1alpha1", "Rollout"
    return "apps/v1", "Deployment"


def require_controllers(sandboxes: Sequence[Sandbox], places: Sequence[str] = ROLLOUT_CLUSTERS) -> None:
    """Refuse sandboxes without the Argo Rollouts controller where the seed needs it, before anything starts:
    without it Production's Rollout never progresses, and installing v1 would only time out.

    ``places`` may be in any of ``sandboxes`` (the tests start Production's second region on its own).
    """
    missing = [name for name in places if not any(_controller_runs(s, name) for s in sandboxes)]
    if missing:
        raise ToolError(
            f"the seed's {', '.join(missing)} runs an Argo Rollout, but the sandbox runs no Argo Rollouts "
            f"controller there: start it with up(..., argo_rollouts={ROLLOUT_CLUSTERS!r}) "
            f"(ferry sandbox up {' '.join(f'-n {n}' for n in MAIN_JOB_PLACES)} "
            f"--with argo-rollouts={','.join(ROLLOUT_CLUSTERS)})"
        )


def _controller_runs(sandbox: Sandbox, name: str) -> bool:
    try:
        return bool(sandbox.cluster(name).running().get(rollouts.COMPONENT, False))
    except ConfigError:  # not this sandbox's cluster
        return False


def _git(cwd: Path, *args: str) -> str:
    env_args = [
        "-c",
        "user.name=Ferry Demo",
        "-c",
        "user.email=demo@ferry.local",
        "-c",
        "init.defaultBranch=main",
    ]
    return subprocess.run(
        ["git", *env_args, *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def chart_files(registry_prefix: str, initial_tag: str = "v1.0") -> dict[str, str]:
    """The seed chart's files, keyed by repo path."""
    values = {
        "replicaCount": 1,
        "image": {
            key: {"repository": f"{registry_prefix}/{repo}", "tag": initial_tag}
            for repo, key in IMAGES.values()
        },
    }
    files = {
        f"{CHART_PATH}/Chart.yaml": 'apiVersion: v2\nname: echo-server\nversion: 0.1.0\nappVersion: "1.0"\n',
        f"{CHART_PATH}/values.yaml": "# Defaults shared by every environment.\n"
        + yaml.safe_dump(values, sort_keys=False),
        f"{CHART_PATH}/templates/echo-server.yaml": _DEPLOYMENT.format(
            name=PRODUCTION_ROLLOUT, key="echoServer", kind=_SWITCHED_KIND, strategy=_ROLLOUT_STRATEGY
        ),
        f"{CHART_PATH}/templates/echo-web-server.yaml": _DEPLOYMENT.format(
            name="echo-web-server", key="echoWebServer", kind=_PLAIN_KIND, strategy=""
        ),
    }
    for env, replicas in zip(ENVIRONMENTS, (1, 2, 3), strict=True):
        files[f"{CHART_PATH}/values-{env}.yaml"] = f"# {env} overrides\nreplicaCount: {replicas}\n"
    files[f"{CHART_PATH}/values-production.yaml"] += (
        "# The echo server is an Argo Rollout: the controller pauses after each weight, Ferry gates it.\n"
        + yaml.safe_dump({"rollout": {"steps": [dict(step) for step in PAUSED_STEPS]}}, sort_keys=False)
    )
    return files


def create_repo(bare: Path, files: dict[str, str], branch: str = "main", message: str = "initial") -> str:
    """Create a bare repo at ``bare`` whose ``branch`` holds ``files``; return its file:// URL."""
    bare.mkdir(parents=True, exist_ok=True)
    _git(bare, "init", "--bare", "--quiet")
    work = bare.with_name(bare.name + ".seed-work")
    work.mkdir(parents=True, exist_ok=True)
    _git(work, "init", "--quiet")
    for rel, text in files.items():
        path = work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    _git(work, "add", "-A")
    _git(work, "commit", "--quiet", "-m", message)
    url = bare.resolve().as_uri()
    _git(work, "push", "--quiet", url, f"HEAD:refs/heads/{branch}")
    _git(bare, "symbolic-ref", "HEAD", f"refs/heads/{branch}")
    return url


def create_deploy_repo(
    bare: Path, registry_prefix: str, branch: str = "main", initial_tag: str = "v1.0"
) -> str:
    """Create a bare deploy repo at ``bare`` holding the seed chart on ``branch``; return its file:// URL."""
    return create_repo(bare, chart_files(registry_prefix, initial_tag), branch, "seed: echo-server chart")


def application(
    env: str,
    repo_url: str,
    registry_prefix: str,
    server: str,
    *,
    revision: str = "main",
    strategy: str = "latest",
    name: str = "",
) -> dict[str, object]:
    """One of the seed's Applications, as a manifest mapping: ``app-helm-<env>`` unless ``name`` says."""
    image_list = ",".join(f"{alias}={registry_prefix}/{repo}" for alias, (repo, _) in IMAGES.items())
    annotations = {UPDATER + "image-list": image_list}
    for alias, (_, key) in IMAGES.items():
        annotations[f"{UPDATER}{alias}.helm.image-name"] = f"image.{key}.repository"
        annotations[f"{UPDATER}{alias}.helm.image-tag"] = f"image.{key}.tag"
        annotations[f"{UPDATER}{alias}.update-strategy"] = strategy
    annotations[UPDATER + "write-back-method"] = "git"
    sync_policy: dict[str, object] = {"syncOptions": ["CreateNamespace=true"]}
    if env == "dev":
        sync_policy = {"automated": {}, **sync_policy}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name or f"app-helm-{env}", "annotations": annotations},
        "spec": {
            "destination": {"namespace": f"app-{env}", "server": server},
            "source": {
                "path": CHART_PATH,
                "repoURL": repo_url,
                "targetRevision": revision,
                "helm": {"valueFiles": [f"values-{env}.yaml"]},
            },
            "project": "default",
            "syncPolicy": sync_policy,
        },
    }


def release_section(name: str = "echo-server", gate_timeout: float = 24 * 3600) -> dict[str, object]:
    """The main job's release of the echo server: the smoke Job in Dev, Ferry's native canary in Staging
    (50 %, 100 %) and Production as two waves, one region each (:data:`PRODUCTION_WAVES`), where each
    region's Argo Rollout is carried out by its cluster's Argo Rollouts controller (25 %, 50 %).
    That is ten gates from Dev to Production (:data:`RELEASE_GATES`); it needs :data:`MAIN_JOB_PLACES`."""
    waves = [{"name": region, "apps": [app]} for region, app in PRODUCTION_WAVES]
    return {
        "name": name,
        "environments": {
            "dev": {"app": "app-helm-dev"},
            "staging": {"app": "app-helm-staging", "canary": {"provider": "native", "steps": [50, 100]}},
            "production": {"waves": waves, "canary": {"provider": "argo", "resource": PRODUCTION_ROLLOUT}},
        },
        "validation": [{"name": "smoke-job", "job": {"manifest": SMOKE_JOB}, "timeout": 60}],
        "gate_timeout": gate_timeout,
    }


#: Every gate of :func:`release_section`, in order, as globs over their keys (which carry the revision).
#: An Argo gate opens at each pause of the Rollout and is numbered by the pause's place among its steps
#: (``setWeight: 25``, ``pause``, ``setWeight: 50``, ``pause``): 2 and 4. The native canary counts its own.
#: A wave's gate comes before its apps' canary gates, which name the app; the twelve ``?`` are the short
#: SHA, so that ``app-helm-production``'s globs do not also match ``app-helm-production-2``'s keys.
RELEASE_GATES = (
    "verified-dev-*",
    "sync-staging-*",
    "canary-staging-*-step-1",
    "canary-staging-*-step-2",
    *(
        gate
        for number, (_, app) in enumerate(PRODUCTION_WAVES, 1)
        for gate in (
            f"sync-production-wave-{number}-*",
            f"canary-production-{app}-{'?' * 12}-step-2",
            f"canary-production-{app}-{'?' * 12}-step-4",
        )
    ),
)


@dataclass(frozen=True, slots=True)
class SeedLayout:
    """Where a written seed scenario lives."""

    config: Path
    applications: Path
    repo_url: str


def local_registry(prefix: str, api_url: str) -> dict[str, object]:
    """The ``registries:`` entry of the loopback registry: the default, over plain http."""
    return {"name": "local", "prefix": prefix, "api_url": api_url, "insecure": True, "default": True}


def write_seed(
    root: Path,
    *,
    repo_url: str,
    registry_prefix: str,
    registry_api: str,
    servers: dict[str, str] | None = None,
    places: Mapping[str, str] = PLACES,
    registry_credentials: str | None = None,
    clusters: Sequence[dict[str, str]] = (),
    builds: Sequence[dict[str, object]] = (),
    releases: Sequence[dict[str, object]] = (),
) -> SeedLayout:
    """Write ``ferry.yaml`` and the Applications of ``places`` (one multi-document file) under ``root``.

    ``clusters`` are ``ferry.yaml`` cluster entries named after the places
    (the sandbox's); each Application ``app-helm-<place>`` deploys to the
    cluster of its place, with its environment's values. ``builds`` are CI build rules.
    """
    by_name = {c["name"]: c["server"] for c in clusters}
    servers = servers or {place: by_name.get(place, f"https://127.0.0.1/{place}") for place in places}
    apps_dir = root / "applications"
    apps_dir.mkdir(parents=True, exist_ok=True)
    docs = [
        application(env, repo_url, registry_prefix, servers[place], name=f"app-helm-{place}")
        for place, env in places.items()
    ]
    (apps_dir / "echo-server.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    registry = local_registry(registry_prefix, registry_api)
    if registry_credentials:
        registry["credentials"] = registry_credentials
    config = {
        "applications": "applications",
        "registries": [registry],
        "repositories": [{"url": repo_url}],
        "cache_dir": ".ferry-cache",
    }
    if clusters:
        config["clusters"] = list(clusters)
    if builds:
        config["builds"] = list(builds)
    if releases:
        config["releases"] = list(releases)
    path = root / "ferry.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return SeedLayout(path, apps_dir, repo_url)
