"""Carry out a sync plan: create the namespace, dry-run, apply in waves, prune, record the history.

The engine builds the plan; this module only acts on it, so the one render a
plan holds is the one that is applied.
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Callable, Sequence
from typing import Any

from ferry.errors import FerryError
from ferry.sync.apply import ApplyOptions, app_health, apply_resources, rejected, wait_healthy
from ferry.sync.health import HealthOverride
from ferry.sync.history import Attempt, HistoryStore, now
from ferry.sync.kube import KubeCluster
from ferry.sync.model import AppDiff, HistoryEntry, Initiator, SyncResult
from ferry.sync.plan import container_images, namespace_to_create
from ferry.sync.target import AppTarget, SyncPlan, planned_outcomes

logger = logging.getLogger(__name__)


def sync_options(target: AppTarget, prune: bool, health: HealthOverride | None) -> ApplyOptions:
    """The apply options of ``target``'s app: its sync options and its cluster's conflict policy."""
    policy = target.app.spec.sync_policy
    return ApplyOptions(
        prune=prune,
        force_conflicts=target.entry.force_conflicts,
        apply_out_of_sync_only=(policy.option("ApplyOutOfSyncOnly") or "").lower() == "true",
        create_namespace=(policy.option("CreateNamespace") or "").lower() == "true",
        health=health,
    )


def execute(
    plan: SyncPlan,
    options: ApplyOptions,
    *,
    dry_run: bool = False,
    initiator: Initiator | None = None,
    wait_timeout: float | None = None,
    on_diff: Callable[[AppDiff], None] | None = None,
) -> SyncResult:
    """Apply ``plan`` (see :meth:`~ferry.sync.engine.SyncEngine.sync`), its namespace made already."""
    target, cluster = plan.target, plan.cluster
    diff = plan.diff
    if on_diff is not None:
        on_diff(diff)
    if dry_run:
        return SyncResult(
            target.name, plan.revision, True, planned_outcomes(diff, options.prune), None, None, diff
        )
    store = HistoryStore(cluster)
    refusal = rejected(diff)
    if refusal is not None:
        _record_failure(store, plan, refusal)
        raise refusal
    who = initiator or Initiator(getpass.getuser())
    if diff.out_of_sync or any(r.requires_pruning for r in diff.resources):
        # Written before the first apply: a process killed mid-apply leaves the truth behind.
        by = f"run {who.run_id}" if who.run_id else who.user
        started = Attempt(
            plan.revision, False, now(), f"syncing to {plan.revision[:12]} ({by})", running=True
        )
        store.record_attempt(target.name, target.namespace, started, plan.kinds)
    try:
        outcomes = apply_resources(cluster, diff, plan.manifests, options)
    except FerryError as exc:
        _record_failure(store, plan, exc)
        raise
    recorded = store.record_success(
        target.name,
        target.namespace,
        HistoryEntry(
            0,
            plan.revision,
            container_images(plan.manifests),
            now(),
            who.user,
            who.run_id,
            plan.rendered.source.model_dump(by_alias=True, exclude_none=True, mode="json"),
        ),
        target.app.spec.revision_history_limit,
        plan.kinds,
    )
    if wait_timeout:
        health = wait_healthy(cluster, plan.manifests, timeout=wait_timeout, overrides=options.health)
    else:
        health, _ = app_health(cluster, plan.manifests, options.health)
    logger.info(
        "%s: synced to %s (history id %d), health %s",
        target.name,
        plan.revision[:12],
        recorded.id,
        health.status.value,
    )
    return SyncResult(target.name, plan.revision, False, tuple(outcomes), health, recorded.id, diff)


def _record_failure(store: HistoryStore, plan: SyncPlan, error: BaseException) -> None:
    target = plan.target
    try:
        store.record_attempt(
            target.name, target.namespace, Attempt(plan.revision, False, now(), str(error)[:1000]), plan.kinds
        )
    except FerryError as exc:
        # The API server may be the very thing that failed; the next run records again.
        logger.warning("%s: could not record the failed sync attempt: %s", target.name, exc)


def ensure_namespace(
    cluster: KubeCluster, target: AppTarget, manifests: Sequence[dict[str, Any]], options: ApplyOptions
) -> bool:
    """Create the namespace the app syncs into when it does not exist; True when it was created.

    Before the diff: a dry run into a namespace that does not exist is refused before
    validation, so it would not validate the objects.
    """
    # Not tracked by the app, so pruning never deletes a namespace (and everything in it).
    name = namespace_to_create(manifests, target.namespace)
    if name is None:
        return False
    if cluster.get("v1", "Namespace", name, None) is not None:
        return False
    cluster.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        force=options.force_conflicts,
    )
    logger.info("created namespace %s (CreateNamespace=true)", name)
    return True
