"""Desired against live: normalization, per-resource sync status and a readable unified diff.

The "desired" side is what the API server says the object would become: the
result of a server-side dry-run apply of the rendered manifest. That is how
Argo CD's server-side diff works, and it is what makes defaults a non-issue: the
dry-run fills in the same defaults the live object carries, and keeps fields
other managers own, so only real differences remain. Both sides are then
normalized here by dropping what the server sets for itself.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from ferry.sync.model import AppDiff, ResourceDiff, ResourceKey, SyncStatus

#: metadata the API server writes; never part of what Git asks for.
SERVER_METADATA = (
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
#: Annotations controllers and clients add on their own.
SERVER_ANNOTATIONS = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
)
_MASK = "++++++++"


def normalize(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` without status, server-set metadata and controller annotations.

    >>> normalize({"kind": "ConfigMap", "metadata": {"name": "a", "uid": "1", "annotations": {}},
    ...            "status": {"x": 1}, "data": {"k": "v"}})
    {'kind': 'ConfigMap', 'metadata': {'name': 'a'}, 'data': {'k': 'v'}}
    """
    result = copy.deepcopy(dict(obj))
    result.pop("status", None)
    metadata = result.get("metadata")
    if isinstance(metadata, dict):
        for key in SERVER_METADATA:
            metadata.pop(key, None)
        annotations = metadata.get("annotations")
        if isinstance(annotations, dict):
            for key in SERVER_ANNOTATIONS:
                annotations.pop(key, None)
        for key in ("annotations", "labels"):
            if not metadata.get(key):
                metadata.pop(key, None)
    return result


def mask_secret(obj: dict[str, Any]) -> dict[str, Any]:
    """Replace a Secret's values by a fixed mask (changed values stay visible as changed)."""
    if obj.get("kind") != "Secret" or obj.get("apiVersion") != "v1":
        return obj
    masked = dict(obj)
    for field in ("data", "stringData"):
        if isinstance(obj.get(field), dict):
            # Distinct masks per distinct value, so the diff still shows which keys changed.
            seen: dict[str, str] = {}
            masked[field] = {
                k: seen.setdefault(str(v), _MASK + "+" * len(seen)) for k, v in obj[field].items()
            }
    return masked


def _yaml(obj: Mapping[str, Any] | None) -> list[str]:
    if obj is None:
        return []
    text = yaml.safe_dump(dict(obj), sort_keys=True, default_flow_style=False, allow_unicode=True)
    return text.splitlines(keepends=True)


def unified_diff(key: ResourceKey, live: Mapping[str, Any] | None, desired: Mapping[str, Any] | None) -> str:
    """A unified diff of two normalized objects as YAML, headed like ``argocd app diff``.

    >>> key = ResourceKey("", "ConfigMap", "ns", "a")
    >>> print(unified_diff(key, {"data": {"k": "1"}}, {"data": {"k": "2"}}), end="")
    ===== /ConfigMap ns/a ======
    --- live/ConfigMap/ns/a
    +++ desired/ConfigMap/ns/a
    @@ -1,2 +1,2 @@
     data:
    -  k: '1'
    +  k: '2'
    """
    before = _yaml(mask_secret(dict(live)) if live is not None else None)
    after = _yaml(mask_secret(dict(desired)) if desired is not None else None)
    if before == after:
        return ""
    name = f"{key.kind}/{key.namespace + '/' if key.namespace else ''}{key.name}"
    lines = difflib.unified_diff(before, after, fromfile=f"live/{name}", tofile=f"desired/{name}")
    body = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    where = f"{key.namespace}/" if key.namespace else ""
    return f"===== {key.group}/{key.kind} {where}{key.name} ======\n{body}"


def compare(
    key: ResourceKey, predicted: Mapping[str, Any] | None, live: Mapping[str, Any] | None, error: str = ""
) -> ResourceDiff:
    """One resource's verdict: Synced when the normalized predicted and live objects are equal.

    ``predicted`` is the dry-run result (or the rendered manifest when no dry run
    was possible); ``live`` is None when the object does not exist; ``error`` is
    why the dry run refused the object, which always makes it OutOfSync.
    """
    desired = normalize(predicted) if predicted is not None else None
    current = normalize(live) if live is not None else None
    if current is not None and desired == current and not error:
        return ResourceDiff(key, SyncStatus.SYNCED, desired, current)
    return ResourceDiff(
        key, SyncStatus.OUT_OF_SYNC, desired, current, unified_diff(key, current, desired), error=error
    )


Comparison = tuple[ResourceKey, Mapping[str, Any] | None, Mapping[str, Any] | None, str]
"""``(key, predicted, live, dry-run error)`` for one rendered resource."""


def compare_app(
    app: str,
    revision: str,
    pairs: Sequence[Comparison],
    prunable: Sequence[tuple[ResourceKey, Mapping[str, Any]]],
) -> AppDiff:
    """Compare every rendered resource, and list tracked live resources Git no longer renders.

    Args:
        app: Application name.
        revision: The rendered commit.
        pairs: ``(key, predicted, live, error)`` for each rendered resource, in sync order.
        prunable: ``(key, live)`` of resources tracked by the app but not rendered any more.
    """
    resources = [compare(key, predicted, live, error) for key, predicted, live, error in pairs]
    for key, live in prunable:
        current = normalize(live)
        resources.append(
            ResourceDiff(
                key,
                SyncStatus.OUT_OF_SYNC,
                None,
                current,
                unified_diff(key, current, None),
                requires_pruning=True,
            )
        )
    return AppDiff(app, revision, tuple(resources))
