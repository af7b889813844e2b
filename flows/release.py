"""Stage 3: releases with human gates (``release``) and per-environment promotion (``promote``).

Every human decision is a paused flow run with a form (approve/reject, a
comment, who): the operator resumes it in the Prefect UI, or with
``resume_flow_run(id, run_input={...})``. A run started by a deployment may
instead suspend (``suspend=True``): its process exits while it waits, and the
run is re-executed from the top on resume, passing over the gates already
answered (Prefect keeps each answer under the gate's key) and the syncs already
made (cached per run).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.blocks.core import Block
from prefect.context import get_run_context
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run, suspend_flow_run
from prefect.input import RunInput
from prefect.states import Completed, Failed, State  # type: ignore[attr-defined]

from ferry.config import load_config
from ferry.errors import FerryError, PermanentError
from ferry.release import pipeline
from ferry.release.gates import (
    GateDecision,
    GateQuestion,
    ImageMove,
    canary_question,
    dev_verified_question,
    notification_text,
    run_link,
    sync_question,
    timed_out,
)
from ferry.release.pipeline import ResolvedRelease
from ferry.release.settings import EnvironmentConfig, ReleaseConfig
from ferry.sync.engine import SyncEngine
from flows.logging import forward_ferry_logs
from flows.sync import diff_markdown, initiator
from tasks.release import (
    canary_approve,
    canary_finish,
    canary_reject,
    canary_wait,
    diff_env,
    quick_rollback_task,
    release_app_hold,
    sync_env,
    validate,
    wait_dev_ready,
)

PROMOTION_ORDER = ("staging", "production")


class GateForm(RunInput):
    """The form of every gate."""

    approved: bool = False
    comment: str = ""
    approver: str = ""


class Stopped(PermanentError):
    """A gate was rejected or timed out: nothing further is synced."""


class GateTimedOut(Stopped):
    """Nobody answered a gate in time."""


def _flow_run() -> Any:
    return getattr(get_run_context(), "flow_run", None)


def notify(block: str | None, question: GateQuestion, ui_url: str | None) -> None:
    """Send the gate's notification through a Prefect notification block (``slug/name`` or a webhook name)."""
    if not block:
        return
    flow_run = _flow_run()
    link = run_link(ui_url, str(flow_run.id) if flow_run else "")
    subject, body = notification_text(question, link)
    slug_name = block if "/" in block else f"custom-webhook/{block}"
    try:
        loaded: Any = Block.load(slug_name)
        loaded.notify(body=body, subject=subject)
    except Exception as exc:  # noqa: BLE001 - a failed notification must not stop the release
        get_run_logger().warning("notification through %s failed: %s", slug_name, exc)


@dataclass(frozen=True, slots=True)
class GateSettings:
    """How gates wait (pause, or suspend under a deployment) and whom they notify."""

    timeout: float
    suspend: bool = False
    notify_block: str | None = None
    ui_url: str | None = None

    @classmethod
    def of(cls, config: ReleaseConfig, suspend: bool) -> GateSettings:
        return cls(config.gate_timeout, suspend, config.notify, config.ui_url)


def ask(question: GateQuestion, settings: GateSettings) -> GateDecision:
    """Pause (or suspend) the run at ``question``; record and return the answer."""
    logger = get_run_logger()
    timeout = settings.timeout
    notify(settings.notify_block, question, settings.ui_url)
    form = GateForm.with_initial_data(
        description=f"## {question.title}\n\n{question.description}", approved=False
    )
    logger.info("gate %r: waiting up to %.0fs for an answer", question.title, timeout)
    try:
        if settings.suspend and getattr(_flow_run(), "deployment_id", None):
            answer = suspend_flow_run(wait_for_input=form, timeout=int(timeout), key=question.key)
        else:
            answer = pause_flow_run(
                wait_for_input=form, timeout=int(timeout), poll_interval=1, key=question.key
            )
    except FlowPauseTimeout:
        decision = timed_out(question.title)
    else:
        decision = GateDecision(
            gate=question.title,
            approved=bool(answer.approved),
            comment=answer.comment,
            approver=answer.approver or _default_approver(),
            decided_at=datetime.now(UTC),
        )
    if decision.timed_out:
        message = f"gate {question.title!r} timed out after {timeout:.0f}s; nothing further was synced"
        logger.warning(message)
    else:
        logger.info(decision.log_line())
    create_markdown_artifact(
        key=f"gate-{question.key}",
        markdown=decision.markdown(),
        description=f"{question.title} {decision.verdict}",
    )
    if decision.timed_out:
        raise GateTimedOut(
            f"gate {question.title!r} timed out after {timeout:.0f}s; nothing further was synced"
        )
    return decision


def _default_approver() -> str:
    flow_run = _flow_run()
    created_by = getattr(flow_run, "created_by", None)
    return str(getattr(created_by, "display_value", None) or "unknown")


def publish_env_diff(env: str, markdown: str, status: str) -> None:
    create_markdown_artifact(
        key=f"release-diff-{env}", markdown=markdown, description=f"Diff of {env}: {status}"
    )


