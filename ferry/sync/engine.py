"""Sync one Application: render at a revision, diff, dry-run, apply in waves, prune, record history.

This is Argo CD's application controller reduced to what a pipeline needs,
driven by calls rather than a watch loop. Automated sync follows Argo CD:
only apps with ``syncPolicy.automated``, only when OutOfSync, and each revision
once: a failed (or drifted) revision is tried again only with ``selfHeal``.
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferry.argocd.application import Application, load_applications
from ferry.config import ClusterConfig, FerryConfig
from ferry.credentials import CredentialResolver
from ferry.errors import ClusterError, ConfigError, FerryError
from ferry.sync.apply import ApplyOptions, app_health, apply_resources, diff_app, rejected, wait_healthy
from ferry.sync.clusters import ClusterResolver
from ferry.sync.history import Attempt, HistoryStore, now
from ferry.sync.kube import KubeCluster
from ferry.sync.lua_health import load_health_checks
from ferry.sync.model import (
    AppDiff,
    Health,
    HealthStatus,
    HistoryEntry,
    Initiator,
    ResourceKey,
    ResourceOutcome,
    SyncResult,
    SyncStatus,
)
from ferry.sync.plan import container_images, namespace_to_create, prepare
from ferry.sync.render import Rendered, Tools, render_application, resolve_revision
from ferry.update.repos import RepoPool
from ferry.vcs.clone import CommitInfo

logger = logging.getLogger(__name__)


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
    if sync is SyncStatus.SYNCED:
        return False, f"already Synced to {revision[:12]}"
    if last_attempt is not None and last_attempt.revision == revision and not automated.self_heal:
        if not last_attempt.succeeded:
            return False, f"skipping: the previous sync of {revision[:12]} failed, and selfHeal is off"
        return False, f"skipping: {revision[:12]} was already synced; drift is corrected only with selfHeal"
    return True, f"OutOfSync at {revision[:12]}"


class SyncEngine:
    """Renders, diffs and syncs the Applications of one ``ferry.yaml``.

    Args:
        config: The loaded configuration.
        credentials: Resolves repository credential references.
        clusters: Connects destinations (a default one is made from ``config``).
        tools: helm and kustomize (found by :func:`~ferry.sync.render.find_tools` when None).
    """

    def __init__(
        self,
        config: FerryConfig,
        *,
        credentials: CredentialResolver | None = None,
        clusters: ClusterResolver | None = None,
        tools: Tools | None = None,
    ) -> None:
        self.config = config
        self._credentials = credentials or CredentialResolver(base_dir=Path(config.base_dir))
        self.clusters = clusters or ClusterResolver(config)
        self._tools = tools
        # Read once: a bad argocd-cm file is a ConfigError naming it, before any cluster is touched.
        self.health_checks = load_health_checks(config)

    def __enter__(self) -> SyncEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every cluster connection."""
        self.clusters.close()

    # -- reading ----------------------------------------------------------------------------

    def applications(self, names: Sequence[str] | None = None) -> list[Application]:
        """The Applications of the config (only ``names`` when given).

        Raises:
            ConfigError: A named app does not exist.
        """
        apps, errors = load_applications(self.config.applications_dir)
        for error in errors:
            logger.warning("ignoring an invalid Application: %s", error)
        if names:
            missing = sorted(set(names) - {a.name for a in apps})
            if missing:
                raise ConfigError(
                    "no such Application",
                    application=", ".join(missing),
                    source=str(self.config.applications_dir),
                )
            apps = [a for a in apps if a.name in names]
        return apps

    def application(self, name: str) -> Application:
        """One Application by name."""
        return self.applications([name])[0]

    def render(self, app: Application, revision: str | None = None) -> Rendered:
        """Render ``app`` at ``revision`` (default ``targetRevision``)."""
        with self._repos() as pool:
            clone = pool.clone_at(app.source.repo_url, revision)
            return render_application(app, clone, revision, self._tools)

    def commit(self, name: str, revision: str | None = None) -> CommitInfo:
        """The commit ``revision`` of app ``name`` (default: its target revision's head, fetched now)."""
        app = self.application(name)
        with self._repos() as pool:
            clone = pool.clone(app.source.repo_url)
            sha = resolve_revision(clone, revision or app.source.target_revision)
            return clone.log(revision=sha, max_count=1)[0]

    def _repos(self) -> _PoolContext:
        return _PoolContext(RepoPool(self.config, self._credentials, self.config.cache_path / "sync-repos"))

    def destination(self, app: Application) -> tuple[ClusterConfig, KubeCluster, str]:
        """The cluster entry, a connected client and the namespace of ``app``."""
        entry = self.clusters.cluster_for(app)
        return entry, self.clusters.connect(entry), app.spec.destination.namespace or "default"

    def desired(self, app: Application, cluster: KubeCluster, rendered: Rendered) -> list[dict[str, Any]]:
        """The rendered manifests, prepared for apply (namespaces, tracking marks, sync order)."""
        return prepare(
            rendered.manifests,
            app=app.name,
            namespace=app.spec.destination.namespace,
            namespaced=_scope(cluster, rendered.manifests),
        )

    def diff(self, name: str, revision: str | None = None) -> AppDiff:
        """Desired against live for app ``name`` (what ``ferry diff`` prints)."""
        app = self.application(name)
        entry, cluster, namespace = self.destination(app)
        rendered = self.render(app, revision)
        manifests = self.desired(app, cluster, rendered)
        state = HistoryStore(cluster).read(app.name, namespace)
        return diff_app(
            cluster,
            app.name,
            rendered.revision,
            manifests,
            state.kinds,
            force_conflicts=entry.force_conflicts,
        )

    def status(self, name: str) -> AppStatus:
        """Sync status and health of one app; errors are reported in the status, not raised."""
        app = self.application(name)
        try:
            entry, cluster, namespace = self.destination(app)
            rendered = self.render(app)
            manifests = self.desired(app, cluster, rendered)
            store = HistoryStore(cluster)
            state = store.read(app.name, namespace)
            diff = diff_app(
                cluster,
                app.name,
                rendered.revision,
                manifests,
                state.kinds,
                force_conflicts=entry.force_conflicts,
            )
            health, _ = app_health(cluster, manifests, self.health_checks)
        except FerryError as exc:
            return AppStatus(
                app.name,
                app.spec.destination.name or app.spec.destination.server or "",
                app.spec.destination.namespace or "",
                "",
                SyncStatus.UNKNOWN,
                Health(HealthStatus.UNKNOWN, str(exc)),
                app.is_automated,
                None,
                str(exc),
            )
        return AppStatus(
            app.name,
            entry.name,
            namespace,
            rendered.revision,
            diff.status,
            health,
            app.is_automated,
            state.last_attempt,
        )

    def history(self, name: str) -> tuple[HistoryEntry, ...]:
        """The app's sync history, oldest first."""
        app = self.application(name)
        _, cluster, namespace = self.destination(app)
        return HistoryStore(cluster).read(app.name, namespace).history

    # -- syncing ----------------------------------------------------------------------------

    def sync(
        self,
        name: str,
        *,
        revision: str | None = None,
        prune: bool | None = None,
        dry_run: bool = False,
        initiator: Initiator | None = None,
        wait_timeout: float | None = None,
        on_diff: Callable[[AppDiff], None] | None = None,
    ) -> SyncResult:
        """Sync app ``name`` to ``revision`` (default ``targetRevision``).

        Args:
            name: Application name.
            revision: Branch, tag or SHA to render.
            prune: Delete resources Git no longer renders; None means ``automated.prune``
                for automated syncs and False otherwise.
            dry_run: Diff and server-side dry run only; change nothing, record nothing.
            initiator: Who asked (recorded in history); the OS user when None.
            wait_timeout: Wait this long for the app to become Healthy after applying.
            on_diff: Called with the diff before anything is applied (the flow publishes it).

        Raises:
            ClusterError: The API refused a resource (all refusals are named); nothing was
                applied when the refusal came in the dry run.
            ClusterUnavailable: The API server went away; re-running converges.
            ConfigError, ToolError, NotFoundError: Rendering failed.
        """
        app = self.application(name)
        entry, cluster, namespace = self.destination(app)
        rendered = self.render(app, revision)
        manifests = self.desired(app, cluster, rendered)
        policy = app.spec.sync_policy
        options = ApplyOptions(
            prune=bool(prune),
            force_conflicts=entry.force_conflicts,
            apply_out_of_sync_only=(policy.option("ApplyOutOfSyncOnly") or "").lower() == "true",
            create_namespace=(policy.option("CreateNamespace") or "").lower() == "true",
            health=self.health_checks,
        )
        if options.create_namespace and not dry_run:
            # Before the dry run, so that it can validate every object (a dry run into a
            # namespace that does not exist is refused before validation).
            _ensure_namespace(cluster, namespace_to_create(manifests, namespace), options)
        store = HistoryStore(cluster)
        state = store.read(app.name, namespace)
        diff = diff_app(
            cluster,
            app.name,
            rendered.revision,
            manifests,
            state.kinds,
            force_conflicts=entry.force_conflicts,
        )
        if on_diff is not None:
            on_diff(diff)
        if dry_run:
            return SyncResult(app.name, rendered.revision, True, _planned(diff, options), None, None, diff)
        kinds = sorted({(str(m["apiVersion"]), str(m["kind"])) for m in manifests})
        refusal = rejected(diff)
        if refusal is not None:
            self._record_failure(store, app, namespace, rendered.revision, refusal, kinds)
            raise refusal
        try:
            outcomes = apply_resources(cluster, diff, manifests, options)
        except FerryError as exc:
            self._record_failure(store, app, namespace, rendered.revision, exc, kinds)
            raise
        who = initiator or Initiator(getpass.getuser())
        recorded = store.record_success(
            app.name,
            namespace,
            HistoryEntry(
                0,
                rendered.revision,
                container_images(manifests),
                now(),
                who.user,
                who.run_id,
                rendered.source.model_dump(by_alias=True, exclude_none=True, mode="json"),
            ),
            app.spec.revision_history_limit,
            kinds,
        )
        if wait_timeout:
            health = wait_healthy(cluster, manifests, timeout=wait_timeout, overrides=self.health_checks)
        else:
            health, _ = app_health(cluster, manifests, self.health_checks)
        logger.info(
            "%s: synced to %s (history id %d), health %s",
            app.name,
            rendered.revision[:12],
            recorded.id,
            health.status.value,
        )
        return SyncResult(app.name, rendered.revision, False, tuple(outcomes), health, recorded.id, diff)

    def auto_sync(
        self, name: str, *, initiator: Initiator | None = None, wait_timeout: float | None = None
    ) -> tuple[SyncResult | None, str]:
        """Sync ``name`` when automated sync should (:func:`auto_sync_decision`); return (result, reason)."""
        app = self.application(name)
        automated = app.spec.sync_policy.automated
        if automated is None:
            return None, "skipping: syncPolicy.automated is not set"
        _, cluster, namespace = self.destination(app)
        status = self.diff(name)
        last = HistoryStore(cluster).read(app.name, namespace).last_attempt
        go, reason = auto_sync_decision(app, status.status, status.revision, last)
        logger.info("%s: auto-sync: %s", app.name, reason)
        if not go:
            return None, reason
        result = self.sync(
            name,
            revision=status.revision,
            prune=automated.prune,
            initiator=initiator,
            wait_timeout=wait_timeout,
        )
        return result, reason

    def rollback(
        self,
        name: str,
        history_id: int,
        *,
        initiator: Initiator | None = None,
        prune: bool = False,
        wait_timeout: float | None = None,
    ) -> SyncResult:
        """Sync ``name`` back to the revision of history entry ``history_id`` (``argocd app rollback``)."""
        entries = {e.id: e for e in self.history(name)}
        if history_id not in entries:
            raise ConfigError(f"no history entry {history_id} (have {sorted(entries)})", application=name)
        return self.sync(
            name,
            revision=entries[history_id].revision,
            prune=prune,
            initiator=initiator,
            wait_timeout=wait_timeout,
        )

    @staticmethod
    def _record_failure(
        store: HistoryStore,
        app: Application,
        namespace: str,
        revision: str,
        error: BaseException,
        kinds: Sequence[tuple[str, str]],
    ) -> None:
        try:
            store.record_attempt(
                app.name, namespace, Attempt(revision, False, now(), str(error)[:1000]), kinds
            )
        except FerryError as exc:
            # The API server may be the very thing that failed; the next run records again.
            logger.warning("%s: could not record the failed sync attempt: %s", app.name, exc)


