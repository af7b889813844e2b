"""Talking to the cluster for one sync: live state, server-side dry run, apply in waves, prune.

The dry run doubles as the diff (see :mod:`ferry.sync.diff`) and as the safety
check Argo CD runs before a sync: a real apply starts only when the API server
accepted every object in a dry run, so an invalid resource never leaves the app
half-applied.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ferry.errors import ClusterError, ClusterNotFound, ClusterUnavailable
from ferry.sync.diff import Comparison, compare_app
from ferry.sync.health import HealthOverride, resource_health, worst
from ferry.sync.kube import KubeCluster
from ferry.sync.model import AppDiff, Health, HealthStatus, ResourceKey, ResourceOutcome, SyncStatus
from ferry.sync.plan import APP_LABEL, app_label_value, is_tracked_by, resource_option, waves

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ApplyOptions:
    """How to sync.

    Attributes:
        prune: Delete tracked resources Git no longer renders (``Prune=true``).
        force_conflicts: Take over fields other field managers own.
        apply_out_of_sync_only: Skip resources already Synced (``ApplyOutOfSyncOnly=true``).
        create_namespace: Create the destination namespace (``CreateNamespace=true``).
        wave_timeout: Seconds to wait for a wave to become healthy before the next one.
        health: The users' health checks (``resource.customizations.health.*``), if any.
    """

    prune: bool = False
    force_conflicts: bool = True
    apply_out_of_sync_only: bool = False
    create_namespace: bool = False
    wave_timeout: float = 300.0
    health: HealthOverride | None = None


def _api_version(key: ResourceKey, manifests: Sequence[dict[str, Any]]) -> str:
    for manifest in manifests:
        if ResourceKey.of(manifest) == key:
            return str(manifest["apiVersion"])
    return f"{key.group}/v1" if key.group else "v1"


def _missing_namespace_or_kind(exc: ClusterError) -> bool:
    """The dry run failed only because the namespace or CRD this sync would create does not exist yet."""
    text = str(exc)
    return (isinstance(exc, ClusterNotFound) and "namespaces" in text) or "does not serve" in text


def live_objects(
    cluster: KubeCluster, manifests: Sequence[dict[str, Any]]
) -> dict[ResourceKey, dict[str, Any]]:
    """The live counterpart of each manifest that exists."""
    found: dict[ResourceKey, dict[str, Any]] = {}
    for manifest in manifests:
        key = ResourceKey.of(manifest)
        try:
            live = cluster.get(manifest["apiVersion"], key.kind, key.name, key.namespace or None)
        except ClusterError as exc:
            if "does not serve" in str(exc):
                continue  # its CRD comes with this very sync
            raise
        if live is not None:
            found[key] = live
    return found


def prunable(
    cluster: KubeCluster, app: str, kinds: Sequence[tuple[str, str]], desired: Sequence[dict[str, Any]]
) -> list[tuple[ResourceKey, dict[str, Any]]]:
    """Live objects tracked by ``app`` (label and annotation) that ``desired`` no longer holds.

    Only ``kinds`` are searched: those rendered now and those recorded as applied before.
    """
    wanted = {ResourceKey.of(m) for m in desired}
    selector = f"{APP_LABEL}={app_label_value(app)}"
    leftovers: dict[ResourceKey, dict[str, Any]] = {}
    for api_version, kind in sorted(set(kinds)):
        try:
            listed = cluster.list(api_version, kind, label_selector=selector)
        except ClusterError as exc:
            if "does not serve" in str(exc):
                continue
            raise
        for obj in listed:
            key = ResourceKey.of(obj)
            if (
                key not in wanted
                and is_tracked_by(obj, app)
                and not (obj.get("metadata") or {}).get("ownerReferences")
            ):
                leftovers[key] = obj
    return sorted(leftovers.items(), key=lambda item: item[0])


def diff_app(
    cluster: KubeCluster,
    app: str,
    revision: str,
    manifests: Sequence[dict[str, Any]],
    kinds: Sequence[tuple[str, str]],
    *,
    force_conflicts: bool = True,
) -> AppDiff:
    """Compare the prepared ``manifests`` with the cluster through a server-side dry-run apply of each.

    A refusal of the dry run (an invalid object) does not stop the comparison:
    the resource is reported OutOfSync with the server's message.
    """
    live = live_objects(cluster, manifests)
    pairs: list[Comparison] = []
    for manifest in manifests:
        key = ResourceKey.of(manifest)
        try:
            predicted: dict[str, Any] = cluster.apply(manifest, dry_run=True, force=force_conflicts)
            error = ""
        except ClusterError as exc:
            # A namespace or kind that does not exist yet is no refusal: the diff shows the
            # manifest. A refusal shows only the server's message (compare() drops it).
            predicted, error = manifest, ("" if _missing_namespace_or_kind(exc) else str(exc))
        pairs.append((key, predicted, live.get(key), error))
    all_kinds = {*kinds, *((str(m["apiVersion"]), str(m["kind"])) for m in manifests)}
    return compare_app(app, revision, pairs, prunable(cluster, app, sorted(all_kinds), manifests))


def rejected(diff: AppDiff) -> ClusterError | None:
    """A ClusterError naming every resource the dry run refused, or None."""
    refused = diff.errors
    if not refused:
        return None
    details = "; ".join(f"{r.key}: {r.error}" for r in refused)
    return ClusterError(
        f"{diff.app}: the API server rejected {len(refused)} resource(s) in the server-side "
        f"dry run, nothing was applied: {details}"
    )


def app_health(
    cluster: KubeCluster, manifests: Sequence[dict[str, Any]], overrides: HealthOverride | None = None
) -> tuple[Health, dict[ResourceKey, Health | None]]:
    """Health of every manifest's live object, and the app's (the worst)."""
    live = live_objects(cluster, manifests)
    per_resource = {
        ResourceKey.of(m): resource_health(live.get(ResourceKey.of(m)), overrides=overrides)
        for m in manifests
    }
    return worst(per_resource.values()), per_resource


def wait_healthy(
    cluster: KubeCluster,
    manifests: Sequence[dict[str, Any]],
    *,
    timeout: float,
    interval: float = 1.0,
    settled: Sequence[HealthStatus] = (HealthStatus.HEALTHY,),
    overrides: HealthOverride | None = None,
) -> Health:
    """Poll until the app's health is one of ``settled`` or ``timeout`` passes; return the last verdict.

    A failed poll (the API server restarting) is retried until the deadline.
    """
    deadline = time.monotonic() + timeout
    last = Health(HealthStatus.UNKNOWN, "not checked yet")
    while True:
        try:
            last, _ = app_health(cluster, manifests, overrides)
        except ClusterUnavailable as exc:
            last = Health(HealthStatus.UNKNOWN, str(exc))
        if last.status in settled or time.monotonic() >= deadline:
            return last
        time.sleep(interval)


def apply_resources(
    cluster: KubeCluster,
    diff: AppDiff,
    manifests: Sequence[dict[str, Any]],
    options: ApplyOptions,
    on_applied: Callable[[ResourceOutcome], None] | None = None,
) -> list[ResourceOutcome]:
    """Apply ``manifests`` wave by wave (healthy before the next wave), then prune when asked.

    Raises:
        ClusterError: The API refused an object (the message names it).
        ClusterUnavailable: The API server went away; a later run picks up where this stopped.
    """
    status = {r.key: r for r in diff.resources}
    outcomes: list[ResourceOutcome] = []
    groups = waves(manifests)
    for index, (wave, group) in enumerate(groups):
        for manifest in group:
            key = ResourceKey.of(manifest)
            before = status.get(key)
            if options.apply_out_of_sync_only and before is not None and before.status is SyncStatus.SYNCED:
                outcomes.append(ResourceOutcome(key, "unchanged", "ApplyOutOfSyncOnly: already synced"))
                continue
            cluster.apply(manifest, force=options.force_conflicts)
            action = (
                "created"
                if before is None or before.live is None
                else ("configured" if before.status is SyncStatus.OUT_OF_SYNC else "unchanged")
            )
            outcome = ResourceOutcome(key, action, f"wave {wave}")
            outcomes.append(outcome)
            logger.info("%s: %s %s", diff.app, action, key)
            if on_applied:
                on_applied(outcome)
            if key.kind == "CustomResourceDefinition":
                cluster.refresh_discovery()
        if index < len(groups) - 1:
            health = wait_healthy(
                cluster,
                group,
                timeout=options.wave_timeout,
                settled=(HealthStatus.HEALTHY, HealthStatus.SUSPENDED),
                overrides=options.health,
            )
            if health.status not in (HealthStatus.HEALTHY, HealthStatus.SUSPENDED):
                raise ClusterError(
                    f"{diff.app}: sync wave {wave} is {health.status.value} after "
                    f"{options.wave_timeout:.0f} s ({health.message}); later waves were not applied"
                )
    outcomes.extend(prune(cluster, diff, manifests, options))
    return outcomes


def prune(
    cluster: KubeCluster, diff: AppDiff, manifests: Sequence[dict[str, Any]], options: ApplyOptions
) -> list[ResourceOutcome]:
    """Delete (or, with Prune off, report) the tracked resources Git no longer renders, last wave first."""
    outcomes: list[ResourceOutcome] = []
    for resource in reversed([r for r in diff.resources if r.requires_pruning]):
        live = resource.live or {}
        if not options.prune:
            outcomes.append(ResourceOutcome(resource.key, "prune-skipped", "Prune is off: left in place"))
            continue
        if resource_option(live, "Prune") == "false":
            outcomes.append(ResourceOutcome(resource.key, "prune-skipped", "resource says Prune=false"))
            continue
        deleted = cluster.delete(
            str(live.get("apiVersion") or _api_version(resource.key, manifests)),
            resource.key.kind,
            resource.key.name,
            resource.key.namespace or None,
        )
        outcomes.append(
            ResourceOutcome(resource.key, "pruned" if deleted else "unchanged", "no longer in Git")
        )
        logger.info("%s: pruned %s", diff.app, resource.key)
    return outcomes
