"""Minimal CustomResourceDefinitions for the rollout kinds the canary work drives.

Written for Ferry, not copied: each schema only says "an object with spec and
status" and keeps every field (``x-kubernetes-preserve-unknown-fields``), which
is enough for server-side apply, the status subresource and
``generation``/``observedGeneration`` to behave as they do with the upstream
CRDs. Validation of the rollout spec is the controllers' business, not the
sandbox's.
"""

from __future__ import annotations

from typing import Any

from ferry.sandbox.api import AdminApi

CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def _open_schema() -> dict[str, Any]:
    anything = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {
        "openAPIV3Schema": {
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": dict(anything),
                "status": dict(anything),
            },
        }
    }


def _rollout_crd(group: str, version: str, subresources: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"rollouts.{group}",
            "labels": {"app.kubernetes.io/managed-by": "ferry-sandbox"},
        },
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {
                "kind": "Rollout",
                "listKind": "RolloutList",
                "plural": "rollouts",
                "singular": "rollout",
            },
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "schema": _open_schema(),
                    "subresources": subresources,
                }
            ],
        },
    }


def kruise_rollout_crd() -> dict[str, Any]:
    """Return the ``rollouts.kruise.io`` CRD serving ``v1beta1`` with a status subresource."""
    return _rollout_crd("rollouts.kruise.io", "v1beta1", {"status": {}})


def argo_rollout_crd() -> dict[str, Any]:
    """Return the ``rollouts.argoproj.io`` CRD serving ``v1alpha1`` with status and scale subresources.

    The scale paths are those Argo Rollouts documents, so an HPA or
    ``kubectl scale`` works against it as against the real CRD.
    """
    return _rollout_crd(
        "argoproj.io",
        "v1alpha1",
        {
            "status": {},
            "scale": {
                "specReplicasPath": ".spec.replicas",
                "statusReplicasPath": ".status.HPAReplicas",
                "labelSelectorPath": ".status.selector",
            },
        },
    )


def sandbox_crds() -> list[dict[str, Any]]:
    """Return every CRD a sandbox cluster gets."""
    return [kruise_rollout_crd(), argo_rollout_crd()]


def install_crds(api: AdminApi, *, timeout: float = 30.0) -> list[str]:
    """Server-side apply the sandbox CRDs and wait until each is Established.

    Returns:
        The names of the installed CRDs.

    Raises:
        ClusterError: The apiserver rejected a CRD.
        ClusterUnavailable: A CRD did not become Established within ``timeout``.
    """
    names: list[str] = []
    for crd in sandbox_crds():
        name = crd["metadata"]["name"]
        api.apply(f"{CRD_PATH}/{name}", crd)
        names.append(name)
    for name in names:
        api.wait_for(
            f"{CRD_PATH}/{name}",
            lambda body: any(
                condition.get("type") == "Established" and condition.get("status") == "True"
                # A fresh CRD may carry `conditions: null` until the controller writes them.
                for condition in (body.get("status") or {}).get("conditions") or []
            ),
            timeout=timeout,
            what=f"CRD {name} Established",
        )
    return names
