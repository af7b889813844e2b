"""Sync one Application: resolve its target, plan (render, diff), dry-run, apply in waves, record history.

This is Argo CD's application controller reduced to what a pipeline needs,
driven by calls rather than a watch loop. A caller resolves an
:class:`~ferry.sync.target.AppTarget` once, builds a
:class:`~ferry.sync.target.SyncPlan` (one render, one diff) and hands that plan
to ``diff``, ``status`` or ``sync``; every method also takes an app name, and
then resolves and plans for that one call. Automated sync follows Argo CD: only
apps with ``syncPolicy.automated``, only when OutOfSync, and each revision
once: a failed (or drifted) revision is tried again only with ``selfHeal``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ferry.argocd.application import Application, load_config_applications
from ferry.config import FerryConfig
from ferry.credentials import CredentialResolver
from ferry.errors import ConfigError, FerryError
from ferry.sync.apply import app_health, diff_app
from ferry.sync.clusters import ClusterResolver
from ferry.sync.execute import ensure_namespace, execute, sync_options
from ferry.sync.history import HistoryStore
from ferry.sync.kube import KubeCluster
from ferry.sync.lua_health import load_health_checks
from ferry.sync.model import AppDiff, HistoryEntry, Initiator, SyncResult
from ferry.sync.plan import prepare
from ferry.sync.render import Rendered, render_application, resolve_revision
from ferry.sync.target import (
    AppRef,
    AppStatus,
    AppTarget,
    SyncPlan,
    auto_sync_decision,
    namespaced_scope,
    unknown_status,
)
from ferry.tools import Tools
from ferry.vcs.clone import CommitInfo
from ferry.vcs.pool import RepoPool

logger = logging.getLogger(__name__)


class SyncEngine:
    """Renders, diffs and syncs the Applications of one ``ferry.yaml``.

    Args:
        config: The loaded configuration.
        credentials: Resolves repository credential references.
        clusters: Connects destinations (a default one is made from ``config``).
        tools: helm and kustomize (found by :func:`~ferry.tools.find_tools` when None).
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

    # -- resolving --------------------------------------------------------------------------

    def applications(self, names: Sequence[str] | None = None) -> list[Application]:
        """The Applications of the config (only ``names`` when given).

        Raises:
            ConfigError: A named app does not exist.
        """
        apps, errors = load_config_applications(self.config)
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

    def application(self, app: AppRef) -> Application:
        """The Application ``app`` names (read from the files only for a name)."""
        if isinstance(app, AppTarget):
            return app.app
        if isinstance(app, Application):
            return app
        return self.applications([app])[0]

    def target(self, app: AppRef) -> AppTarget:
        """The Application with its ``clusters:`` entry and namespace; connects nothing.

        Raises:
            ConfigError: No such app, or its destination names no configured cluster.
        """
        if isinstance(app, AppTarget):
            return app
        application = self.application(app)
        return AppTarget(
            application,
            self.clusters.cluster_for(application),
            application.spec.destination.namespace or "default",
        )

    def connect(self, app: AppRef) -> KubeCluster:
        """A client for the app's cluster, opened once per engine and reused."""
        return self.clusters.connect(self.target(app).entry)

    # -- planning ---------------------------------------------------------------------------

    def render(self, app: AppRef, revision: str | None = None) -> Rendered:
        """Render ``app`` at ``revision`` (default ``targetRevision``)."""
        application = self.application(app)
        with self._repos() as pool:
            clone = pool.clone_at(application.source.repo_url, revision)
            return render_application(application, clone, revision, self._tools)

    def plan(self, app: AppRef, revision: str | None = None) -> SyncPlan:
        """Render ``app`` at ``revision`` (default ``targetRevision``) once and diff it with the cluster."""
        target = self.target(app)
        cluster = self.connect(target)
        return self._planned(target, cluster, self.render(target, revision))

    def refresh(self, plan: SyncPlan) -> SyncPlan:
        """``plan`` diffed again against the live state now, from the same rendered manifests."""
        return self._diffed(plan.target, plan.cluster, plan.rendered, plan.manifests)

    def current(self, app: AppRef, previous: SyncPlan | None = None) -> SyncPlan:
        """A plan at the head of the app's target revision now.

        When the head is still ``previous``'s commit, nothing is rendered: ``previous`` is
        refreshed against the live state. One fetch either way.
        """
        target = self.target(app)
        cluster = self.connect(target)
        with self._repos() as pool:
            clone = pool.clone_at(target.source.repo_url, None)
            head = resolve_revision(clone, target.source.target_revision)
            if previous is not None and previous.target == target and previous.revision == head:
                return self.refresh(previous)
            rendered = render_application(target.app, clone, head, self._tools)
        return self._planned(target, cluster, rendered)

    def desired(self, app: AppRef, rendered: Rendered) -> list[dict[str, Any]]:
        """``rendered``'s manifests prepared for apply (namespaces, tracking marks, sync order)."""
        target = self.target(app)
        cluster = self.connect(target)
        return prepare(
            rendered.manifests,
            app=target.name,
            namespace=target.app.spec.destination.namespace,
            namespaced=namespaced_scope(cluster, rendered.manifests),
        )

    def _planned(self, target: AppTarget, cluster: KubeCluster, rendered: Rendered) -> SyncPlan:
        return self._diffed(target, cluster, rendered, tuple(self.desired(target, rendered)))

    @staticmethod
    def _diffed(
        target: AppTarget, cluster: KubeCluster, rendered: Rendered, manifests: tuple[dict[str, Any], ...]
    ) -> SyncPlan:
        state = HistoryStore(cluster).read(target.name, target.namespace)
        diff = diff_app(
            cluster,
            target.name,
            rendered.revision,
            manifests,
            state.kinds,
            force_conflicts=target.entry.force_conflicts,
        )
        return SyncPlan(target, cluster, rendered, manifests, state, diff)

    def _plan_of(self, app: AppRef | SyncPlan, revision: str | None) -> SyncPlan:
        if isinstance(app, SyncPlan):
            if revision is not None:
                raise TypeError("a plan is rendered at its revision already; pass no revision with it")
            return app
        return self.plan(app, revision)

    def commit(self, app: AppRef, revision: str | None = None) -> CommitInfo:
        """The commit ``revision`` of ``app`` (default: its target revision's head, fetched now)."""
        application = self.application(app)
        with self._repos() as pool:
            clone = pool.clone(application.source.repo_url)
            sha = resolve_revision(clone, revision or application.source.target_revision)
            found: CommitInfo = clone.log(revision=sha, max_count=1)[0]
            return found

    def _repos(self) -> _PoolContext:
        return _PoolContext(RepoPool(self.config, self._credentials, self.config.cache_path / "sync-repos"))

    # -- reading ----------------------------------------------------------------------------

    def diff(self, app: AppRef | SyncPlan, revision: str | None = None) -> AppDiff:
        """Desired against live for ``app`` (what ``ferry diff`` prints)."""
        return self._plan_of(app, revision).diff

    def status(self, app: AppRef | SyncPlan) -> AppStatus:
        """Sync status and health of one app; errors are reported in the status, not raised."""
        application = self.application(app.target if isinstance(app, SyncPlan) else app)
        try:
            plan = self._plan_of(app, None)
            health, _ = app_health(plan.cluster, plan.manifests, self.health_checks)
        except FerryError as exc:
            return unknown_status(application, exc)
        return AppStatus(
            application.name,
            plan.target.entry.name,
            plan.target.namespace,
            plan.revision,
            plan.diff.status,
            health,
            application.is_automated,
            plan.state.last_attempt,
        )

    def wait(self, app: AppRef, timeout: float, *, interval: float = 2.0) -> AppStatus:
        """Poll until ``app`` is Synced and Healthy at its target revision's head; the last status.

        The app is rendered once per head commit; in between, only its live state and
        health are read again. Errors are reported in the status and polled through, as
        a cluster or Git server coming back is what the wait is for. The returned status
        is not ready when ``timeout`` passed first.
        """
        target = self.target(app)
        deadline = time.monotonic() + timeout
        plan: SyncPlan | None = None
        while True:
            try:
                plan = self.current(target, plan)
                status = self.status(plan)
            except FerryError as exc:
                status = unknown_status(target.app, exc)
            if status.ready or time.monotonic() >= deadline:
                return status
            time.sleep(interval)

    def history(self, app: AppRef) -> tuple[HistoryEntry, ...]:
        """The app's sync history, oldest first."""
        target = self.target(app)
        return HistoryStore(self.connect(target)).read(target.name, target.namespace).history

    # -- syncing ----------------------------------------------------------------------------

    def sync(
        self,
        app: AppRef | SyncPlan,
        *,
        revision: str | None = None,
        prune: bool | None = None,
        dry_run: bool = False,
        initiator: Initiator | None = None,
        wait_timeout: float | None = None,
        on_diff: Callable[[AppDiff], None] | None = None,
    ) -> SyncResult:
        """Sync ``app`` to ``revision`` (default ``targetRevision``), or apply a plan built already.

        Args:
            app: Application name, target, or a plan (then ``revision`` must be None).
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
        if isinstance(app, SyncPlan):
            plan = self._plan_of(app, revision)
            options = sync_options(plan.target, bool(prune), self.health_checks)
            creates = options.create_namespace and not dry_run
            if creates and ensure_namespace(plan.cluster, plan.target, plan.manifests, options):
                plan = self.refresh(plan)  # diffed into a namespace that did not exist
        else:
            target = self.target(app)
            cluster = self.connect(target)
            rendered = self.render(target, revision)
            manifests = tuple(self.desired(target, rendered))
            options = sync_options(target, bool(prune), self.health_checks)
            if options.create_namespace and not dry_run:
                # Before the diff, so that its dry run validates every object.
                ensure_namespace(cluster, target, manifests, options)
            plan = self._diffed(target, cluster, rendered, manifests)
        return execute(
            plan,
            options,
            dry_run=dry_run,
            initiator=initiator,
            wait_timeout=wait_timeout,
            on_diff=on_diff,
        )

    def auto_sync(
        self, app: AppRef, *, initiator: Initiator | None = None, wait_timeout: float | None = None
    ) -> tuple[SyncResult | None, str]:
        """Sync ``app`` when automated sync should (:func:`auto_sync_decision`); return (result, reason).

        One render: the plan the decision is made on is the plan that is applied.
        """
        application = self.application(app)
        automated = application.spec.sync_policy.automated
        if automated is None:
            return None, "skipping: syncPolicy.automated is not set"
        plan = self.plan(app)
        go, reason = auto_sync_decision(application, plan.diff.status, plan.revision, plan.state.last_attempt)
        logger.info("%s: auto-sync: %s", application.name, reason)
        if not go:
            return None, reason
        result = self.sync(plan, prune=automated.prune, initiator=initiator, wait_timeout=wait_timeout)
        return result, reason

    def rollback(
        self,
        app: AppRef,
        history_id: int,
        *,
        initiator: Initiator | None = None,
        prune: bool = False,
        wait_timeout: float | None = None,
    ) -> SyncResult:
        """Sync ``app`` back to the revision of history entry ``history_id`` (``argocd app rollback``)."""
        target = self.target(app)
        entries = {e.id: e for e in self.history(target)}
        if history_id not in entries:
            raise ConfigError(
                f"no history entry {history_id} (have {sorted(entries)})", application=target.name
            )
        return self.sync(
            target,
            revision=entries[history_id].revision,
            prune=prune,
            initiator=initiator,
            wait_timeout=wait_timeout,
        )


class _PoolContext:
    def __init__(self, pool: RepoPool) -> None:
        self.pool = pool

    def __enter__(self) -> RepoPool:
        return self.pool

    def __exit__(self, *exc: object) -> None:
        self.pool.close()


__all__ = ["AppStatus", "SyncEngine", "auto_sync_decision"]
