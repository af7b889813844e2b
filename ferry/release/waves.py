"""An environment released as ordered waves of Applications (clusters, regions), stopping at a failure.

Per wave: one artifact with every app's diff, one gate ("Sync production wave 2
(cn-beijing, cn-shanghai)?"), the wave's syncs in parallel (bounded), each app's
canary gates with their analysis, a wait until every app is Healthy, an optional
soak. A later wave may open without asking (``auto_approve``) when every app of
the wave before passed its analysis. A reject, a failed analysis or an app that
is not Healthy stops the release there: the failed wave's apps roll back when
``auto_rollback`` is on, and the later waves are never touched. The fleet view
(:mod:`ferry.release.fleet`) is published after every change.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from ferry.analysis.model import AnalysisOutcome, AnalysisPhase
from ferry.errors import FerryError, GateStopped, PermanentError
from ferry.release import analysis_gate
from ferry.release.canary_gates import canary_gates
from ferry.release.fleet import FleetRow, FleetView, Wave
from ferry.release.gates import CanaryStep, GateDecision, ImageMove
from ferry.release.pipeline import ResolvedRelease
from ferry.release.questions import wave_question
from ferry.release.steps import Promoted, ReleaseSteps, diff_digest
from ferry.sync.target import AppTarget

logger = logging.getLogger(__name__)


class WaveUnhealthy(PermanentError):
    """An app of a wave was not Synced and Healthy after its sync: the release stops before the next wave."""


@dataclass(slots=True)
class _Fleet:
    """The view as last published: a stop shows what the failed wave got to, not what it started with."""

    steps: ReleaseSteps
    view: FleetView

    def show(self, view: FleetView) -> FleetView:
        self.view = view
        self.steps.publish_status(view)
        return view


@dataclass(frozen=True, slots=True)
class WaveResult:
    """What one wave left: the apps released, and the analyses' verdicts behind their canary gates."""

    promoted: tuple[Promoted, ...]
    verdicts: tuple[AnalysisOutcome | None, ...]

    def passed(self) -> bool:
        """Every canary gate of the wave had an analysis, and all passed (what opens the next alone)."""
        return bool(self.verdicts) and all(
            v is not None and v.phase is AnalysisPhase.SUCCESSFUL for v in self.verdicts
        )


def promote_waves(
    steps: ReleaseSteps,
    resolved: ResolvedRelease,
    env: str,
    images: Sequence[ImageMove],
    view: FleetView,
    *,
    note: str = "",
) -> tuple[list[Promoted], FleetView]:
    """Release ``env``'s waves in order; the apps released and the fleet view after.

    Raises:
        GateStopped: A wave's gate or a canary step was rejected (``Rejected``, also a failed
            analysis) or timed out; the view saying so was published first.
        FerryError: An app failed to sync or was not Healthy; likewise published first.
    """
    done: list[Promoted] = []
    last: WaveResult | None = None
    waves = resolved.waves[env]
    fleet = _Fleet(steps, view)
    for wave in waves:
        try:
            last = _one_wave(steps, resolved, env, wave, images, fleet, last, note)
        except (GateStopped, FerryError) as exc:
            view = fleet.view.each(wave.apps, state="stopped")
            decision = exc.decision if isinstance(exc, GateStopped) else None
            if isinstance(decision, GateDecision):
                # The decision that stopped the wave goes on the rows it was about: the wave's gate
                # (rows not yet decided) or the canary it aborted.
                about = [
                    r.app for r in view.rows if r.app in wave.apps and (not r.gate or r.canary == "aborted")
                ]
                view = view.each(about, gate=said(decision))
            for later in waves[wave.number :]:
                view = view.each(later.apps, state="untouched")
            fleet.show(view)
            logger.warning("%s %s stopped: %s; later waves untouched", env, wave.label, exc)
            raise
        done += last.promoted
    return done, fleet.view


