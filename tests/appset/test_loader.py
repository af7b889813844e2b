"""ApplicationSets read beside the Applications: the seed's own, a RollingSync one, a git one, bad ones.

The seed's deploy repo (ivan-cai/gitops-demo) holds ``manifests/directory/appset/appset-demo.yaml``,
copied below as it is there: a clusters generator over every registered cluster but ``in-cluster``,
``goTemplate: true`` with ``missingkey=error``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ferry.argocd.application import load_applications, load_config_applications, load_manifests
from ferry.argocd.applicationset import config_clusters
from ferry.config import parse_config
from ferry.sync.engine import SyncEngine
from ferry.update.cycle import Updater
from tests.appset.helpers import MemoryTree

SEED_APPSET = """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: appset-echo-server-gitee
  namespace: argocd
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
    - clusters:
        selector:
          matchExpressions:
            - key: name
              operator: NotIn
              values:
                - in-cluster
  syncPolicy:
    preserveResourcesOnDeletion: true
  template:
    metadata:
      name: '{{.metadata.annotations.cluster_name}}-echoserver'
      namespace: argocd
    spec:
      project: "default"
      source:
        helm:
          parameters:
            - name: replicaCount
              value: "2"
          valueFiles:
            - values.yaml
        repoURL: https://github.com/AliyunContainerService/gitops-demo.git
        targetRevision: main
        path: manifests/helm/echo-server
      destination:
        server: '{{.server}}'
        namespace: demo
      syncPolicy:
        automated: {}
        syncOptions:
          - CreateNamespace=true"""

# As ACK One registers clusters: each cluster Secret carries its name in the cluster_name annotation.
FERRY_YAML = """\
applications: apps
clusters:
  - name: staging
    server: https://10.0.0.1:6443
    annotations: {cluster_name: staging}
  - name: production
    server: https://10.0.0.2:6443
    labels: {env: production}
    annotations: {cluster_name: production}
  - name: local
    server: https://10.0.0.3:6443
    labels: {name: in-cluster}
    annotations: {cluster_name: local}