def promote_environment(
    engine: SyncEngine,
    resolved: ResolvedRelease,
    env: str,
    images: list[ImageMove],
    *,
    revision: str | None = None,
    suspend: bool = False,
    wait_timeout: float = 120.0,
) -> dict[str, Any]:
    """Diff, gate "Sync <env>?", sync, then the canary with a gate per step. Raises :class:`Stopped`."""
    logger = get_run_logger()
    app = resolved.apps[env]
    cfg = resolved.config
    canary = resolved.canary(env)
    who = initiator()
    diff = diff_env(engine, app) if revision is None else engine.diff(app, revision)
    publish_env_diff(env, diff_markdown(diff), diff.status.value)
    summary = f"**{diff.status.value}**: {len(diff.out_of_sync)} of {len(diff.resources)} resource(s) change."
    gate = GateSettings.of(cfg, suspend)
    decision = ask(sync_question(env, app, diff.revision, images, summary), gate)
    if not decision.approved:
        raise Stopped(
            f"{env}: sync of {app} rejected by {decision.approver}: {decision.comment or 'no comment'}"
        )
    provider = pipeline.canary_provider(engine, app, diff.revision, canary)
    native = canary.provider == "native"
    if not native:
        sync_env(engine, app, diff.revision, who, wait_timeout if provider is None else None)
    if provider is not None:
        while (step := canary_wait(provider, app, canary.step_timeout)) is not None:
            decision = ask(canary_question(env, app, step), gate)
            if not decision.approved:
                canary_reject(provider, app)
                if cfg.auto_rollback and not native:
                    quick_rollback_task(engine, app, None, who, wait_timeout)
                raise Stopped(f"{env}: canary of {app} rejected at {step.label()} by {decision.approver}")
            canary_approve(provider, app, step)
        if native:
            sync_env(engine, app, diff.revision, who, wait_timeout)
        canary_finish(provider, app)
    if release_app_hold(engine, app):
        logger.info("%s: hold released by this approved release", app)
    logger.info("%s (%s) released at %s", app, env, diff.revision[:12])
    return {"env": env, "app": app, "revision": diff.revision}


def _images(engine: SyncEngine, app: str, payload: list[dict[str, Any]] | None) -> list[ImageMove]:
    if payload:
        return [ImageMove.from_event(i) for i in payload]
    history = engine.history(app)
    if not history:
        return []
    new = history[-1].images
    old = {i.rsplit(":", 1)[0]: i.rsplit(":", 1)[1] for i in (history[-2].images if len(history) > 1 else ())}
    return [
        ImageMove("", name, old.get(name), tag)
        for name, tag in (i.rsplit(":", 1) for i in new)
        if old.get(name) != tag
    ]


@flow(
    name="release", description="Release one service: Dev verified → Staging → Production, with human gates."
)
def release(
    app: str,
    commit: str = "",
    images: list[dict[str, Any]] | None = None,
    config: str = "ferry.yaml",
    suspend: bool = False,
    wait_timeout: float = 120.0,
) -> State[Any]:
    """Triggered by ``ferry.image.updated``: wait for Dev, validate, then gate each environment.

    Args:
        app: The Application the event names; the release runs only for its release's Dev app.
        commit: The write-back commit (shown at the first gate).
        images: The event's image changes (default: read from Dev's sync history).
        config: Path to ``ferry.yaml``.
        suspend: Under a deployment, suspend at gates (the worker is free meanwhile) instead of pausing.
        wait_timeout: Seconds to wait for each environment to become Healthy after its sync.

    Returns:
        Completed (released, or nothing to do), or Failed when a gate was rejected or timed out,
        validation failed or Dev never became ready.
    """
    forward_ferry_logs()
    logger = get_run_logger()
    cfg = load_config(Path(config))
    done: list[dict[str, Any]] = []
    with SyncEngine(cfg) as engine:
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
            status = wait_dev_ready(engine, app, resolved.config.dev_timeout)
            moves = _images(engine, app, images)
            checks = validate(engine, app, resolved.config.validation)
            if not all(c.passed for c in checks):
                failed = ", ".join(c.name for c in checks if not c.passed)
                return Failed(message=f"validation of {app} failed: {failed}; nothing was promoted")
            question = dev_verified_question(resolved.name, app, commit or status.revision, moves, checks)
            decision = ask(question, gate)
            if not decision.approved:
                raise Stopped(f"Dev rejected by {decision.approver}: {decision.comment or 'no comment'}")
            for target in PROMOTION_ORDER:
                if target in resolved.apps:
                    done.append(
                        promote_environment(
                            engine, resolved, target, moves, suspend=suspend, wait_timeout=wait_timeout
                        )
                    )
        except (Stopped, FerryError) as exc:
            logger.warning("release %s stopped: %s", resolved.name, exc)
            return Failed(message=f"release {resolved.name} stopped: {exc}", data=done)
    return Completed(message=f"release {resolved.name} completed", data=done)


@flow(name="promote", description="Promote one environment's app to a revision, with its gates and canary.")
def promote(
    app: str,
    revision: str | None = None,
    config: str = "ferry.yaml",
    suspend: bool = False,
    wait_timeout: float = 120.0,
) -> State[Any]:
    """The ``promote-staging`` / ``promote-production`` deployments: diff, gate, sync, canary gates."""
    forward_ferry_logs()
    cfg = load_config(Path(config))
    with SyncEngine(cfg) as engine:
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
        except (Stopped, FerryError) as exc:
            logging.getLogger(__name__).warning("promotion of %s stopped: %s", app, exc)
            return Failed(message=f"promotion of {app} stopped: {exc}")
    return Completed(message=f"{app} promoted to {result['revision'][:12]}", data=result)


def _adhoc_release(app: str) -> ReleaseConfig:
    return ReleaseConfig(name=app, environments={"staging": EnvironmentConfig(app=app)})