def _one_wave(
    steps: ReleaseSteps,
    resolved: ResolvedRelease,
    env: str,
    wave: Wave,
    images: Sequence[ImageMove],
    fleet: _Fleet,
    last: WaveResult | None,
    note: str,
) -> WaveResult:
    canary = resolved.canary(env)
    targets = [steps.target(app) for app in wave.apps]
    pins = [steps.pin(t, None) for t in targets]
    diffs = [steps.diff(t, pin.sha) for t, pin in zip(targets, pins, strict=True)]
    url = steps.publish_wave_diff(env, wave, list(zip(targets, [p.sha for p in pins], diffs, strict=True)))
    earlier = [_line(r) for r in fleet.view.rows if r.env == env and 0 < r.wave < wave.number]
    question = wave_question(
        env,
        wave,
        [(t.name, fleet.view.row(t.name).cluster, pin) for t, pin in zip(targets, pins, strict=True)],
        images,
        [diff_digest(d, url) for d in diffs],
        earlier,
        note,
    )
    if wave.config.auto_approve and last is not None and last.passed():
        decision = steps.record(question, _by_analysis(question.title, question.key, steps))
    else:
        decision = steps.ask(question)
    fleet.show(fleet.view.each(wave.apps, state="syncing", gate=said(decision)))

    native = canary.provider == "native"
    shas = [pin.sha for pin in pins]
    providers = [steps.canary_provider(t, sha, canary) for t, sha in zip(targets, shas, strict=True)]
    parallel = wave.config.max_parallel
    if not native:
        # A controller's canary starts with the sync: all of the wave's start together.
        steps.sync_wave(targets, shas, wait=providers[0] is None, parallel=parallel)
    verdicts: list[AnalysisOutcome | None] = []
    synced = [] if native else list(targets)
    for target, sha, provider in zip(targets, shas, providers, strict=True):
        if provider is None:
            continue
        fleet.show(fleet.view.at(target.name, state="canary"))
        try:
            verdicts += canary_gates(
                steps, resolved, env, target, sha, provider, place=f"{env}-{target.name}"
            )
        except GateStopped:
            fleet.show(fleet.view.at(target.name, canary="aborted"))
            # canary_gates rolled back the app it stopped at; the rest of the wave goes back too.
            _roll_back(steps, resolved, [t for t in synced if t.name != target.name])
            raise
        fleet.show(fleet.view.at(target.name, canary="promoted"))
    if native:
        steps.sync_wave(targets, shas, wait=True, parallel=parallel)
    for target, provider in zip(targets, providers, strict=True):
        if provider is not None:
            steps.canary_finish(provider, target.name)
    _healthy(steps, resolved, fleet, targets, shas)
    if wave.config.soak:
        _soak(steps, env, wave, len(resolved.waves[env]), wave.config.soak)
    for target in targets:
        steps.release_hold(target)
    promoted = tuple(Promoted(env, t.name, sha) for t, sha in zip(targets, shas, strict=True))
    logger.info("%s %s released at %s", env, wave.label, ", ".join(dict.fromkeys(s[:12] for s in shas)))
    return WaveResult(promoted, tuple(verdicts))


def _healthy(
    steps: ReleaseSteps, resolved: ResolvedRelease, fleet: _Fleet, targets: list[AppTarget], shas: list[str]
) -> None:
    """Show each app's state after the wave; stop (rolling the wave back) when one is not ready."""
    statuses = steps.statuses(targets)
    view = fleet.view
    for target, sha, status in zip(targets, shas, statuses, strict=True):
        health = status.health.status.value if status.health else "Unknown"
        view = view.at(
            target.name, revision=sha, health=health, state="released" if status.ready else "failed"
        )
    fleet.show(view)
    bad = [t.name for t, s in zip(targets, statuses, strict=True) if not s.ready]
    if bad:
        _roll_back(steps, resolved, targets)
        raise WaveUnhealthy(f"{', '.join(bad)} not Synced and Healthy after the wave's sync")


def _roll_back(steps: ReleaseSteps, resolved: ResolvedRelease, targets: Sequence[AppTarget]) -> None:
    if resolved.config.auto_rollback:
        for target in targets:
            steps.quick_rollback(target)


def _soak(steps: ReleaseSteps, env: str, wave: Wave, total: int, seconds: float) -> None:
    """Stay on the wave, Healthy, for ``seconds`` from when it first was (once per run)."""
    marker = CanaryStep(wave.number, total)
    place = f"{env}-wave-{wave.number}"
    since = steps.healthy_since(place, marker)
    steps.soak(place, marker, analysis_gate.soak_until(since, seconds))


def _by_analysis(title: str, key: str, steps: ReleaseSteps) -> GateDecision:
    return GateDecision(
        gate=title,
        approved=True,
        comment="every canary gate of the wave before passed its analysis",
        approver=analysis_gate.ANALYSIS_APPROVER,
        decided_at=steps.clock(),
        key=key,
    )


def said(decision: object) -> str:
    """The fleet view's words for a gate's decision (a fake's may be anything)."""
    if not isinstance(decision, GateDecision):
        return "approved"
    who = f" by {decision.approver}" if decision.approver else ""
    return f"{decision.verdict}{who}" + (f": {decision.comment}" if decision.comment else "")


def _line(r: FleetRow) -> str:
    """One earlier app, for the next wave's gate."""
    return (
        f"wave {r.wave} `{r.app}` on {r.cluster}: {r.state}, {r.revision[:12] or '—'}, "
        f"{r.health or '—'}, {r.gate or '—'}"
    )