"""


def _config(tmp_path: Path, text: str = FERRY_YAML):  # type: ignore[no-untyped-def]
    import yaml

    return parse_config(yaml.safe_load(text), source=str(tmp_path / "ferry.yaml"), base_dir=tmp_path)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / "apps").mkdir(exist_ok=True)
    (tmp_path / "apps" / name).write_text(text)
    return tmp_path / "apps"


def test_the_seeds_applicationset_expands_as_argo_cd_would(tmp_path: Path) -> None:
    _write(tmp_path, "appset-demo.yaml", SEED_APPSET)
    apps, errors = load_config_applications(_config(tmp_path))
    assert errors == []
    # The label name=in-cluster matches NotIn's values, so "local" is left out; no local in-cluster either,
    # since the selector is not empty.
    assert [a.name for a in apps] == ["staging-echoserver", "production-echoserver"]
    staging = apps[0]
    assert staging.metadata.namespace == "argocd"
    assert staging.spec.destination.server == "https://10.0.0.1:6443"
    assert staging.spec.destination.namespace == "demo"
    assert staging.source.path == "manifests/helm/echo-server"
    assert staging.source.target_revision == "main"
    assert staging.source.helm is not None
    assert staging.source.helm.value_files == ("values.yaml",)
    assert [(p.name, p.value) for p in staging.source.helm.parameters] == [("replicaCount", "2")]
    assert staging.is_automated
    assert staging.spec.sync_policy.option("CreateNamespace") == "true"
    assert staging.source_file.endswith("appset-demo.yaml")


def _argo_cd_generates(cluster: str, server: str) -> dict[str, object]:
    # What Argo CD's controller writes for one cluster: the template rendered, the ApplicationSet's
    # namespace, and no finalizer since the ApplicationSet preserves resources on deletion.
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": f"{cluster}-echoserver", "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {
                "helm": {
                    "parameters": [{"name": "replicaCount", "value": "2"}],
                    "valueFiles": ["values.yaml"],
                },
                "repoURL": "https://github.com/AliyunContainerService/gitops-demo.git",
                "targetRevision": "main",
                "path": "manifests/helm/echo-server",
            },
            "destination": {"server": server, "namespace": "demo"},
            "syncPolicy": {"automated": {}, "syncOptions": ["CreateNamespace=true"]},
        },
    }


def test_the_seeds_applicationset_documents_are_argo_cds(tmp_path: Path) -> None:
    directory = _write(tmp_path, "appset-demo.yaml", SEED_APPSET)
    config = _config(tmp_path)
    _, errors, appsets = load_manifests(directory, clusters=config_clusters(config))
    assert errors == []
    (appset,) = appsets
    assert appset.name == "appset-echo-server-gitee"
    assert appset.expansion.waves is None  # AllAtOnce
    assert list(appset.expansion.applications) == [
        _argo_cd_generates("staging", "https://10.0.0.1:6443"),
        _argo_cd_generates("production", "https://10.0.0.2:6443"),
    ]


def test_the_seeds_applicationset_with_a_cluster_lacking_the_annotation(tmp_path: Path) -> None:
    # missingkey=error: Argo CD refuses to render the template, and names the key.
    _write(tmp_path, "appset-demo.yaml", SEED_APPSET)
    config = _config(
        tmp_path, "applications: apps\nclusters:\n  - {name: bare, server: https://10.0.0.9:6443}\n"
    )
    apps, errors = load_config_applications(config)
    assert apps == []
    assert len(errors) == 1
    text = str(errors[0])
    assert "appset-demo.yaml" in text
    assert "ApplicationSet 'appset-echo-server-gitee'" in text
    assert 'map has no entry for key "annotations"' in text


ROLLING = """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: guestbook, namespace: argocd}
spec:
  generators:
    - list:
        elements:
          - {cluster: engineering-dev, url: https://1.2.3.4, env: env-dev}
          - {cluster: engineering-qa, url: https://2.4.6.8, env: env-qa}
          - {cluster: engineering-prod, url: https://9.8.7.6/, env: env-prod}
  strategy:
    type: RollingSync
    rollingSync:
      steps:
        - matchExpressions: [{key: envLabel, operator: In, values: [env-dev]}]
        - matchExpressions: [{key: envLabel, operator: In, values: [env-qa]}]
          maxUpdate: 0
        - matchExpressions: [{key: envLabel, operator: In, values: [env-prod]}]
          maxUpdate: 10%
  goTemplate: false
  template:
    metadata:
      name: '{{cluster}}-guestbook'
      labels: {envLabel: '{{env}}'}
    spec:
      project: default
      source:
        repoURL: https://github.com/infra-team/cluster-deployments.git
        targetRevision: HEAD
        path: guestbook/{{cluster}}
      destination: {server: '{{url}}', namespace: guestbook}
      syncPolicy: {automated: {prune: true}}
"""


def test_a_rolling_sync_applicationset_becomes_waves(tmp_path: Path) -> None:
    # The Progressive Syncs docs' example (its maxUpdate 0 is refused, so it is 1 here).
    directory = _write(tmp_path, "guestbook.yaml", ROLLING.replace("maxUpdate: 0", "maxUpdate: 1"))
    apps, errors, appsets = load_manifests(directory)
    assert errors == []
    assert [a.name for a in apps] == [
        "engineering-dev-guestbook",
        "engineering-qa-guestbook",
        "engineering-prod-guestbook",
    ]
    assert [a.metadata.labels["envLabel"] for a in apps] == ["env-dev", "env-qa", "env-prod"]
    # Argo CD turns automated sync off on RollingSync's Applications: the steps sync them.
    assert not any(a.is_automated for a in apps)
    assert apps[2].spec.destination.server == "https://9.8.7.6/"
    (appset,) = appsets
    plan = appset.expansion.waves
    assert plan is not None
    assert [(w.step, w.applications, w.max_parallel) for w in plan.waves] == [
        (1, ("engineering-dev-guestbook",), 1),
        (2, ("engineering-qa-guestbook",), 1),
        (3, ("engineering-prod-guestbook",), 1),
    ]
    # the generated documents keep Argo CD's finalizer (no preserveResourcesOnDeletion)
    assert appset.expansion.applications[0]["metadata"]["finalizers"] == [
        "resources-finalizer.argocd.argoproj.io"
    ]


def test_a_bad_applicationset_names_the_file_and_the_field(tmp_path: Path) -> None:
    directory = _write(tmp_path, "guestbook.yaml", ROLLING)
    _write(
        tmp_path,
        "plain.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: plain}\n"
        "spec: {source: {repoURL: 'file:///r.git', path: x}}\n",
    )
    apps, errors = load_applications(directory)
    assert [a.name for a in apps] == ["plain"]  # one bad file hides nothing else
    (error,) = errors
    assert str(error).startswith(str(directory / "guestbook.yaml"))
    assert "spec.strategy.rollingSync.steps[1].maxUpdate must be at least 1" in str(error)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("- list:", "- scmProvider: {}\n      list:"),
            "spec.generators[0].scmProvider: the scmProvider generator is not supported",
        ),
        (("goTemplate: false", "goTemplate: true"), "function 'cluster' is not supported"),
        (
            ("goTemplate: false", "goTemplate: false\n  templatePatch: 'x'"),
            "spec.templatePatch is not supported",
        ),
        (
            ("name: '{{cluster}}-guestbook'", "name: 'guestbook'"),
            "two parameter sets generate the Application 'guestbook'",
        ),
    ],
    ids=["unsupported generator", "fasttemplate read as go", "templatePatch", "duplicate names"],
)
def test_refusals(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    text = ROLLING.replace("maxUpdate: 0", "maxUpdate: 1").replace(*change)
    _, errors = load_applications(_write(tmp_path, "guestbook.yaml", text))
    assert len(errors) == 1
    assert message in str(errors[0])


GIT_APPSET = """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: cluster-addons, namespace: argocd}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
    - matrix:
        generators:
          - git:
              repoURL: https://github.com/argoproj/argo-cd.git
              revision: HEAD
              directories:
                - path: addons/*
                - path: addons/exclude-this
                  exclude: true
          - list:
              elements:
                - {cluster: dev, url: https://10.0.0.1:6443}
  template:
    metadata:
      name: '{{ .cluster }}-{{ .path.basename | lower }}'
      labels: {ferry.io/wave: '{{ index .path.segments 0 }}'}
    spec:
      project: default
      source:
        {repoURL: https://github.com/argoproj/argo-cd.git, targetRevision: HEAD, path: '{{ .path.path }}'}
      destination: {server: '{{ .url }}', namespace: '{{ .path.basename | lower }}'}
"""


def test_the_git_generator_reads_the_checkout_holding_the_applicationset(tmp_path: Path) -> None:
    repo = tmp_path / "deploy"
    for addon in ("addons/Metrics", "addons/ingress", "addons/exclude-this", "other"):
        (repo / addon).mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "apps").mkdir()
    (repo / "apps/addons.yaml").write_text(GIT_APPSET)
    apps, errors = load_applications(repo / "apps")
    assert errors == []
    assert [(a.name, a.source.path, a.spec.destination.namespace) for a in apps] == [
        ("dev-metrics", "addons/Metrics", "metrics"),
        ("dev-ingress", "addons/ingress", "ingress"),
    ]
    assert apps[0].metadata.labels == {"ferry.io/wave": "addons"}


def test_the_git_generator_outside_a_checkout_is_an_error(tmp_path: Path) -> None:
    _, errors = load_applications(_write(tmp_path, "addons.yaml", GIT_APPSET))
    assert len(errors) == 1
    assert "needs the ApplicationSet to sit in a git checkout" in str(errors[0])


def test_a_tree_resolver_may_be_given(tmp_path: Path) -> None:
    tree = MemoryTree(dirs=["addons/a"])
    asked: list[tuple[str, str]] = []

    def trees(path: Path, url: str, revision: str) -> MemoryTree:
        asked.append((url, revision))
        return tree

    apps, errors = load_applications(_write(tmp_path, "addons.yaml", GIT_APPSET), trees=trees)
    assert errors == []
    assert [a.name for a in apps] == ["dev-a"]
    assert asked == [("https://github.com/argoproj/argo-cd.git", "HEAD")]


def test_the_sync_engine_and_the_updater_see_the_generated_applications(tmp_path: Path) -> None:
    _write(tmp_path, "appset-demo.yaml", SEED_APPSET)
    config = _config(tmp_path)
    with SyncEngine(config) as engine:
        assert [a.name for a in engine.applications()] == ["staging-echoserver", "production-echoserver"]
        # the generated destination.server resolves to the ferry.yaml cluster it came from
        assert engine.target("production-echoserver").entry.name == "production"
    with Updater(config) as updater:
        apps, errors = updater.applications()
    assert (errors, [a.name for a in apps]) == ([], ["staging-echoserver", "production-echoserver"])
