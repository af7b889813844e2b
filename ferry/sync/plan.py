"""Turning rendered manifests into an ordered sync plan: namespaces, tracking marks, waves and kinds.

Ordering follows gitops-engine: by sync wave (the ``argocd.argoproj.io/sync-wave``
annotation, default 0), then by kind (Namespaces and CRDs first, so that what
lives in them can be applied in the same sync), then by name. Every applied
object is marked with a label and an annotation that name its Application;
pruning only ever deletes objects carrying this app's annotation.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from itertools import groupby
from typing import Any

from ferry.errors import ConfigError
from ferry.sync.model import ResourceKey

logger = logging.getLogger(__name__)

SYNC_WAVE_ANNOTATION = "argocd.argoproj.io/sync-wave"
HOOK_ANNOTATIONS = ("argocd.argoproj.io/hook", "helm.sh/hook")
RESOURCE_SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
#: Selects an app's objects for pruning; its value is the app name (or a hash when too long for a label).
APP_LABEL = "app.ferry.io/instance"
#: Proves that an object belongs to an app: ``<app>:<group>/<kind>:<namespace>/<name>``, as Argo CD's
#: annotation tracking writes it.
TRACKING_ANNOTATION = "ferry.io/tracking-id"
#: A hash of the object as Ferry applied it. A live object carrying the hash of today's desired
#: object was last applied from exactly that object, which lets a diff trust the live state it
#: listed instead of asking for a dry run (see :mod:`ferry.sync.listed`).
APPLIED_HASH_ANNOTATION = "ferry.io/applied-hash"

#: gitops-engine's kind order, with CustomResourceDefinition moved up behind Namespace so
#: that custom resources of the same wave find their kind served.
KIND_ORDER: tuple[str, ...] = (
    "Namespace",
    "CustomResourceDefinition",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
)
_KIND_RANK = {kind: rank for rank, kind in enumerate(KIND_ORDER)}


def app_label_value(app: str) -> str:
    """The label value for ``app``: the name itself when it fits in 63 characters.

    >>> app_label_value("app-helm-dev")
    'app-helm-dev'
    >>> len(app_label_value("a" * 100))
    63
    """
    if len(app) <= 63:
        return app
    return f"{app[:46]}-{hashlib.sha256(app.encode()).hexdigest()[:16]}"


def tracking_id(app: str, key: ResourceKey) -> str:
    """``<app>:<group>/<kind>:<namespace>/<name>``.

    >>> tracking_id("app", ResourceKey("apps", "Deployment", "ns", "web"))
    'app:apps/Deployment:ns/web'
    """
    return f"{app}:{key.tracking_id}"


def applied_hash(manifest: dict[str, Any]) -> str:
    """A hash of ``manifest`` with its own applied-hash annotation left out, so it is stable once written.

    Canonical JSON (sorted keys), so the order a template writes keys in does not matter; any
    field added, changed or removed changes it.

    >>> a = {"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}}
    >>> applied_hash(a) == applied_hash({"metadata": {"name": "a"}, "data": {"k": "v"}, "kind": "ConfigMap"})
    True
    >>> applied_hash(a) == applied_hash({"kind": "ConfigMap", "metadata": {"name": "a"}})
    False
    """
    metadata = dict(manifest.get("metadata") or {})
    annotations = {
        k: v for k, v in (metadata.get("annotations") or {}).items() if k != APPLIED_HASH_ANNOTATION
    }
    metadata["annotations"] = annotations
    text = json.dumps({**manifest, "metadata": metadata}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def is_tracked_by(obj: dict[str, Any], app: str) -> bool:
    """True when ``obj`` carries this app's tracking annotation for itself (not a copy of another's)."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return bool(annotations.get(TRACKING_ANNOTATION) == tracking_id(app, ResourceKey.of(obj)))


def sync_wave(manifest: dict[str, Any]) -> int:
    """The object's sync wave (0 by default).

    Raises:
        ConfigError: The annotation is not an integer.
    """
    raw = ((manifest.get("metadata") or {}).get("annotations") or {}).get(SYNC_WAVE_ANNOTATION, "0")
    try:
        return int(str(raw).strip())
    except ValueError:
        raise ConfigError(
            f"sync wave {raw!r} is not an integer", key=f"{ResourceKey.of(manifest)} {SYNC_WAVE_ANNOTATION}"
        ) from None


def resource_option(manifest: dict[str, Any], name: str) -> str | None:
    """A per-resource sync option, e.g. ``Prune=false`` in ``argocd.argoproj.io/sync-options``."""
    raw = ((manifest.get("metadata") or {}).get("annotations") or {}).get(RESOURCE_SYNC_OPTIONS, "")
    for item in str(raw).split(","):
        key, _, value = item.partition("=")
        if key.strip() == name:
            return value.strip()
    return None


