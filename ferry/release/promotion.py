"""The release loop: Dev verified → each environment's gate, sync and canary steps, in order.

The core owns the loop and the Prefect flow passes its steps in (:class:`ReleaseSteps`),
the way the image updater's and the CI stage's flows do. A step is a retrying task
or a gate in the flow; here it is only a call. So the order of the gates, what each
one is asked and what happens on a rejection are decided in one place, without
Prefect, and a re-execution after a suspension walks the same path (each step is
safe to repeat and the flow's tasks return their first result).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ferry.analysis.model import AnalysisOutcome
from ferry.analysis.report import summary_line
from ferry.errors import CanaryAborted, PermanentError, Rejected
from ferry.release import analysis_gate
from ferry.release.analysis_gate import GateAction
from ferry.release.canary import CanaryProvider
from ferry.release.gates import (
    CanaryStep,
    CheckResult,
    GateDecision,
    GateQuestion,
    ImageMove,
    WriteBack,
    new_tags,
)
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
from ferry.schema.releases import AnalysisConfig, CanaryConfig, GatePolicy, ValidationCheck
from ferry.sync.model import AppDiff
from ferry.sync.target import AppStatus, AppTarget

__all__ = [
    "PROMOTION_ORDER",
    "Promoted",
    "ReleaseSteps",
    "ValidationFailed",
    "diff_digest",
    "promote_environment",
    "run_release",
]

logger = logging.getLogger(__name__)

PROMOTION_ORDER = ("staging", "production")


class ValidationFailed(PermanentError):
    """A validation check of Dev failed: nothing is promoted."""


class ReleaseSteps(Protocol):
    """What the loop does at each point. The flow implements it with its tasks and gates."""

    def target(self, app: str) -> AppTarget: ...
    def wait_dev_ready(self, target: AppTarget, timeout: float) -> AppStatus: ...
    def history_images(self, target: AppTarget) -> tuple[Sequence[str], Sequence[str]]: ...
    def renamed(self, name: str) -> None: ...
    def validate(self, target: AppTarget, checks: tuple[ValidationCheck, ...]) -> list[CheckResult]: ...
    def pin(self, target: AppTarget, revision: str | None) -> WriteBack: ...
    def diff(self, target: AppTarget, revision: str) -> AppDiff: ...
    def publish_diff(self, env: str, target: AppTarget, revision: str, diff: AppDiff) -> str: ...
    def ask(self, question: GateQuestion) -> Any: ...
    def head(self, target: AppTarget) -> str: ...
    def canary_provider(
        self, target: AppTarget, revision: str, canary: CanaryConfig
    ) -> CanaryProvider | None: ...
    def sync(self, target: AppTarget, revision: str, *, wait: bool) -> Any: ...
    def canary_wait(self, provider: CanaryProvider, app: str, timeout: float) -> CanaryStep | None: ...
    def canary_approve(self, provider: CanaryProvider, app: str, step: CanaryStep) -> None: ...
    def canary_reject(self, provider: CanaryProvider, app: str) -> None: ...
    def canary_finish(self, provider: CanaryProvider, app: str) -> None: ...
    def quick_rollback(self, target: AppTarget) -> Any: ...
    def release_hold(self, target: AppTarget) -> bool: ...
    def clock(self) -> datetime: ...
    def healthy_since(self, app: str, step: CanaryStep) -> datetime: ...
    def soak(self, app: str, step: CanaryStep, until: datetime) -> None: ...
    def analyse(
        self, app: str, env: str, step: CanaryStep, revision: str, analysis: AnalysisConfig
    ) -> AnalysisOutcome: ...
    def record(self, question: GateQuestion, decision: GateDecision) -> GateDecision: ...
    def rollout_analysis(
        self, provider: CanaryProvider, app: str, env: str, revision: str, since: int
    ) -> AnalysisOutcome | None: ...


@dataclass(frozen=True, slots=True)
class Promoted:
    """One environment released: the revision it runs, and the warning for the next gate ('' if none)."""

    env: str
    app: str
    revision: str
    note: str = ""

    def as_dict(self) -> dict[str, str]:
        """The flow result's form."""
        return {"env": self.env, "app": self.app, "revision": self.revision, "note": self.note}


