"""A canary's gates: wait for each pause, soak, analyse, then ask a human, approve alone, or stop.

Shared by the one-Application environment (``promotion``) and every app of a
wave (``waves``): what a step's gate shows and decides is the same either way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from ferry.analysis.model import AnalysisOutcome
from ferry.analysis.report import summary_line
from ferry.errors import CanaryAborted, Rejected
from ferry.release import analysis_gate
from ferry.release.analysis_gate import GateAction
from ferry.release.canary import CanaryProvider
from ferry.release.gates import CanaryStep, GateQuestion
from ferry.release.pipeline import ResolvedRelease
from ferry.release.questions import canary_question
from ferry.release.steps import ReleaseSteps
from ferry.schema.releases import CanaryConfig, GatePolicy
from ferry.sync.target import AppTarget

logger = logging.getLogger(__name__)


def canary_gates(
    steps: ReleaseSteps,
    resolved: ResolvedRelease,
    env: str,
    target: AppTarget,
    revision: str,
    provider: CanaryProvider,
    *,
    note: str = "",
    place: str | None = None,
) -> tuple[AnalysisOutcome | None, ...]:
    """Gate each paused step of ``target``'s canary until it completes; the verdict behind each gate.

    ``place`` names the gates' keys and artifacts (default ``env``); a wave passes
    ``<env>-<app>`` so that the apps of one environment keep their gates apart.

    Raises:
        Rejected: A step was rejected or its analysis failed; the canary was aborted first, and the
            app rolled back when ``auto_rollback`` is on (a controller's canary is its sync).
    """
    app, canary = target.name, resolved.canary(env)
    place = place or env
    verdicts: list[AnalysisOutcome | None] = []
    try:
        since = 0
        while (
            step := _next_pause(steps, resolved.name, place, app, provider, canary, revision, since)
        ) is not None:
            # The pause is where the step is healthy: its soak counts from the first time it was seen.
            healthy_at = steps.healthy_since(app, step)
            # Argo's controller may have run analysis steps since the last gate: they are evidence too.
            own = steps.rollout_analysis(provider, app, place, revision, since) if canary.argo else None
            question = canary_question(env, app, revision, step, note, place=place)
            gate = _Gate(resolved.name, place, app, step, question, healthy_at, own)
            verdicts.append(_canary_gate(steps, gate, canary.policy(step.index)))
            steps.canary_approve(provider, app, step)
            since = step.index
    except Rejected:
        steps.canary_reject(provider, app)
        if resolved.config.auto_rollback and canary.provider != "native":
            steps.quick_rollback(target)
        raise
    return tuple(verdicts)


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


def _canary_gate(steps: ReleaseSteps, gate: _Gate, policy: GatePolicy) -> AnalysisOutcome | None:
    """Soak, analyse, then approve alone, ask, or stop, as :func:`analysis_gate.decide` says.

    Returns the analyses' verdict (None when none ran), for a next wave's auto-approval.

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
        return outcome
    decision = steps.record(question, analysis_gate.analysis_decision(question, outcome, steps.clock()))
    logger.info("%s: %s by the analysis: %s", gate.app, question.title, decision.comment)
    if action is GateAction.ABORT:
        raise analysis_gate.failed(gate.release, decision)
    return outcome
