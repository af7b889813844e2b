"""The values the sync engine hands around, and the decisions made over them.

* :class:`AppTarget`: one Application with its ``clusters:`` entry and namespace,
  resolved once and held for as long as the caller works on the app (a release
  holds its targets for the whole run);
* :class:`SyncPlan`: the app rendered at one commit, prepared for apply, and
  diffed against the live state, built once and consumed by ``diff``,
  ``status``, ``sync`` and ``wait``;
* :class:`AppStatus`: what ``ferry apps`` shows for one app;
* :func:`auto_sync_decision` and :func:`planned_outcomes`: pure decisions over them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ferry.argocd.application import Application, ApplicationSource
from ferry.config import ClusterConfig
from ferry.errors import ClusterError
from ferry.sync.history import Attempt, SyncState
from ferry.sync.kube import KubeCluster
from ferry.sync.model import AppDiff, Health, HealthStatus, ResourceOutcome, SyncStatus
from ferry.sync.render import Rendered


@dataclass(frozen=True, slots=True)
class AppTarget:
    """An Application and where it goes: its ``clusters:`` entry and its namespace.

    Resolving one reads the Application files and the cluster entries, and
    connects nothing: a cluster that is down fails the call that needs it,
    which is the one the caller retries.

    Attributes:
        app: The Application as it was read.
        entry: The ``clusters:`` entry ``spec.destination`` names.
        namespace: ``spec.destination.namespace``, ``default`` when unset.
    """

    app: Application
    entry: ClusterConfig
    namespace: str

    @property
    def name(self) -> str:
        return self.app.name

    @property
    def source(self) -> ApplicationSource:
        return self.app.source

    def __str__(self) -> str:
        # The name: task run names and per-run cache keys format a target as its app.
        return self.app.name


#: An Application named, read, or resolved to its target; the engine accepts any of them.
AppRef = str | Application | AppTarget


@dataclass(frozen=True, slots=True)
class SyncPlan:
    """One app rendered at one commit and compared with the live state of its cluster.

    Attributes:
        target: The app and its destination.
        cluster: The connected client of the destination.
        rendered: The manifests as the tool produced them, with the commit and effective source.
        manifests: The same prepared for apply (namespaces, tracking marks, sync order).
        state: The app's history ConfigMap as read for this diff.
        diff: Desired against live, as the server-side dry run predicts it.
    """

    target: AppTarget
    cluster: KubeCluster
    rendered: Rendered
    manifests: tuple[dict[str, Any], ...]
    state: SyncState
    diff: AppDiff

    @property
    def revision(self) -> str:
        """The commit SHA rendered."""
        return self.rendered.revision

    @property
    def kinds(self) -> list[tuple[str, str]]:
        """``(apiVersion, kind)`` of every desired object, sorted: what the history records."""
        return sorted({(str(m["apiVersion"]), str(m["kind"])) for m in self.manifests})


@dataclass(frozen=True, slots=True)
class AppStatus:
    """What ``ferry apps`` shows for one Application (``argocd app list``)."""

    app: str
    cluster: str
    namespace: str
    revision: str
    sync: SyncStatus
    health: Health
    automated: bool
    last_attempt: Attempt | None
    error: str = ""

    @property
    def ready(self) -> bool:
        """Synced and Healthy: what a release waits for in Dev."""
        return self.sync is SyncStatus.SYNCED and self.health.status is HealthStatus.HEALTHY


def unknown_status(app: Application, error: Exception) -> AppStatus:
    """The status of an app that could not be rendered or read: Unknown, with the error."""
    return AppStatus(
        app.name,
        app.spec.destination.name or app.spec.destination.server or "",
        app.spec.destination.namespace or "",
        "",
        SyncStatus.UNKNOWN,
        Health(HealthStatus.UNKNOWN, str(error)),
        app.is_automated,
        None,
        str(error),
    )


def auto_sync_decision(
    app: Application, sync: SyncStatus, revision: str, last_attempt: Attempt | None
) -> tuple[bool, str]:
    """Whether automated sync should sync ``app`` now, and why (Argo CD's rules, per the issue).

    >>> from ferry.argocd.application import parse_application
    >>> doc = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "a"},
    ...        "spec": {"source": {"repoURL": "file:///r"}, "syncPolicy": {"automated": {}}}}
    >>> auto_sync_decision(parse_application(doc, source="t"), SyncStatus.OUT_OF_SYNC, "abc",
    ...                    Attempt("abc", False, "t"))
    (False, 'skipping: the previous sync of abc failed, and selfHeal is off')
    """
    automated = app.spec.sync_policy.automated
    if automated is None:
        return False, "skipping: syncPolicy.automated is not set"
    if last_attempt is not None and last_attempt.running:
        # Nobody else finishes an attempt that a killed process left Running: this sync does,
        # even when every resource got applied (it then applies nothing and records the sync).
        return (
            True,
            f"{sync.value} at {revision[:12]}; the sync of {last_attempt.revision[:12]} never finished",
        )
    if sync is SyncStatus.SYNCED:
        return False, f"already Synced to {revision[:12]}"
    if last_attempt is not None and last_attempt.revision == revision and not automated.self_heal:
        if not last_attempt.succeeded:
            return False, f"skipping: the previous sync of {revision[:12]} failed, and selfHeal is off"
        return False, f"skipping: {revision[:12]} was already synced; drift is corrected only with selfHeal"
    return True, f"OutOfSync at {revision[:12]}"


def planned_outcomes(diff: AppDiff, prune: bool) -> tuple[ResourceOutcome, ...]:
    """What a sync of ``diff`` would do to each resource: the result of a dry-run sync."""
    planned: list[ResourceOutcome] = []
    for resource in diff.resources:
        key = resource.key
        if resource.requires_pruning:
            planned.append(ResourceOutcome(key, "would prune" if prune else "prune-skipped"))
        elif resource.error:
            planned.append(ResourceOutcome(key, "failed", resource.error))
        elif resource.live is None:
            planned.append(ResourceOutcome(key, "would create"))
        elif resource.status is SyncStatus.OUT_OF_SYNC:
            planned.append(ResourceOutcome(key, "would configure"))
        else:
            planned.append(ResourceOutcome(key, "unchanged"))
    return tuple(planned)


def namespaced_scope(cluster: KubeCluster, rendered: Sequence[dict[str, Any]]) -> Callable[[str, str], bool]:
    """``namespaced(apiVersion, kind)``, answering for CRDs the app itself installs from their spec."""
    crd_scopes = {
        (
            str((m.get("spec") or {}).get("group")),
            str(((m.get("spec") or {}).get("names") or {}).get("kind")),
        ): (m.get("spec") or {}).get("scope") == "Namespaced"
        for m in rendered
        if m.get("kind") == "CustomResourceDefinition"
    }

    def namespaced(api_version: str, kind: str) -> bool:
        try:
            return cluster.namespaced(api_version, kind)
        except ClusterError:
            group = api_version.rpartition("/")[0]
            if (group, kind) in crd_scopes:
                return crd_scopes[(group, kind)]
            raise

    return namespaced
