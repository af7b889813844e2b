"""Normalization and the unified diff, on real-shaped objects."""

from __future__ import annotations

import copy

import pytest

from ferry.sync.diff import compare, compare_app, hide_secret_data, normalize
from ferry.sync.model import ResourceKey, SyncStatus

LIVE = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "echo-server",
        "namespace": "app-dev",
        "uid": "0b6f",
        "resourceVersion": "812",
        "generation": 3,
        "creationTimestamp": "2024-05-01T10:00:00Z",
        "annotations": {"deployment.kubernetes.io/revision": "3", "ferry.io/tracking-id": "x"},
        "managedFields": [{"manager": "ferry", "operation": "Apply"}],
    },
    "spec": {
        "replicas": 1,
        "progressDeadlineSeconds": 600,
        "template": {"spec": {"containers": [{"name": "c", "image": "r/echo-server:v1.0"}]}},
    },
    "status": {"replicas": 1, "observedGeneration": 3},
}
KEY = ResourceKey("apps", "Deployment", "app-dev", "echo-server")


def with_image(tag: str) -> dict:
    obj = copy.deepcopy(LIVE)
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = f"r/echo-server:{tag}"
    obj["metadata"]["resourceVersion"] = "999"  # a dry run answers with a new resourceVersion
    obj["metadata"]["managedFields"] = []
    return obj


@pytest.mark.parametrize(
    ("predicted", "live", "expected"),
    [
        (with_image("v1.0"), LIVE, SyncStatus.SYNCED),
        (with_image("v3-5a7147"), LIVE, SyncStatus.OUT_OF_SYNC),
        (with_image("v1.0"), None, SyncStatus.OUT_OF_SYNC),
        ({**with_image("v1.0"), "status": {"replicas": 7}}, LIVE, SyncStatus.SYNCED),
    ],
    ids=["only server fields differ", "changed tag", "missing live object", "status is ignored"],
)
def test_compare(predicted, live, expected) -> None:
    assert compare(KEY, predicted, live).status is expected


def test_changed_tag_diff_shows_only_the_image_line() -> None:
    diff = compare(KEY, with_image("v3-5a7147"), LIVE).diff
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("---", "+++"))]
    assert changed == ["-      - image: r/echo-server:v1.0", "+      - image: r/echo-server:v3-5a7147"]
    assert diff.startswith(
        "===== apps/Deployment app-dev/echo-server ======\n--- live/Deployment/app-dev/echo-server"
    )


def test_dry_run_refusal_is_out_of_sync_even_when_equal() -> None:
    assert compare(KEY, LIVE, LIVE, error="spec.replicas: Invalid value").status is SyncStatus.OUT_OF_SYNC


def test_normalize_drops_server_fields_and_keeps_user_annotations() -> None:
    normalized = normalize(LIVE)
    assert "status" not in normalized
    assert normalized["metadata"] == {
        "name": "echo-server",
        "namespace": "app-dev",
        "annotations": {"ferry.io/tracking-id": "x"},
    }
    assert LIVE["metadata"]["uid"] == "0b6f", "the input must not be modified"


def test_secret_values_are_masked_but_changes_stay_visible() -> None:
    before = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"a": "c2VjcmV0", "b": "eA=="},
    }
    after = {**before, "data": {"a": "bmV3", "b": "eA=="}}
    diff = compare(ResourceKey("", "Secret", "ns", "s"), after, before).diff
    assert "c2VjcmV0" not in diff and "bmV3" not in diff
    # One table for both sides, per key (Argo CD): the changed key masks differently, the same one alike.
    masked_after, masked_before = hide_secret_data(after, before)
    assert masked_after is not None and masked_before is not None
    assert masked_after["data"]["a"] != masked_before["data"]["a"]
    assert masked_after["data"]["b"] == masked_before["data"]["b"]


def test_app_is_out_of_sync_when_something_must_be_pruned() -> None:
    old = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "old", "namespace": "ns"}}
    diff = compare_app(
        "app",
        "sha",
        [(KEY, with_image("v1.0"), LIVE, "")],
        [(ResourceKey("", "ConfigMap", "ns", "old"), old)],
    )
    assert diff.status is SyncStatus.OUT_OF_SYNC
    assert [r.requires_pruning for r in diff.resources] == [False, True]
    assert "-kind: ConfigMap" in diff.unified()
