"""The release pipeline's steps, on top of the sync engine: which apps, Dev readiness, canaries.

Each function makes one decision or one change and is safe to repeat, so the
Prefect layer can wrap each in a retrying task and a flow run re-executed after
a suspension converges instead of deploying twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ferry.argocd import applicationset
from ferry.argocd.application import Application, load_manifests
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
from ferry.release.fleet import FleetView, Wave, initial_view
from ferry.release.holds import get_hold
from ferry.schema.releases import (
    ENVIRONMENT_LABEL,
    ENVIRONMENTS,
    SERVICE_LABEL,
    CanaryConfig,
    ReleaseConfig,
    WaveConfig,
)
from ferry.sync.engine import SyncEngine
from ferry.sync.render import Rendered
from ferry.sync.target import AppRef, AppStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ResolvedRelease:
    """One release with its apps found: environment → Application name, or → its waves.

    ``clusters`` names each app's destination cluster, for the fleet view.
    """

    config: ReleaseConfig
    apps: dict[str, str]
    canaries: dict[str, CanaryConfig] = field(default_factory=dict)
    waves: dict[str, tuple[Wave, ...]] = field(default_factory=dict)
    clusters: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.config.name

    def canary(self, env: str) -> CanaryConfig:
        return self.canaries.get(env, CanaryConfig())

    def environments(self) -> list[str]:
        """The environments with an app or waves, in promotion order."""
        return [env for env in ENVIRONMENTS if env in self.apps or env in self.waves]

    def members(self) -> dict[str, str]:
        """Every app of the release → its environment."""
        found = {app: env for env, app in self.apps.items()}
        for env, waves in self.waves.items():
            found.update({app: env for wave in waves for app in wave.apps})
        return found

    def view(self) -> FleetView:
        """The fleet view before anything ran."""
        singles = [(env, self.apps[env], self.clusters.get(self.apps[env], "")) for env in self.apps]
        waves = [
            (env, wave, [self.clusters.get(app, "") for app in wave.apps])
            for env, env_waves in self.waves.items()
            for wave in env_waves
        ]
        return initial_view(self.name, singles, waves)


def resolve(config: FerryConfig, engine: SyncEngine, release: ReleaseConfig) -> ResolvedRelease:
    """The apps of ``release``, listed in it or found by its selector label; its waves, resolved."""
    apps = {env: e.app for env, e in release.environments.items() if e.app is not None}
    canaries = {env: e.canary for env, e in release.environments.items()}
    labelled: dict[str, list[Application]] = {}
    # Read the applications directory once: each lookup by name would read it all again.
    known = {a.name: a for a in engine.applications()}
    if release.selector:
        for app in known.values():
            labels = app.metadata.labels
            env = labels.get(ENVIRONMENT_LABEL)
            if labels.get(SERVICE_LABEL) != release.selector or env not in ENVIRONMENTS:
                continue
            entry = release.environments.get(env)
            if entry is not None and entry.waves:
                labelled.setdefault(env, []).append(app)
                continue
            if env in apps and apps[env] != app.name:
                raise ConfigError(
                    f"release {release.name!r}: both {apps[env]} and {app.name} are its {env} app",
                    key=f"releases.{release.name}",
                )
            apps[env] = app.name
            canaries.setdefault(env, release.canary.get(env, CanaryConfig()))
    clusters = {app: _cluster_name(engine, known.get(app, app)) for app in apps.values()}
    waves: dict[str, tuple[Wave, ...]] = {}
    for env, entry in release.environments.items():
        if entry.applicationset is not None:
            waves[env] = rolling_waves(release.name, env, entry.applicationset, engine, clusters, known)
        elif entry.waves:
            found = labelled.get(env, [])
            waves[env] = resolve_waves(release.name, env, entry.waves, engine, found, clusters, known)
    return ResolvedRelease(release, apps, canaries, waves, clusters)


def resolve_waves(
    release: str,
    env: str,
    configs: tuple[WaveConfig, ...],
    engine: SyncEngine,
    labelled: list[Application],
    clusters: dict[str, str],
    known: Mapping[str, Application] | None = None,
) -> tuple[Wave, ...]:
    """Each wave's Applications: those it lists, then the environment's apps its labels or clusters match.

    The candidates are every app a wave lists and every app the release's selector
    labels with ``env``. Updates ``clusters`` (app → its destination cluster). ``known``
    are the apps already read, by name; a name not among them is looked up in ``engine``.

    Raises:
        ConfigError: An app is in two waves, a wave selects none, or a candidate is in none
            (it would never be released: a silent gap in a fleet is worse than an error).
    """
    key = f"releases.{release}.environments.{env}.waves"
    known = known or {}
    listed = [known.get(name) or engine.application(name) for wave in configs for name in wave.apps]
    candidates = {a.name: a for a in [*listed, *labelled]}
    for name in candidates:
        clusters[name] = engine.target(candidates[name]).entry.name
    owner: dict[str, int] = {}
    waves = []
    for number, wave in enumerate(configs, start=1):
        members = [name for name in candidates if _selects(wave, candidates[name], clusters[name])]
        if not members:
            raise ConfigError(f"{key}.{number - 1}: the wave selects no Application", key=key)
        for name in members:
            if name in owner:
                raise ConfigError(f"{key}: {name} is in wave {owner[name]} and wave {number}", key=key)
            owner[name] = number
        title = wave.name or ", ".join(dict.fromkeys(clusters[m] for m in members))
        waves.append(Wave(number, title, tuple(members), wave))
    left = sorted(set(candidates) - set(owner))
    if left:
        raise ConfigError(f"{key}: {left} of {env} are in no wave", key=key)
    return tuple(waves)


def rolling_waves(
    release: str,
    env: str,
    name: str,
    engine: SyncEngine,
    clusters: dict[str, str],
    known: Mapping[str, Application] | None = None,
) -> tuple[Wave, ...]:
    """The waves of ApplicationSet ``name``: its RollingSync steps, or one wave of all (AllAtOnce).

    As in Argo CD, an Application no step selects is in no wave (it is left to a
    manual sync); it is logged, not refused.

    Raises:
        ConfigError: No ApplicationSet of that name, or one that generates nothing.
    """
    key = f"releases.{release}.environments.{env}.applicationset"
    _, _, appsets = load_manifests(
        engine.config.applications_dir, clusters=applicationset.config_clusters(engine.config)
    )
    found = next((a for a in appsets if a.name == name), None)
    if found is None:
        raise ConfigError(f"{key}: no ApplicationSet {name!r} in {engine.config.applications_dir}", key=key)
    generated = [str(doc["metadata"]["name"]) for doc in found.expansion.applications]
    if not generated:
        raise ConfigError(f"{key}: ApplicationSet {name!r} generates no Application", key=key)
    rolling = found.expansion.waves
    steps = (
        [(generated, len(generated))]
        if rolling is None
        else [(list(w.applications), w.max_parallel) for w in rolling.waves if w.applications]
    )
    if rolling is not None and rolling.unselected:
        logger.warning(
            "%s: %s in no RollingSync step: not released (as in Argo CD)", key, list(rolling.unselected)
        )
    waves = []
    for number, (apps, parallel) in enumerate(steps, start=1):
        for app in apps:
            clusters[app] = _cluster_name(engine, (known or {}).get(app, app))
        title = f"{name} step {number}: " + ", ".join(dict.fromkeys(clusters[a] for a in apps))
        waves.append(
            Wave(number, title, tuple(apps), WaveConfig(apps=tuple(apps), max_parallel=max(parallel, 1)))
        )
    return tuple(waves)


def _cluster_name(engine: SyncEngine, app: AppRef) -> str:
    """The app's cluster for the fleet view; '' when its destination is unresolved (its own steps say why)."""
    try:
        return engine.target(app).entry.name
    except ConfigError:
        return ""


def _selects(wave: WaveConfig, app: Application, cluster: str) -> bool:
    if app.name in wave.apps:
        return True
    labels = app.metadata.labels
    if wave.labels and all(labels.get(k) == v for k, v in wave.labels.items()):
        return True
    return bool(wave.clusters) and cluster in wave.clusters


def release_of(config: FerryConfig, engine: SyncEngine, app: str) -> tuple[ResolvedRelease, str] | None:
    """The release ``app`` belongs to and its environment there, or None."""
    for release in config.releases:
        resolved = resolve(config, engine, release)
        env = resolved.members().get(app)
        if env is not None:
            return resolved, env
    return None


def environment_of(config: FerryConfig, app: Application) -> tuple[str, str] | None:
    """``(release, environment)`` of ``app``, from the releases' lists or the app's own labels.

    Needs no cluster or clone: the image updater labels its events with it.
    """
    labels = app.metadata.labels
    for release in config.releases:
        for env, entry in release.environments.items():
            if entry.app == app.name or any(app.name in wave.apps for wave in entry.waves):
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
