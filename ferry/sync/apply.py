"""Talking to the cluster for one sync: live state, server-side dry run, apply in waves, prune.

The dry run doubles as the diff (see :mod:`ferry.sync.diff`) and as the safety
check Argo CD runs before a sync: a real apply starts only when the API server
accepted every object in a dry run, so an invalid resource never leaves the app
half-applied. Objects the listed live state shows in sync with an apply Ferry made
of today's manifest (:mod:`ferry.sync.listed`) are neither dry-run nor applied.
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
from ferry.sync.listed import carries_applied_hash, prune_candidates, read_live, selector_of, trusted_in_sync
from ferry.sync.model import (
    AppDiff,
    Health,
    HealthStatus,
    ResourceDiff,
    ResourceKey,
    ResourceOutcome,
    SyncStatus,
)
from ferry.sync.plan import APP_LABEL, app_label_value, resource_option, waves

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
    """The live counterpart of each manifest that exists: a LIST per kind by the app's label, and a
    GET only for what those miss (see :func:`~ferry.sync.listed.read_live`)."""
    return dict(read_live(cluster, manifests, selector=selector_of(manifests)).objects)


def diff_app(
    cluster: KubeCluster,
    app: str,
    revision: str,
    manifests: Sequence[dict[str, Any]],
    kinds: Sequence[tuple[str, str]],
    *,
    force_conflicts: bool = True,
) -> AppDiff:
    """Compare the prepared ``manifests`` with the cluster's listed state, dry-running only what may differ.

    The live state comes from one labelled LIST per kind (the same lists find the prune
    candidates); a listed object that :func:`~ferry.sync.listed.trusted_in_sync` accepts is
    Synced without a dry run, every other manifest is dry-run applied. A refusal of the dry
    run (an invalid object) does not stop the comparison: the resource is reported OutOfSync
    with the server's message.
    """
    state = read_live(cluster, manifests, selector=f"{APP_LABEL}={app_label_value(app)}", kinds=kinds)
    pairs: list[Comparison] = []
    for manifest in manifests:
        key = ResourceKey.of(manifest)
        live = state.objects.get(key)
        if trusted_in_sync(manifest, live):
            pairs.append((key, live, live, ""))
            continue
        try:
            predicted: dict[str, Any] = cluster.apply(manifest, dry_run=True, force=force_conflicts)
            error = ""
        except ClusterError as exc:
            # A namespace or kind that does not exist yet is no refusal: the diff shows the
            # manifest. A refusal shows only the server's message (compare() drops it).
            predicted, error = manifest, ("" if _missing_namespace_or_kind(exc) else str(exc))
        pairs.append((key, predicted, live, error))
    marked = {
        ResourceKey.of(m) for m in manifests if carries_applied_hash(m, state.objects.get(ResourceKey.of(m)))
    }
    leftovers = prune_candidates(state.listed, app, manifests)
    return compare_app(app, revision, pairs, leftovers, marked=marked)


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


def _not_applied(before: ResourceDiff | None, options: ApplyOptions) -> str:
    """Why a resource is left alone by the sync ('' when it is applied).

    A Synced resource carrying its applied hash is skipped always: applying it would change
    nothing, and the history is written all the same. One without the mark (applied before
    Ferry wrote marks, or its manifest changed in a way the live object does not show) is
    applied, to write the mark, unless ``ApplyOutOfSyncOnly`` asks for nothing but OutOfSync.
    """
    if before is None or before.status is not SyncStatus.SYNCED:
        return ""
    if options.apply_out_of_sync_only:
        return "ApplyOutOfSyncOnly: already synced"
    return "in sync: not applied" if before.marked else ""


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
            skipped = _not_applied(before, options)
            if skipped:
                outcomes.append(ResourceOutcome(key, "unchanged", skipped))
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
