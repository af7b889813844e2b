"""Sync order (waves, kinds), namespaces, tracking marks and images of a plan."""

from __future__ import annotations

import pytest

from ferry.errors import ConfigError
from ferry.sync.plan import (
    APP_LABEL,
    TRACKING_ANNOTATION,
    container_images,
    is_tracked_by,
    namespace_to_create,
    prepare,
    waves,
)


def obj(kind: str, name: str, api: str = "v1", wave: str | None = None, namespace: str | None = None) -> dict:
    metadata: dict = {"name": name}
    if wave is not None:
        metadata["annotations"] = {"argocd.argoproj.io/sync-wave": wave}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": api, "kind": kind, "metadata": metadata}


CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole"}


def namespaced(api_version: str, kind: str) -> bool:
    return kind not in CLUSTER_SCOPED


@pytest.mark.parametrize(
    ("manifests", "order"),
    [
        (
            [
                obj("Deployment", "d", "apps/v1"),
                obj("Service", "s"),
                obj("Namespace", "n"),
                obj("ConfigMap", "c"),
            ],
            ["Namespace/n", "ConfigMap/c", "Service/s", "Deployment/d"],
        ),
        (
            [
                obj("Rollout", "r", "argoproj.io/v1alpha1"),
                obj("CustomResourceDefinition", "crd", "apiextensions.k8s.io/v1"),
                obj("Namespace", "n"),
            ],
            ["Namespace/n", "CustomResourceDefinition/crd", "Rollout/r"],
        ),
        (
            [
                obj("Namespace", "late", wave="1"),
                obj("Deployment", "early", "apps/v1", wave="-1"),
                obj("Service", "s"),
            ],
            ["Deployment/early", "Service/s", "Namespace/late"],
        ),
        ([obj("ConfigMap", "b"), obj("ConfigMap", "a")], ["ConfigMap/a", "ConfigMap/b"]),
    ],
    ids=[
        "kind order",
        "namespaces and CRDs before custom resources",
        "waves before kinds",
        "names break ties",
    ],
)
def test_sync_order(manifests: list[dict], order: list[str]) -> None:
    prepared = prepare(manifests, app="app", namespace="ns", namespaced=namespaced)
    assert [f"{m['kind']}/{m['metadata']['name']}" for m in prepared] == order


def test_waves_group_in_order() -> None:
    prepared = prepare(
        [obj("ConfigMap", "a", wave="2"), obj("ConfigMap", "b"), obj("ConfigMap", "c", wave="2")],
        app="app",
        namespace="ns",
        namespaced=namespaced,
    )
    assert [(wave, [m["metadata"]["name"] for m in group]) for wave, group in waves(prepared)] == [
        (0, ["b"]),
        (2, ["a", "c"]),
    ]


def test_prepare_fills_namespace_and_marks_tracking() -> None:
    [cm, role] = prepare(
        [obj("ConfigMap", "c"), obj("ClusterRole", "r", "rbac.authorization.k8s.io/v1", namespace="stray")],
        app="app-helm-dev",
        namespace="app-dev",
        namespaced=namespaced,
    )
    assert cm["metadata"]["namespace"] == "app-dev"
    assert "namespace" not in role["metadata"]
    assert cm["metadata"]["labels"][APP_LABEL] == "app-helm-dev"
    assert cm["metadata"]["annotations"][TRACKING_ANNOTATION] == "app-helm-dev:/ConfigMap:app-dev/c"
    assert is_tracked_by(cm, "app-helm-dev")
    assert not is_tracked_by(cm, "app-helm-staging")


@pytest.mark.parametrize(
    ("manifests", "message"),
    [
        ([obj("ConfigMap", "c"), obj("ConfigMap", "c")], "rendered twice"),
        ([obj("ConfigMap", "c", wave="soon")], "not an integer"),
    ],
    ids=["duplicate resource", "bad wave"],
)
def test_prepare_errors(manifests: list[dict], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        prepare(manifests, app="app", namespace="ns", namespaced=namespaced)


def test_hooks_are_skipped() -> None:
    hook = obj("Job", "migrate", "batch/v1")
    hook["metadata"]["annotations"] = {"helm.sh/hook": "pre-install"}
    assert prepare([hook, obj("ConfigMap", "c")], app="a", namespace="ns", namespaced=namespaced)[0][
        "kind"
    ] == ("ConfigMap")


def test_namespace_to_create() -> None:
    assert namespace_to_create([obj("ConfigMap", "c")], "app-dev") == "app-dev"
    assert namespace_to_create([obj("Namespace", "app-dev")], "app-dev") is None


def test_container_images_of_workloads() -> None:
    cron = {
        "kind": "CronJob",
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"image": "r/cron:1"}]}}}}},
    }
    pod = {"kind": "Pod", "spec": {"containers": [{"image": "r/pod:2"}]}}
    assert container_images([cron, pod, obj("ConfigMap", "c")]) == ("r/cron:1", "r/pod:2")
