"""Stage 3: releases with human gates (``release``) and per-environment promotion (``promote``).

Every human decision is a gate (:mod:`flows.gates`): a paused run whose page
states the question, with a form to approve or reject it. Under a deployment
the run suspends instead (``suspend=True``): its process exits while it waits,
and the run is re-executed from the top on resume. Everything it did before
the gate comes back from the task cache (the Dev check, validation, the
commit each gate pinned, the syncs), so a resumed run acts on exactly the
commit the operator approved, even when the branch has moved meanwhile.

A rejection ends the run **Cancelled**, naming the gate, the approver and the
comment; a timeout or an error ends it **Failed**.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.states import Cancelled, Completed, Failed, State  # type: ignore[attr-defined]

from ferry.config import load_config
from ferry.errors import FerryError, GateStopped, Rejected
from ferry.release import pipeline
from ferry.release.gates import ImageMove, WriteBack, artifact_link, new_tags, run_link
from ferry.release.pipeline import ResolvedRelease
from ferry.release.questions import (
    DiffDigest,
    ResourceChange,
    canary_question,
    dev_verified_question,
    field_changes,
    head_moved,
    sync_question,
)
from ferry.schema.releases import EnvironmentConfig, ReleaseConfig
from ferry.sync.engine import SyncEngine
from ferry.sync.model import AppDiff
from ferry.sync.target import AppRef
from flows.gates import GateSettings, ask, publish_once
from flows.logging import forward_ferry_logs
from flows.runs import config_path, promote_run_name, release_run_name, rename_run
from flows.sync import diff_markdown, initiator, open_engine
from tasks.release import (
    canary_approve,
    canary_finish,
    canary_reject,
    canary_wait,
    diff_env,
    head_of,
    pin_commit,
    quick_rollback_task,
    release_app_hold,
    sync_env,
    validate,
    wait_dev_ready,
)

PROMOTION_ORDER = ("staging", "production")


def _digest(diff: AppDiff, artifact_url: str) -> DiffDigest:
    changes = tuple(
        ResourceChange(
            str(r.key), r.action, tuple(field_changes(r.live, r.desired)) if r.action == "update" else ()
        )
        for r in diff.out_of_sync
    )
    return DiffDigest(diff.status.value, changes, diff.unified(), len(diff.resources), artifact_url)


def promote_environment(
    engine: SyncEngine,
    resolved: ResolvedRelease,
    env: str,
    images: list[ImageMove],
    *,
    revision: str | None = None,
    suspend: bool = False,
    wait_timeout: float = 120.0,
    note: str = "",
) -> dict[str, Any]:
    """Gate "Sync <env>?" on one pinned commit, sync exactly that commit, then a gate per canary step.

    Returns:
        ``env``, ``app``, the synced ``revision`` and ``note``: the warning for the next gate when
        the branch moved while this one waited ('' when it did not).

    Raises:
        GateStopped: A gate was rejected (``Rejected``) or timed out.
    """
    logger = get_run_logger()
    app = resolved.apps[env]
    # Resolved once: every step of this environment acts on the same Application and cluster.
    target = engine.target(app)
    cfg = resolved.config
    canary = resolved.canary(env)
    gate = GateSettings.of(cfg, suspend)
    pinned = pin_commit(engine, target, revision)
    diff = diff_env(engine, target, pinned.sha)
    artifact = publish_once(
        f"release-diff-{env}-{pinned.sha[:12]}",
        diff_markdown(diff),
        f"Diff of {app} at {pinned.sha[:12]}: {diff.status.value}",
    )
    digest = _digest(diff, artifact_link(gate.ui_url, str(artifact)))
    question = sync_question(env, app, pinned, images, digest, note)
    ask(question, gate)
    branch = target.source.target_revision
    moved = head_moved(question.title, branch, pinned.sha, head_of(engine, target))
    if moved:
        logger.warning("%s: %s", app, moved)
    who = initiator()
    provider = pipeline.canary_provider(engine, target, pinned.sha, canary)
    native = canary.provider == "native"
    if not native:
        sync_env(engine, target, pinned.sha, who, wait_timeout if provider is None else None)
    if provider is not None:
        while (step := canary_wait(provider, app, canary.step_timeout)) is not None:
            try:
                ask(canary_question(env, app, pinned.sha, step, moved), gate)
            except Rejected:
                canary_reject(provider, app)
                if cfg.auto_rollback and not native:
                    quick_rollback_task(engine, target, None, who, wait_timeout)
                raise
            canary_approve(provider, app, step)
        if native:
            sync_env(engine, target, pinned.sha, who, wait_timeout)
        canary_finish(provider, app)
    if release_app_hold(engine, target):
        logger.info("%s: hold released by this approved release", app)
    logger.info("%s (%s) released at %s", app, env, pinned.sha[:12])
    return {"env": env, "app": app, "revision": pinned.sha, "note": moved}


def _images(engine: SyncEngine, app: AppRef, payload: list[dict[str, Any]] | None) -> list[ImageMove]:
    if payload:
        return [ImageMove.from_event(i) for i in payload]
    history = engine.history(app)
    if not history:
        return []
    return ImageMove.between(history[-2].images if len(history) > 1 else (), history[-1].images)


def _stopped(what: str, exc: Exception, done: list[dict[str, Any]]) -> State[Any]:
    """A rejection is a decision, not an error: it ends Cancelled; everything else ends Failed."""
    get_run_logger().warning("%s stopped: %s", what, exc)
    if isinstance(exc, Rejected):
        return Cancelled(message=str(exc), data=done)
    if isinstance(exc, GateStopped):
        return Failed(message=str(exc), data=done)
    return Failed(message=f"{what} stopped: {exc}", data=done)


@flow(
    name="release",
    flow_run_name=release_run_name,
    description="Release one service: Dev verified → Staging → Production, with human gates.",
)
def release(
    app: str,
    commit: str = "",
    images: list[dict[str, Any]] | None = None,
    config: str = "ferry.yaml",
    suspend: bool = False,
    wait_timeout: float = 120.0,
    update_run: str | None = None,
) -> State[Any]:
    """Triggered by ``ferry.image.updated``: wait for Dev, validate, then gate each environment.

    Args:
        app: The Application the event names; the release runs only for its release's Dev app.
        commit: The write-back commit (shown at the first gate).
        images: The event's image changes (default: read from Dev's sync history).
        config: Path to ``ferry.yaml``.
        suspend: Under a deployment, suspend at gates (the worker is free meanwhile) instead of pausing.
        wait_timeout: Seconds to wait for each environment to become Healthy after its sync.
        update_run: The ``image-update`` flow run that made the commit (linked from the first gate).

    Returns:
        Completed (released, or nothing to do); Cancelled when a gate was rejected; Failed when a
        gate timed out, validation failed or Dev never became ready.
    """
    forward_ferry_logs()
    cfg = load_config(config_path(config))
    done: list[dict[str, Any]] = []
    with open_engine(config) as engine:
        found = pipeline.release_of(cfg, engine, app)
        if found is None:
            return Completed(message=f"{app} belongs to no release in {config}")
        resolved, env = found
        if env != "dev":
            return Completed(
                message=f"{app} is the {env} app of {resolved.name}; releases start from its Dev app"
            )
        gate = GateSettings.of(resolved.config, suspend)
        try:
            # Dev's target is held for the whole run; each environment resolves its own once.
            dev = engine.target(app)
            status = wait_dev_ready(engine, dev, resolved.config.dev_timeout)
            moves = _images(engine, dev, images)
            rename_run(f"release {resolved.name} {new_tags(moves) or status.revision[:7]}")
            checks = validate(engine, dev, resolved.config.validation)
            if not all(c.passed for c in checks):
                failed = ", ".join(c.name for c in checks if not c.passed)
                return Failed(message=f"validation of {app} failed: {failed}; nothing was promoted")
            pinned = pin_commit(engine, dev, commit or status.revision)
            link = run_link(gate.ui_url, update_run) if update_run else None
            written = WriteBack(pinned.sha, pinned.message, link)
            ask(dev_verified_question(resolved.name, app, written, moves, checks), gate)
            note = ""
            for target in PROMOTION_ORDER:
                if target in resolved.apps:
                    result = promote_environment(
                        engine, resolved, target, moves, suspend=suspend, wait_timeout=wait_timeout, note=note
                    )
                    done.append(result)
                    note = result["note"]
        except (GateStopped, FerryError) as exc:
            return _stopped(f"release {resolved.name}", exc, done)
    return Completed(message=f"release {resolved.name} completed", data=done)


@flow(
    name="promote",
    flow_run_name=promote_run_name,
    description="Promote one environment's app to a revision, with its gates and canary.",
)
def promote(
    app: str,
    revision: str | None = None,
    config: str = "ferry.yaml",
    suspend: bool = False,
    wait_timeout: float = 120.0,
) -> State[Any]:
    """The ``promote-staging`` / ``promote-production`` deployments: diff, gate, sync, canary gates."""
    forward_ferry_logs()
    cfg = load_config(config_path(config))
    with open_engine(config) as engine:
        found = pipeline.release_of(cfg, engine, app)
        if found is None:
            resolved = ResolvedRelease(_adhoc_release(app), {"adhoc": app})
            env = "adhoc"
        else:
            resolved, env = found
        try:
            result = promote_environment(
                engine,
                resolved,
                env,
                _images(engine, app, None),
                revision=revision,
                suspend=suspend,
                wait_timeout=wait_timeout,
            )
        except (GateStopped, FerryError) as exc:
            return _stopped(f"promotion of {app}", exc, [])
    return Completed(message=f"{app} promoted to {result['revision'][:12]}", data=result)


def _adhoc_release(app: str) -> ReleaseConfig:
    return ReleaseConfig(name=app, environments={"staging": EnvironmentConfig(app=app)})
