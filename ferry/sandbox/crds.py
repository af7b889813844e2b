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


def custom_resource_definition(
    group: str,
    kind: str,
    versions: tuple[str, ...],
    *,
    storage: str | None = None,
    subresources: dict[str, Any] | None = None,
    plural: str | None = None,
    scope: str = "Namespaced",
) -> dict[str, Any]:
    """A CRD for ``kind`` in ``group`` serving every one of ``versions`` with an open schema.

    ``storage`` is the version objects are stored in (default: the last). Without a
    conversion webhook the apiserver converts between versions by rewriting
    ``apiVersion`` only, which keeps every field an object was written with.
    """
    plural = plural or f"{kind.lower()}s"
    stored = storage or versions[-1]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{group}",
            "labels": {"app.kubernetes.io/managed-by": "ferry-sandbox"},
        },
        "spec": {
            "group": group,
            "scope": scope,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
            },
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": version == stored,
                    "schema": _open_schema(),
                    "subresources": subresources or {},
                }
                for version in versions
            ],
        },
    }


def kruise_rollout_crd() -> dict[str, Any]:
    """Return the ``rollouts.kruise.io`` CRD: ``v1alpha1`` and ``v1beta1`` served, ``v1beta1`` stored.

    That is what a Kruise Rollout install serves: charts written for Kruise 0.x
    (``v1alpha1``, ``spec.objectRef.workloadRef``) apply next to ``v1beta1`` ones.
    """
    return custom_resource_definition(
        "rollouts.kruise.io", "Rollout", ("v1alpha1", "v1beta1"), subresources={"status": {}}
    )


def argo_rollout_crd() -> dict[str, Any]:
    """Return the ``rollouts.argoproj.io`` CRD serving ``v1alpha1`` with status and scale subresources.

    The scale paths are those Argo Rollouts documents, so an HPA or
    ``kubectl scale`` works against it as against the real CRD.
    """
    return custom_resource_definition(
        "argoproj.io",
        "Rollout",
        ("v1alpha1",),
        subresources={
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


def install_crds(
    api: AdminApi, crds: list[dict[str, Any]] | None = None, *, timeout: float = 30.0
) -> list[str]:
    """Server-side apply ``crds`` (default: the sandbox's) and wait until each is Established.

    Returns:
        The names of the installed CRDs.

    Raises:
        ClusterError: The apiserver rejected a CRD.
        ClusterUnavailable: A CRD did not become Established within ``timeout``.
    """
    names: list[str] = []
    for crd in sandbox_crds() if crds is None else crds:
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
