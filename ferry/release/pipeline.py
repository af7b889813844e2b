"""The release pipeline's steps, on top of the sync engine: which apps, Dev readiness, canaries.

Each function makes one decision or one change and is safe to repeat, so the
Prefect layer can wrap each in a retrying task and a flow run re-executed after
a suspension converges instead of deploying twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ferry.argocd.application import Application
from ferry.config import FerryConfig
from ferry.errors import ConfigError, DevNotReady
from ferry.release.canary import (
    KRUISE_API,
    ArgoRollout,
    CanaryProvider,
    KruiseRollout,
    NativeCanary,
    changed_deployments,
)
from ferry.release.holds import get_hold
from ferry.schema.releases import ENVIRONMENT_LABEL, ENVIRONMENTS, SERVICE_LABEL, CanaryConfig, ReleaseConfig
from ferry.sync.engine import SyncEngine
from ferry.sync.render import Rendered
from ferry.sync.target import AppRef, AppStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ResolvedRelease:
    """One release with its apps found: environment → Application name."""

    config: ReleaseConfig
    apps: dict[str, str]
    canaries: dict[str, CanaryConfig] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.config.name

    def canary(self, env: str) -> CanaryConfig:
        return self.canaries.get(env, CanaryConfig())


def resolve(config: FerryConfig, engine: SyncEngine, release: ReleaseConfig) -> ResolvedRelease:
    """The apps of ``release``, listed in it or found by its selector label."""
    apps = {env: e.app for env, e in release.environments.items()}
    canaries = {env: e.canary for env, e in release.environments.items()}
    if release.selector:
        for app in engine.applications():
            labels = app.metadata.labels
            env = labels.get(ENVIRONMENT_LABEL)
            if labels.get(SERVICE_LABEL) == release.selector and env in ENVIRONMENTS:
                if env in apps and apps[env] != app.name:
                    raise ConfigError(
                        f"release {release.name!r}: both {apps[env]} and {app.name} are its {env} app",
                        key=f"releases.{release.name}",
                    )
                apps[env] = app.name
                canaries.setdefault(env, release.canary.get(env, CanaryConfig()))
    return ResolvedRelease(release, apps, canaries)


def release_of(config: FerryConfig, engine: SyncEngine, app: str) -> tuple[ResolvedRelease, str] | None:
    """The release ``app`` belongs to and its environment there, or None."""
    for release in config.releases:
        resolved = resolve(config, engine, release)
        for env, name in resolved.apps.items():
            if name == app:
                return resolved, env
    return None


def environment_of(config: FerryConfig, app: Application) -> tuple[str, str] | None:
    """``(release, environment)`` of ``app``, from the releases' lists or the app's own labels.

    Needs no cluster or clone: the image updater labels its events with it.
    """
    labels = app.metadata.labels
    for release in config.releases:
        for env, entry in release.environments.items():
            if entry.app == app.name:
                return release.name, env
        labelled = labels.get(ENVIRONMENT_LABEL)
        if release.selector and labels.get(SERVICE_LABEL) == release.selector and labelled in ENVIRONMENTS:
            return release.name, str(labelled)
    return None


def wait_dev_ready(engine: SyncEngine, app: AppRef, timeout: float, *, interval: float = 2.0) -> AppStatus:
    """Wait until Dev is Synced (by auto-sync) and Healthy at its branch head.

    The head is what the write-back pushed to, so Synced there includes the
    commit that triggered the release. Dev is rendered once per head commit;
    the polls in between read only its live state (:meth:`SyncEngine.wait`).

    Raises:
        DevNotReady: Dev is on hold, or not Synced and Healthy within ``timeout``.
    """
    target = engine.target(app)
    hold = get_hold(engine, target)
    if hold is not None and hold.sync:
        raise DevNotReady(
            f"{target.name} is on hold ({hold.reason}); release it with `ferry hold release {target.name}`"
        )
    status = engine.wait(target, timeout, interval=interval)
    if status.ready:
        logger.info("%s: Synced and Healthy at %s", target.name, status.revision[:12])
        return status
    raise DevNotReady(
        f"{target.name} is {status.sync.value}/{status.health.status.value} at {status.revision[:12] or '?'} "
        f"after {timeout:.0f}s{': ' + status.error if status.error else ''}"
    )


def _rendered(rendered: Rendered, group: str, name: str) -> dict[str, Any] | None:
    """The Rollout ``name`` of ``group`` in the app's ``rendered`` manifests, if it is there."""
    for manifest in rendered.manifests:
        api_version = str(manifest.get("apiVersion", ""))
        if (
            manifest.get("kind") == "Rollout"
            and api_version.startswith(group + "/")
            and (manifest.get("metadata") or {}).get("name") == name
        ):
            return manifest
    return None


def canary_provider(
    engine: SyncEngine,
    app: AppRef,
    revision: str,
    canary: CanaryConfig,
    *,
    poll_interval: float = 0.5,
) -> CanaryProvider | None:
    """The provider that rolls ``app`` out after (kruise, argo) or instead of (native) its sync."""
    if canary.provider == "none":
        return None
    target = engine.target(app)
    cluster, namespace = engine.connect(target), target.namespace
    if canary.provider == "kruise":
        rendered_rollout = _rendered(
            engine.render(target, revision), "rollouts.kruise.io", str(canary.resource)
        )
        api_version = str(rendered_rollout["apiVersion"]) if rendered_rollout else KRUISE_API
        return KruiseRollout(cluster, namespace, str(canary.resource), poll_interval, api_version)
    if canary.provider == "argo":
        return ArgoRollout(cluster, namespace, str(canary.resource), poll_interval)
    # The native canary compares the prepared manifests with the live Deployments itself.
    desired = engine.desired(target, engine.render(target, revision))
    changed = changed_deployments(cluster, namespace, desired, canary.resource)
    return NativeCanary(cluster, namespace, changed, canary.steps, poll_interval)