def diff_digest(diff: AppDiff, artifact_url: str) -> DiffDigest:
    """What a sync gate shows of a diff: each changed resource and its fields, and the full diff's link."""
    changes = tuple(
        ResourceChange(
            str(r.key), r.action, tuple(field_changes(r.live, r.desired)) if r.action == "update" else ()
        )
        for r in diff.out_of_sync
    )
    return DiffDigest(diff.status.value, changes, diff.unified(), len(diff.resources), artifact_url)


def promote_environment(
    steps: ReleaseSteps,
    resolved: ResolvedRelease,
    env: str,
    images: Sequence[ImageMove],
    *,
    revision: str | None = None,
    note: str = "",
) -> Promoted:
    """Gate "Sync <env>?" on one pinned commit, sync exactly that commit, then a gate per canary step.

    Raises:
        GateStopped: A gate was rejected (``Rejected``) or timed out.
    """
    app = resolved.apps[env]
    # Resolved once: every step of this environment acts on the same Application and cluster.
    target = steps.target(app)
    canary = resolved.canary(env)
    pinned = steps.pin(target, revision)
    diff = steps.diff(target, pinned.sha)
    digest = diff_digest(diff, steps.publish_diff(env, target, pinned.sha, diff))
    question = sync_question(env, app, pinned, list(images), digest, note)
    steps.ask(question)
    moved = head_moved(question.title, target.source.target_revision, pinned.sha, steps.head(target))
    if moved:
        logger.warning("%s: %s", app, moved)
    provider = steps.canary_provider(target, pinned.sha, canary)
    # The native canary syncs only once its steps are approved; a controller's canary is the sync.
    native = canary.provider == "native"
    if not native:
        steps.sync(target, pinned.sha, wait=provider is None)
    if provider is not None:
        try:
            since = 0
            while (
                step := _next_pause(steps, resolved.name, env, app, provider, canary, pinned.sha, since)
            ) is not None:
                # The pause is where the step is healthy: its soak counts from the first time it was seen.
                healthy_at = steps.healthy_since(app, step)
                # Argo's controller may have run analysis steps since the last gate: they are evidence too.
                own = steps.rollout_analysis(provider, app, env, pinned.sha, since) if canary.argo else None
                question = canary_question(env, app, pinned.sha, step, moved)
                gate = _Gate(resolved.name, env, app, step, question, healthy_at, own)
                _canary_gate(steps, gate, canary.policy(step.index))
                steps.canary_approve(provider, app, step)
                since = step.index
        except Rejected:
            steps.canary_reject(provider, app)
            if resolved.config.auto_rollback and not native:
                steps.quick_rollback(target)
            raise
        if native:
            steps.sync(target, pinned.sha, wait=True)
        steps.canary_finish(provider, app)
    if steps.release_hold(target):
        logger.info("%s: hold released by this approved release", app)
    logger.info("%s (%s) released at %s", app, env, pinned.sha[:12])
    return Promoted(env, app, pinned.sha, moved)


def _next_pause(
    steps: ReleaseSteps,
    release: str,
    env: str,
    app: str,
    provider: CanaryProvider,
    canary: CanaryConfig,
    revision: str,
    since: int,
) -> CanaryStep | None:
    """The next paused step, or None when the rollout is complete.

    Raises:
        AnalysisFailed: The controller aborted the rollout because its own analysis failed.
        CanaryAborted: The controller aborted it for another reason (someone's abort).
    """
    try:
        return steps.canary_wait(provider, app, canary.step_timeout)
    except CanaryAborted:
        # No gate was open: the controller stopped on its own; its AnalysisRun says whether that was
        # the analysis' verdict (a stop like a reject) or someone else's abort (an error).
        own = steps.rollout_analysis(provider, app, env, revision, since) if canary.argo else None
        if own is None or analysis_gate.decide(own, False) is not GateAction.ABORT:
            raise
        decision = analysis_gate.aborted_decision(env, app, since, revision, own, steps.clock())
        logger.warning("%s: %s: %s", app, decision.gate, decision.comment)
        raise analysis_gate.failed(release, decision) from None


