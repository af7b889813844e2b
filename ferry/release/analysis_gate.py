"""What a canary step's analysis decides about its gate: approve alone, ask a human, or abort.

Pure functions over the analysis' frozen outcome and the step's policy, so the
rules (Argo Rollouts': a Failed or Error analysis aborts the rollout) are tested
without Prometheus or Prefect; the release loop acts on the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from ferry.analysis.model import AnalysisOutcome, AnalysisPhase
from ferry.analysis.report import summary_line
from ferry.errors import Rejected
from ferry.release.gates import GateDecision, GateQuestion, gate_key

#: The approver recorded when an analysis approved a step without asking.
ANALYSIS_APPROVER = "analysis"


class GateAction(StrEnum):
    """What the loop does at a canary step's gate after its analysis."""

    APPROVE = "approve"
    ASK = "ask"
    ABORT = "abort"


class AnalysisFailed(Rejected):
    """The analysis before a gate failed: the canary is aborted, as a rejection would abort it."""


def decide(outcome: AnalysisOutcome | None, auto_approve: bool) -> GateAction:
    """The gate's action after ``outcome`` (None: no analysis was configured).

    Argo aborts a rollout on an Error as on a Failure: a metric that cannot be
    measured is no evidence the canary is fine. Anything not Successful nor
    failing (Inconclusive, or a run stopped early) goes to a human.

    >>> decide(None, False), decide(AnalysisOutcome(AnalysisPhase.SUCCESSFUL), True)
    (<GateAction.ASK: 'ask'>, <GateAction.APPROVE: 'approve'>)
    """
    if outcome is None:
        return GateAction.ASK
    if outcome.phase in (AnalysisPhase.FAILED, AnalysisPhase.ERROR):
        return GateAction.ABORT
    if outcome.phase is AnalysisPhase.SUCCESSFUL and auto_approve:
        return GateAction.APPROVE
    return GateAction.ASK


#: How much a phase weighs when several analyses speak to one gate: the worst one decides.
_WEIGHT = {AnalysisPhase.FAILED: 3, AnalysisPhase.ERROR: 3, AnalysisPhase.SUCCESSFUL: 0}


def verdict(outcomes: Sequence[AnalysisOutcome | None]) -> AnalysisOutcome | None:
    """The outcome that decides a gate several analyses speak to (Ferry's, the Rollout's own).

    A failure outweighs anything, then whatever is neither failed nor
    successful (Inconclusive, a run stopped early), then success: a gate
    approves alone only when every analysis before it passed.

    >>> ok, bad = AnalysisOutcome(AnalysisPhase.SUCCESSFUL), AnalysisOutcome(AnalysisPhase.INCONCLUSIVE)
    >>> verdict([ok, None, bad]) is bad, verdict([None]) is None
    (True, True)
    """
    present = [o for o in outcomes if o is not None]
    if not present:
        return None
    return max(present, key=lambda o: _WEIGHT.get(o.phase, 1))


def soak_until(healthy_at: datetime, soak: float) -> datetime:
    """When a step that became healthy at ``healthy_at`` has soaked ``soak`` seconds."""
    return healthy_at + timedelta(seconds=soak)


def soak_line(healthy_at: datetime, now: datetime) -> str:
    """The gate's line on how long the step has soaked, healthy since ``healthy_at``.

    >>> from datetime import UTC
    >>> at = datetime(2026, 1, 1, tzinfo=UTC)
    >>> soak_line(at, at + timedelta(seconds=610))
    'Soaked 10m10s healthy (since 2026-01-01T00:00:00+00:00).'
    """
    seconds = max(0, round((now - healthy_at).total_seconds()))
    minutes, rest = divmod(seconds, 60)
    took = f"{minutes}m{rest}s" if minutes else f"{rest}s"
    return f"Soaked {took} healthy (since {healthy_at.isoformat(timespec='seconds')})."


def with_evidence(question: GateQuestion, lines: list[str]) -> GateQuestion:
    """``question`` with the soak and analysis lines above its description (and in its summary)."""
    if not lines:
        return question
    evidence = "\n".join(f"- {line}" for line in lines)
    return GateQuestion(
        question.key,
        question.title,
        f"{evidence}\n\n{question.description}",
        f"{question.summary}\n" + "\n".join(lines),
        question.revision,
        {**question.facts, "evidence": "\n".join(lines)},
    )


def analysis_decision(question: GateQuestion, outcome: AnalysisOutcome, at: datetime) -> GateDecision:
    """The recorded decision of a gate the analysis answered: approved, or rejected, by the analysis."""
    return GateDecision(
        gate=question.title,
        approved=outcome.phase is AnalysisPhase.SUCCESSFUL,
        comment=summary_line(outcome),
        approver=ANALYSIS_APPROVER,
        decided_at=at,
        key=question.key,
        revision=question.revision,
    )


def aborted_decision(
    env: str, app: str, after: int, revision: str, outcome: AnalysisOutcome, at: datetime
) -> GateDecision:
    """The decision recorded when the controller's own analysis aborted a canary between two gates.

    No gate was open (the controller aborts on its own), so the decision is
    named after the last step a gate approved (``after``; 0 before the first).
    """
    where = f"after step {after}" if after else "before its first gate"
    return GateDecision(
        gate=f"canary of {app} in {env}, {where}",
        approved=False,
        comment=summary_line(outcome),
        approver=ANALYSIS_APPROVER,
        decided_at=at,
        key=f"{gate_key('rollout-analysis', env, revision)}-after-{after}",
        revision=revision,
    )


def failed(release: str, decision: GateDecision) -> AnalysisFailed:
    """The stop raised when the analysis aborted a step."""
    return AnalysisFailed(
        f"release {release}: analysis failed at gate {decision.gate!r}: {decision.comment}; "
        "the canary was aborted and nothing further was synced",
        decision=decision,
    )
