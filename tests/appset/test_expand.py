"""Generated Applications' metadata, by Argo CD's TestRenderTemplateParamsFinalizers (utils_test.go)."""

from __future__ import annotations

from typing import Any

import pytest

from ferry.appset.expand import RESOURCES_FINALIZER, expand
from ferry.appset.generators import Context
from ferry.appset.model import parse_applicationset

BACKGROUND = "resources-finalizer.argocd.argoproj.io/background"


def _appset(finalizers: list[str] | None, sync_policy: dict[str, Any] | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "app-{{ .one }}"}
    if finalizers is not None:
        metadata["finalizers"] = finalizers
    spec: dict[str, Any] = {
        "goTemplate": True,
        "generators": [{"list": {"elements": [{"one": "two"}]}}],
        "template": {"metadata": metadata, "spec": {"project": "", "source": {"repoURL": "r"}}},
    }
    if sync_policy is not None:
        spec["syncPolicy"] = sync_policy
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": "s"},
        "spec": spec,
    }


CASES: list[tuple[str, list[str] | None, dict[str, Any] | None, list[str] | None]] = [
    ("existing finalizer should be preserved", ["existing-finalizer"], None, ["existing-finalizer"]),
    ("background finalizer should be preserved", [BACKGROUND], None, [BACKGROUND]),
    ("empty finalizer and empty sync should use standard finalizer", None, None, [RESOURCES_FINALIZER]),
    ("standard finalizer should be preserved", [RESOURCES_FINALIZER], None, [RESOURCES_FINALIZER]),
    ("empty array finalizers should use standard finalizer", [], None, [RESOURCES_FINALIZER]),
    ("non-nil sync policy should use standard finalizer", None, {}, [RESOURCES_FINALIZER]),
    (
        "preserveResourcesOnDeletion should not have a finalizer",
        None,
        {"preserveResourcesOnDeletion": True},
        None,
    ),
    (
        "user-specified finalizer should overwrite preserveResourcesOnDeletion",
        [BACKGROUND],
        {"preserveResourcesOnDeletion": True},
        [BACKGROUND],
    ),
]


@pytest.mark.parametrize(("name", "existing", "policy", "expected"), CASES, ids=[c[0] for c in CASES])
def test_finalizers(
    name: str, existing: list[str] | None, policy: dict[str, Any] | None, expected: list[str] | None
) -> None:
    (app,) = expand(parse_applicationset(_appset(existing, policy)), Context()).applications
    assert app["metadata"].get("finalizers") == expected
    assert app["metadata"]["name"] == "app-two"


def test_the_namespace_is_the_applicationsets() -> None:
    doc = _appset(None, None)
    doc["metadata"]["namespace"] = "argocd"
    doc["spec"]["template"]["metadata"]["namespace"] = "elsewhere"
    (app,) = expand(parse_applicationset(doc), Context()).applications
    assert app["metadata"]["namespace"] == "argocd"