@dataclass(frozen=True, slots=True)
class _Gate:
    """One canary step's gate: where it is, what it asks, and the controller's own analysis (if any)."""

    release: str
    env: str
    app: str
    step: CanaryStep
    question: GateQuestion
    healthy_at: datetime
    own: AnalysisOutcome | None


def _canary_gate(steps: ReleaseSteps, gate: _Gate, policy: GatePolicy) -> None:
    """Soak, analyse, then approve alone, ask, or stop, as :func:`analysis_gate.decide` says.

    Raises:
        Rejected: The human rejected the step, or the analysis failed (``AnalysisFailed``).
    """
    evidence = []
    if policy.soak:
        steps.soak(gate.app, gate.step, analysis_gate.soak_until(gate.healthy_at, policy.soak))
        evidence.append(analysis_gate.soak_line(gate.healthy_at, steps.clock()))
    ours = None
    if policy.analysis is not None:
        ours = steps.analyse(gate.app, gate.env, gate.step, gate.question.revision, policy.analysis)
        evidence.append(summary_line(ours))
    if gate.own is not None:
        evidence.append(summary_line(gate.own))
    question = analysis_gate.with_evidence(gate.question, evidence)
    outcome = analysis_gate.verdict([ours, gate.own])
    action = analysis_gate.decide(outcome, policy.auto_approve)
    if action is GateAction.ASK or outcome is None:
        steps.ask(question)
        return
    decision = steps.record(question, analysis_gate.analysis_decision(question, outcome, steps.clock()))
    logger.info("%s: %s by the analysis: %s", gate.app, question.title, decision.comment)
    if action is GateAction.ABORT:
        raise analysis_gate.failed(gate.release, decision)


def run_release(
    steps: ReleaseSteps,
    resolved: ResolvedRelease,
    dev_app: str,
    *,
    commit: str = "",
    images: Sequence[ImageMove] = (),
    update_link: str | None = None,
    done: list[Promoted] | None = None,
) -> list[Promoted]:
    """Wait for Dev, validate it, ask "Dev verified?", then promote each environment in order.

    ``done`` collects each environment as it is released, so a caller that catches a
    stop still knows how far the release got.

    Raises:
        ValidationFailed: A validation check failed; nothing was promoted.
        GateStopped: A gate was rejected or timed out.
        FerryError: Dev never became ready, or a step failed.
    """
    done = [] if done is None else done
    # Dev's target is held for the whole run; each environment resolves its own once.
    dev = steps.target(dev_app)
    status = steps.wait_dev_ready(dev, resolved.config.dev_timeout)
    moves = list(images) or ImageMove.between(*steps.history_images(dev))
    steps.renamed(f"release {resolved.name} {new_tags(moves) or status.revision[:7]}")
    checks = steps.validate(dev, resolved.config.validation)
    failed = [c.name for c in checks if not c.passed]
    if failed:
        raise ValidationFailed(f"validation of {dev_app} failed: {', '.join(failed)}; nothing was promoted")
    pinned = steps.pin(dev, commit or status.revision)
    written = WriteBack(pinned.sha, pinned.message, update_link)
    steps.ask(dev_verified_question(resolved.name, dev_app, written, moves, checks))
    note = ""
    for env in PROMOTION_ORDER:
        if env in resolved.apps:
            result = promote_environment(steps, resolved, env, moves, note=note)
            done.append(result)
            note = result.note
    return done
