"""What the release loop calls at each point (:class:`ReleaseSteps`), and what it returns per environment.

The core owns the loops (``promotion``, ``waves``, ``canary_gates``) and the
Prefect flow passes its steps in; a step is a retrying task or a gate there and
only a call here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ferry.analysis.model import AnalysisOutcome
from ferry.release.canary import CanaryProvider
from ferry.release.fleet import FleetView, Wave
from ferry.release.gates import CanaryStep, CheckResult, GateDecision, GateQuestion, WriteBack
from ferry.release.questions import DiffDigest, ResourceChange, field_changes
from ferry.schema.releases import AnalysisConfig, CanaryConfig, ValidationCheck
from ferry.sync.model import AppDiff
from ferry.sync.target import AppStatus, AppTarget


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
    # Waves: one artifact for a wave's diffs, its syncs in parallel, its apps' state, the fleet view.
    def publish_wave_diff(
        self, env: str, wave: Wave, diffs: Sequence[tuple[AppTarget, str, AppDiff]]
    ) -> str: ...
    def sync_wave(
        self, targets: Sequence[AppTarget], revisions: Sequence[str], *, wait: bool, parallel: int
    ) -> Any: ...
    def statuses(self, targets: Sequence[AppTarget]) -> list[AppStatus]: ...
    def publish_status(self, view: FleetView) -> None: ...


@dataclass(frozen=True, slots=True)
class Promoted:
    """One environment released: the revision it runs, and the warning for the next gate ('' if none)."""

    env: str
    app: str
    revision: str
    note: str = ""
    #: For the fleet view: the sync gate's decision, the app's health once released, its canary's end.
    gate: str = ""
    health: str = ""
    canary: str = ""

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
