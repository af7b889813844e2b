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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.states import Cancelled, Completed, Failed, State  # type: ignore[attr-defined]

from ferry.analysis.model import AnalysisOutcome
from ferry.config import load_config
from ferry.errors import FerryError, GateStopped, Rejected
from ferry.release import pipeline
from ferry.release.canary import CanaryProvider
from ferry.release.fleet import FleetView, Wave
from ferry.release.gates import (
    CanaryStep,
    CheckResult,
    GateDecision,
    GateQuestion,
    ImageMove,
    WriteBack,
    artifact_link,
    run_link,
)
from ferry.release.pipeline import ResolvedRelease
from ferry.release.promotion import Promoted, ValidationFailed, promote_environment, run_release
from ferry.schema.releases import (
    AnalysisConfig,
    CanaryConfig,
    EnvironmentConfig,
    ReleaseConfig,
    ValidationCheck,
)
from ferry.sync.engine import SyncEngine
from ferry.sync.model import AppDiff, Initiator
from ferry.sync.target import AppStatus, AppTarget
from flows.gates import GateSettings, ask, publish_once, record_decision
from flows.logging import forward_ferry_logs
from flows.runs import config_path, promote_run_name, release_run_name, rename_run
from flows.sync import diff_markdown, initiator, open_engine
from tasks.analysis import analyse, healthy_since, rollout_analysis, soak
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
from tasks.waves import app_status, publish_status, sync_wave


@dataclass(frozen=True, slots=True)
class FlowSteps:
    """The steps of the release loop (``promotion.ReleaseSteps``): this flow's tasks and gates."""

    engine: SyncEngine
    gate: GateSettings
    who: Initiator
    wait_timeout: float

    def target(self, app: str) -> AppTarget:
        return self.engine.target(app)

    def wait_dev_ready(self, target: AppTarget, timeout: float) -> AppStatus:
        return wait_dev_ready(self.engine, target, timeout)

    def history_images(self, target: AppTarget) -> tuple[Sequence[str], Sequence[str]]:
        history = self.engine.history(target)
        if not history:
            return (), ()
        return (history[-2].images if len(history) > 1 else ()), history[-1].images

    def renamed(self, name: str) -> None:
        rename_run(name)

    def validate(self, target: AppTarget, checks: tuple[ValidationCheck, ...]) -> list[CheckResult]:
        return validate(self.engine, target, checks)

    def pin(self, target: AppTarget, revision: str | None) -> WriteBack:
        return pin_commit(self.engine, target, revision)

    def diff(self, target: AppTarget, revision: str) -> AppDiff:
        return diff_env(self.engine, target, revision)

    def publish_diff(self, env: str, target: AppTarget, revision: str, diff: AppDiff) -> str:
        artifact = publish_once(
            f"release-diff-{env}-{revision[:12]}",
            diff_markdown(diff),
            f"Diff of {target.name} at {revision[:12]}: {diff.status.value}",
        )
        return artifact_link(self.gate.ui_url, str(artifact))

    def ask(self, question: GateQuestion) -> Any:
        return ask(question, self.gate)

    def head(self, target: AppTarget) -> str:
        return head_of(self.engine, target)

    def canary_provider(
        self, target: AppTarget, revision: str, canary: CanaryConfig
    ) -> CanaryProvider | None:
        return pipeline.canary_provider(self.engine, target, revision, canary)

    def sync(self, target: AppTarget, revision: str, *, wait: bool) -> Any:
        return sync_env(self.engine, target, revision, self.who, self.wait_timeout if wait else None)

    def canary_wait(self, provider: CanaryProvider, app: str, timeout: float) -> CanaryStep | None:
        return canary_wait(provider, app, timeout)

    def canary_approve(self, provider: CanaryProvider, app: str, step: CanaryStep) -> None:
        canary_approve(provider, app, step)

    def canary_reject(self, provider: CanaryProvider, app: str) -> None:
        canary_reject(provider, app)

    def canary_finish(self, provider: CanaryProvider, app: str) -> None:
        canary_finish(provider, app)

    def quick_rollback(self, target: AppTarget) -> Any:
        return quick_rollback_task(self.engine, target, None, self.who, self.wait_timeout)

    def release_hold(self, target: AppTarget) -> bool:
        return release_app_hold(self.engine, target)

    def clock(self) -> datetime:
        return datetime.now(UTC)

    def healthy_since(self, app: str, step: CanaryStep) -> datetime:
        return healthy_since(app, step)

    def soak(self, app: str, step: CanaryStep, until: datetime) -> None:
        soak(app, step, until)

    def analyse(
        self, app: str, env: str, step: CanaryStep, revision: str, analysis: AnalysisConfig
    ) -> AnalysisOutcome:
        return analyse(app, env, step, revision, analysis)

    def record(self, question: GateQuestion, decision: GateDecision) -> GateDecision:
        return record_decision(question.key, question, decision)

    def rollout_analysis(
        self, provider: CanaryProvider, app: str, env: str, revision: str, since: int
    ) -> AnalysisOutcome | None:
        return rollout_analysis(provider, app, env, revision, since)

    def publish_wave_diff(self, env: str, wave: Wave, diffs: Sequence[tuple[AppTarget, str, AppDiff]]) -> str:
        parts = [f"## `{t.name}` at `{sha[:12]}`\n\n{diff_markdown(d)}" for t, sha, d in diffs]
        artifact = publish_once(
            f"release-diff-{env}-wave-{wave.number}-{diffs[0][1][:12]}",
            "\n\n".join(parts),
            f"Diffs of {env} {wave.label}",
        )
        return artifact_link(self.gate.ui_url, str(artifact))

    def sync_wave(
        self, targets: Sequence[AppTarget], revisions: Sequence[str], *, wait: bool, parallel: int
    ) -> Any:
        timeout = self.wait_timeout if wait else None
        return sync_wave(self.engine, targets, revisions, self.who, timeout, parallel)

    def statuses(self, targets: Sequence[AppTarget]) -> list[AppStatus]:
        return [app_status(self.engine, t) for t in targets]

    def publish_status(self, view: FleetView) -> None:
        publish_status(view)


