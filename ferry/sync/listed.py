"""The live state of an app from one labelled LIST per kind, and when that state can be trusted as is.

Argo CD compares against its watch-backed cache and never asks the API server
per resource. Ferry has no long-running watch, but it already lists every kind
of the app by its label to find prune candidates; those same lists hold the live
counterpart of every desired object that carries the label. Only an object not
found there (one that lost its label, or does not exist) is fetched on its own.

A server-side dry run is then needed only where the listed object might differ
from what the apply would make of it. It is skipped when both hold:

* the live object carries Ferry's applied hash (``ferry.io/applied-hash``) equal to
  the desired object's: Ferry's last apply sent exactly today's manifest, so the
  fields Ferry owns are today's fields, and a field removed from Git (which only a
  dry run shows leaving) changes the hash;
* every field of the desired object is in the live one with the same value (lists
  element by element, same length): anyone who changed or removed a field Ferry
  manages, added or dropped an element of a list Ferry sets, is caught here.

What this does not catch, and a dry run would: a third party adding keys *inside*
an element of a list Ferry's apply replaces whole (an atomic list such as
``tolerations``), when Ferry's manifest does not set those keys. resourceVersion,
generation and managedFields are not used: controllers bump the first two and
write the third on every status or annotation update, so they would send nearly
every Deployment to the dry run without telling drift from routine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ferry.errors import ClusterError
from ferry.sync.diff import secret_data
from ferry.sync.kube import KubeCluster
from ferry.sync.model import ResourceKey
from ferry.sync.plan import APP_LABEL, APPLIED_HASH_ANNOTATION, is_tracked_by


@dataclass(frozen=True, slots=True)
class LiveState:
    """What the cluster holds for one app.

    Attributes:
        objects: The live counterpart of each desired object that exists.
        listed: Every object the labelled LISTs returned (prune candidates among them).
    """

    objects: Mapping[ResourceKey, dict[str, Any]]
    listed: tuple[dict[str, Any], ...]


def _annotation(obj: Mapping[str, Any], name: str) -> str | None:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(name)
    return None if value is None else str(value)


def is_subset(desired: Any, live: Any) -> bool:
    """Every field of ``desired`` is in ``live`` with the same value; lists match element by element.

    >>> is_subset({"spec": {"ports": [{"port": 80}]}}, {"spec": {"ports": [{"port": 80, "protocol": "TCP"}]}})
    True
    >>> is_subset({"data": {"k": "1"}}, {"data": {"k": "2"}})
    False
    >>> is_subset({"args": ["a"]}, {"args": ["a", "b"]})
    False
    """
    if isinstance(desired, Mapping):
        return isinstance(live, Mapping) and all(
            key in live and is_subset(value, live[key]) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(desired) == len(live)
            and all(is_subset(d, v) for d, v in zip(desired, live, strict=True))
        )
    # bool is an int to Python but not to the API server: True must not match 1.
    return type(desired) is type(live) and bool(desired == live)


def _as_stored(desired: Mapping[str, Any]) -> dict[str, Any]:
    """``desired`` as the API server stores it where that is known offline: a Secret's
    ``stringData`` lives in ``data``, base64-encoded."""
    if desired.get("kind") != "Secret" or desired.get("apiVersion") != "v1" or "stringData" not in desired:
        return dict(desired)
    stored = {k: v for k, v in desired.items() if k != "stringData"}
    stored["data"] = secret_data(dict(desired))
    return stored


def carries_applied_hash(desired: Mapping[str, Any], live: Mapping[str, Any] | None) -> bool:
    """``live`` was last applied by Ferry from exactly ``desired`` (both carry the same applied hash)."""
    wanted = _annotation(desired, APPLIED_HASH_ANNOTATION)
    return live is not None and wanted is not None and _annotation(live, APPLIED_HASH_ANNOTATION) == wanted


def trusted_in_sync(desired: Mapping[str, Any], live: Mapping[str, Any] | None) -> bool:
    """True when the listed ``live`` object needs no dry run to be called Synced (see the module doc)."""
    return live is not None and carries_applied_hash(desired, live) and is_subset(_as_stored(desired), live)


def prune_candidates(
    listed: Sequence[dict[str, Any]], app: str, desired: Sequence[dict[str, Any]]
) -> list[tuple[ResourceKey, dict[str, Any]]]:
    """Listed objects tracked by ``app`` (label and annotation) that ``desired`` no longer holds.

    Objects with an owner are left to their owner's garbage collection, as Argo CD does.
    """
    wanted = {ResourceKey.of(m) for m in desired}
    leftovers: dict[ResourceKey, dict[str, Any]] = {}
    for obj in listed:
        key = ResourceKey.of(obj)
        if (
            key not in wanted
            and is_tracked_by(obj, app)
            and not (obj.get("metadata") or {}).get("ownerReferences")
        ):
            leftovers[key] = obj
    return sorted(leftovers.items(), key=lambda item: item[0])


def _unserved(exc: ClusterError) -> bool:
    # A kind whose CRD comes with this very sync: nothing of it can be live yet.
    return "does not serve" in str(exc)


def read_live(
    cluster: KubeCluster,
    manifests: Sequence[dict[str, Any]],
    *,
    selector: str | None,
    kinds: Sequence[tuple[str, str]] = (),
) -> LiveState:
    """One LIST by ``selector`` per kind of ``manifests`` and ``kinds``; a GET only for what they miss.

    Listed cluster-wide, as prune candidates always were: an app may put objects in
    several namespaces, and one request per kind is fewer than one per namespace.
    Without a selector (manifests not prepared by one app) every object is fetched.
    """
    all_kinds = sorted({*kinds, *((str(m["apiVersion"]), str(m["kind"])) for m in manifests)})
    listed: list[dict[str, Any]] = []
    unserved: set[tuple[str, str]] = set()
    if selector is not None:
        for api_version, kind in all_kinds:
            try:
                listed.extend(cluster.list(api_version, kind, label_selector=selector))
            except ClusterError as exc:
                if not _unserved(exc):
                    raise
                unserved.add((api_version, kind))
    by_key = {ResourceKey.of(obj): obj for obj in listed}
    found: dict[ResourceKey, dict[str, Any]] = {}
    for manifest in manifests:
        key = ResourceKey.of(manifest)
        if key in by_key:
            found[key] = by_key[key]
            continue
        if (str(manifest["apiVersion"]), key.kind) in unserved:
            continue
        try:
            live = cluster.get(manifest["apiVersion"], key.kind, key.name, key.namespace or None)
        except ClusterError as exc:
            if _unserved(exc):
                continue
            raise
        if live is not None:
            found[key] = live
    return LiveState(found, tuple(listed))


def selector_of(manifests: Sequence[dict[str, Any]]) -> str | None:
    """The app label selector the prepared ``manifests`` share, or None when they carry none or several."""
    values = {((m.get("metadata") or {}).get("labels") or {}).get(APP_LABEL) for m in manifests}
    if len(values) != 1 or None in values:
        return None
    return f"{APP_LABEL}={values.pop()}"
