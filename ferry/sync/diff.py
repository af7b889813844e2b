"""Desired against live: normalization, per-resource sync status and a readable unified diff.

The "desired" side is what the API server says the object would become: the
result of a server-side dry-run apply of the rendered manifest. That is how
Argo CD's server-side diff works, and it is what makes defaults a non-issue: the
dry-run fills in the same defaults the live object carries, and keeps fields
other managers own, so only real differences remain. Both sides are then
normalized here by dropping what the server sets for itself.
"""

from __future__ import annotations

import base64
import copy
import difflib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

import yaml

from ferry.sync.model import AppDiff, ResourceDiff, ResourceKey, SyncStatus
from ferry.sync.plan import APPLIED_HASH_ANNOTATION

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
#: Annotations controllers and clients add on their own, and Ferry's applied hash: it changes with
#: every change to the manifest, also one the live object does not show (a default spelled out),
#: and a verdict or a diff line of its own would only repeat what the other lines say.
SERVER_ANNOTATIONS = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    APPLIED_HASH_ANNOTATION,
)


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


def _is_secret(obj: Mapping[str, Any] | None) -> bool:
    return obj is not None and obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def secret_data(obj: dict[str, Any]) -> dict[str, Any]:
    """``data`` with ``stringData`` folded in as the API server would (base64), as Argo CD's
    ``NormalizeSecret`` does, so a dry-run answer and a rendered manifest compare alike."""
    data = dict(obj.get("data") or {}) if isinstance(obj.get("data"), dict) else {}
    string_data = obj.get("stringData")
    if isinstance(string_data, dict):
        for key, value in string_data.items():
            text = value if isinstance(value, str) else ("" if value is None else str(value))
            data[key] = base64.b64encode(text.encode()).decode()
    return data


def hide_secret_data(
    desired: Mapping[str, Any] | None, live: Mapping[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Mask a Secret's values on both sides at once, keeping which ones differ (Argo CD's ``HideSecretData``).

    Per key, the first distinct value met (desired first, then live) becomes ``++++++++``,
    the next distinct one four ``+`` longer, and so on. Equal values mask alike and
    different values differently, so a changed password shows as a changed line and
    never as its value. Masking each side on its own, as Ferry did before, made a
    changed single password look identical on both sides: OutOfSync with an empty diff.

    >>> old = {"apiVersion": "v1", "kind": "Secret", "data": {"password": "b2xk"}}
    >>> new = {"apiVersion": "v1", "kind": "Secret", "data": {"password": "bmV3"}}
    >>> [side["data"]["password"] for side in hide_secret_data(new, old)]
    ['++++++++', '++++++++++++']
    """
    sides = [dict(obj) if obj is not None else None for obj in (desired, live)]
    if not any(_is_secret(side) for side in sides):
        return sides[0], sides[1]
    datas = [secret_data(side) if side is not None else None for side in sides]
    for side in sides:
        if side is not None:
            side.pop("stringData", None)
    keys = sorted({key for data in datas if data for key in data})
    for key in keys:
        masks: dict[str, str] = {}
        for data in datas:
            if data is None or key not in data:
                continue
            value = "" if data[key] is None else str(data[key])
            data[key] = masks.setdefault(value, "+" * (8 + 4 * len(masks)))
    for side, data in zip(sides, datas, strict=True):
        if side is not None and data:
            side["data"] = data
        elif side is not None:
            side.pop("data", None)
    return sides[0], sides[1]


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
    masked_desired, masked_live = hide_secret_data(desired, live)
    before = _yaml(masked_live)
    after = _yaml(masked_desired)
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
    why the dry run refused the object, which always makes it OutOfSync and
    leaves it out of the diff (only the error is shown).
    """
    current = normalize(live) if live is not None else None
    if error:
        # What the server refused is not shown: it is not what the sync would leave behind,
        # and it is exactly what a hostile repo would try to smuggle into a diff.
        return ResourceDiff(key, SyncStatus.OUT_OF_SYNC, None, current, "", error=error)
    desired = normalize(predicted) if predicted is not None else None
    if current is not None and desired == current:
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
    *,
    marked: Collection[ResourceKey] = (),
) -> AppDiff:
    """Compare every rendered resource, and list tracked live resources Git no longer renders.

    Args:
        app: Application name.
        revision: The rendered commit.
        pairs: ``(key, predicted, live, error)`` for each rendered resource, in sync order.
        prunable: ``(key, live)`` of resources tracked by the app but not rendered any more.
        marked: Resources whose live object carries the desired object's applied hash.
    """
    resources = [
        replace(compare(key, predicted, live, error), marked=key in marked)
        for key, predicted, live, error in pairs
    ]
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