class _PoolContext:
    def __init__(self, pool: RepoPool) -> None:
        self.pool = pool

    def __enter__(self) -> RepoPool:
        return self.pool

    def __exit__(self, *exc: object) -> None:
        self.pool.close()


def _scope(cluster: KubeCluster, rendered: Sequence[dict[str, Any]]) -> Callable[[str, str], bool]:
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


def _ensure_namespace(cluster: KubeCluster, name: str | None, options: ApplyOptions) -> None:
    # Not tracked by the app, so pruning never deletes a namespace (and everything in it).
    if name is None:
        return
    if cluster.get("v1", "Namespace", name, None) is None:
        cluster.apply(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
            force=options.force_conflicts,
        )
        logger.info("created namespace %s (CreateNamespace=true)", name)


def _planned(diff: AppDiff, options: ApplyOptions) -> tuple[ResourceOutcome, ...]:
    planned: list[ResourceOutcome] = []
    for resource in diff.resources:
        key: ResourceKey = resource.key
        if resource.requires_pruning:
            planned.append(ResourceOutcome(key, "would prune" if options.prune else "prune-skipped"))
        elif resource.error:
            planned.append(ResourceOutcome(key, "failed", resource.error))
        elif resource.live is None:
            planned.append(ResourceOutcome(key, "would create"))
        elif resource.status is SyncStatus.OUT_OF_SYNC:
            planned.append(ResourceOutcome(key, "would configure"))
        else:
            planned.append(ResourceOutcome(key, "unchanged"))
    return tuple(planned)


__all__ = ["AppStatus", "SyncEngine", "auto_sync_decision"]