def is_hook(manifest: dict[str, Any]) -> bool:
    """Argo CD and Helm hooks are not synced as ordinary resources (Ferry does not run hooks)."""
    annotations = (manifest.get("metadata") or {}).get("annotations") or {}
    return any(name in annotations for name in HOOK_ANNOTATIONS)


def sort_key(manifest: dict[str, Any]) -> tuple[int, int, str, str, str]:
    """Wave, kind rank (unknown kinds last), then kind, namespace and name for a stable order."""
    key = ResourceKey.of(manifest)
    return (sync_wave(manifest), _KIND_RANK.get(key.kind, len(KIND_ORDER)), key.kind, key.namespace, key.name)


def prepare(
    manifests: Iterable[dict[str, Any]],
    *,
    app: str,
    namespace: str | None,
    namespaced: Callable[[str, str], bool],
) -> list[dict[str, Any]]:
    """Copies of the manifests ready to apply, in sync order.

    Namespaced objects without a namespace get the destination's (as Argo CD
    does); hooks are dropped; each object gets the app's label, its tracking
    annotation and its applied hash. Two objects with the same identity are an error.

    Args:
        manifests: Rendered objects.
        app: Application name.
        namespace: ``spec.destination.namespace``.
        namespaced: ``(apiVersion, kind) -> bool`` from the cluster's discovery.
    """
    prepared: list[dict[str, Any]] = []
    seen: set[ResourceKey] = set()
    for manifest in manifests:
        if is_hook(manifest):
            logger.warning(
                "%s: skipping hook %s: Ferry does not run sync hooks", app, ResourceKey.of(manifest)
            )
            continue
        obj = copy.deepcopy(manifest)
        obj.pop("status", None)
        metadata = obj.setdefault("metadata", {})
        if namespaced(obj["apiVersion"], obj["kind"]):
            if not metadata.get("namespace"):
                if not namespace:
                    raise ConfigError(
                        f"{ResourceKey.of(obj)} has no namespace and the destination names none",
                        application=app,
                        key="spec.destination.namespace",
                    )
                metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        key = ResourceKey.of(obj)
        if key in seen:
            raise ConfigError(f"{key} is rendered twice", application=app)
        seen.add(key)
        metadata.setdefault("labels", {})[APP_LABEL] = app_label_value(app)
        metadata.setdefault("annotations", {})[TRACKING_ANNOTATION] = tracking_id(app, key)
        # Last: the hash covers everything the apply sends, the marks above included.
        metadata["annotations"][APPLIED_HASH_ANNOTATION] = applied_hash(obj)
        prepared.append(obj)
    return sorted(prepared, key=sort_key)


def waves(manifests: Sequence[dict[str, Any]]) -> list[tuple[int, list[dict[str, Any]]]]:
    """Group sorted manifests by sync wave, lowest first."""
    return [(wave, list(group)) for wave, group in groupby(manifests, key=sync_wave)]


def namespace_to_create(manifests: Sequence[dict[str, Any]], destination: str | None) -> str | None:
    """The namespace ``CreateNamespace=true`` creates: the destination's, unless the app renders it itself.

    >>> namespace_to_create([{"kind": "Namespace", "metadata": {"name": "a"}}], "a") is None
    True
    """
    rendered = {ResourceKey.of(m).name for m in manifests if m.get("kind") == "Namespace"}
    if not destination or destination in rendered:
        return None
    return destination


def _pod_specs(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    spec = manifest.get("spec") or {}
    if manifest.get("kind") == "Pod":
        return [spec]
    if manifest.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    template = (spec.get("template") or {}).get("spec")
    return [template] if isinstance(template, dict) else []


def container_images(manifests: Iterable[dict[str, Any]]) -> tuple[str, ...]:
    """Every container image the manifests run (init containers included), sorted and unique.

    >>> container_images([{"kind": "Deployment", "spec": {"template": {"spec": {
    ...     "containers": [{"image": "r/a:v2"}], "initContainers": [{"image": "r/b:v1"}]}}}}])
    ('r/a:v2', 'r/b:v1')
    """
    images: set[str] = set()
    for manifest in manifests:
        for pod_spec in _pod_specs(manifest):
            for field in ("initContainers", "containers"):
                for container in pod_spec.get(field) or ():
                    if isinstance(container, dict) and container.get("image"):
                        images.add(str(container["image"]))
    return tuple(sorted(images))
