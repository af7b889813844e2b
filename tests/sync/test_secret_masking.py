"""Secret values in diffs: masked on both sides from one table, as Argo CD's ``HideSecretData`` does.

Issue 10, finding 10: each side was masked on its own, so a changed password became
``++++++++`` on both sides and the app showed OutOfSync with an empty diff. The tables
are gitops-engine's own (``pkg/diff/diff_test.go``, ``TestHideSecretData*``), with
Secrets built the way its ``createSecret`` builds them (values base64-encoded).
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from ferry.sync import diff as diffs
from ferry.sync.model import ResourceKey, SyncStatus

R1, R2, R3 = "+" * 8, "+" * 12, "+" * 16
KEY = ResourceKey("", "Secret", "ns", "db")


def secret(data: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "ns"},
    }
    if data is not None:
        obj["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    return {**obj, **extra}


@pytest.mark.parametrize(
    ("target", "live", "masked_target", "masked_live"),
    [
        (
            secret({"key1": "test", "key2": "test"}),
            secret({"key1": "test-1", "key2": "test-1"}),
            {"key1": R1, "key2": R1},
            {"key1": R2, "key2": R2},
        ),
        (
            secret({"key1": "test", "key2": "test"}),
            secret({"key1": "test", "key2": "test"}),
            {"key1": R1, "key2": R1},
            {"key1": R1, "key2": R1},
        ),
        (
            secret({"key1": "test", "key2": "test"}),
            secret({"key2": "test-1", "key3": "test-1"}),
            {"key1": R1, "key2": R1},
            {"key2": R2, "key3": R1},
        ),
        (
            # TestHideStringDataInInvalidSecret: stringData is folded into data first.
            {
                **secret(),
                "data": {"key1": "a2V5MQ==", "key2": "a2V5Mg==", "key3": False},
                "stringData": {"key4": "key4", "key5": 5},
            },
            {**secret(), "data": {"key1": "a2V5MQ==", "key2": "a2V5MQ=="}},
            {"key1": R1, "key2": R1, "key3": R1, "key4": R1, "key5": R1},
            {"key1": R1, "key2": R2},
        ),
    ],
    ids=[
        "same keys, different values",
        "same keys, same values",
        "different keys, different values",
        "stringData in an invalid secret",
    ],
)
def test_hide_secret_data_as_gitops_engine(
    target: dict[str, Any], live: dict[str, Any], masked_target: dict[str, str], masked_live: dict[str, str]
) -> None:
    hidden_target, hidden_live = diffs.hide_secret_data(target, live)
    assert hidden_target is not None and hidden_live is not None
    assert hidden_target["data"] == masked_target
    assert hidden_live["data"] == masked_live
    assert "stringData" not in hidden_target
    assert target["data"] != masked_target, "the inputs are not modified"


def test_an_empty_secret_keeps_no_data() -> None:
    """TestHideSecretDataHandleEmptySecret."""
    target = {**secret(), "data": {}}
    live = {**secret(), "data": {"namespace": "ZGVmYXVsdA==", "token": "ZGVmYXVsdAcb=="}}
    hidden_target, hidden_live = diffs.hide_secret_data(target, live)
    assert hidden_target is not None and "data" not in hidden_target
    assert hidden_live is not None and hidden_live["data"] == {"namespace": R1, "token": R1}


def test_other_kinds_are_left_alone() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}}
    assert diffs.hide_secret_data(cm, cm) == (cm, cm)


def test_a_changed_password_shows_a_masked_difference() -> None:
    live = secret({"password": "old-password-1"})
    desired = secret({"password": "new-password-2"})
    diff = diffs.compare(KEY, desired, live)
    assert diff.status is SyncStatus.OUT_OF_SYNC
    changed = [
        line for line in diff.diff.splitlines() if line[:1] in "+-" and not line.startswith(("---", "+++"))
    ]
    assert changed == [f"-  password: {R2}", f"+  password: {R1}"]
    for value in ("old-password-1", "new-password-2", live["data"]["password"], desired["data"]["password"]):
        assert value not in diff.diff


def test_an_unchanged_password_shows_no_difference() -> None:
    live = secret({"password": "same"}, type="Opaque")
    desired = secret({"password": "same"}, type="kubernetes.io/basic-auth")
    diff = diffs.compare(KEY, desired, live).diff
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("---", "+++"))]
    assert changed == ["-type: Opaque", "+type: kubernetes.io/basic-auth"]