def _steps(engine: SyncEngine, config: ReleaseConfig, suspend: bool, wait_timeout: float) -> FlowSteps:
    return FlowSteps(engine, GateSettings.of(config, suspend), initiator(), wait_timeout)


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
    done: list[Promoted] = []
    with open_engine(config) as engine:
        found = pipeline.release_of(cfg, engine, app)
        if found is None:
            return Completed(message=f"{app} belongs to no release in {config}")
        resolved, env = found
        if env != "dev":
            return Completed(
                message=f"{app} is the {env} app of {resolved.name}; releases start from its Dev app"
            )
        steps = _steps(engine, resolved.config, suspend, wait_timeout)
        link = run_link(steps.gate.ui_url, update_run) if update_run else None
        moves = [ImageMove.from_event(i) for i in images or ()]
        try:
            run_release(steps, resolved, app, commit=commit, images=moves, update_link=link, done=done)
        except ValidationFailed as exc:
            return Failed(message=str(exc))
        except (GateStopped, FerryError) as exc:
            return _stopped(f"release {resolved.name}", exc, [p.as_dict() for p in done])
    return Completed(message=f"release {resolved.name} completed", data=[p.as_dict() for p in done])


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
        steps = _steps(engine, resolved.config, suspend, wait_timeout)
        try:
            moves = ImageMove.between(*steps.history_images(steps.target(app)))
            result = promote_environment(steps, resolved, env, moves, revision=revision)
        except (GateStopped, FerryError) as exc:
            return _stopped(f"promotion of {app}", exc, [])
    return Completed(message=f"{app} promoted to {result.revision[:12]}", data=result.as_dict())


def _adhoc_release(app: str) -> ReleaseConfig:
    return ReleaseConfig(name=app, environments={"staging": EnvironmentConfig(app=app)})
