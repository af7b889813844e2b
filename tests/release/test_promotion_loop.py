"""The release loop alone, over recording steps: which steps run, in which order, and what stops it.

Pure logic: the steps are a fake that records each call, answers gates from a script and
plays a canary of a given number of paused steps. The real steps (tasks, gates, clusters)
are covered by tests/release/test_gates.py, test_release_claims.py and the deployed chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from ferry.argocd.application import parse_application
from ferry.config import ClusterConfig
from ferry.errors import Rejected
from ferry.release.gates import CanaryStep, CheckResult, GateDecision, GateQuestion, ImageMove, WriteBack
from ferry.release.pipeline import ResolvedRelease
from ferry.release.promotion import ValidationFailed, promote_environment, run_release
from ferry.schema.releases import CanaryConfig, EnvironmentConfig, ReleaseConfig, ValidationCheck
from ferry.sync.model import AppDiff, Health, HealthStatus, SyncStatus
from ferry.sync.target import AppStatus, AppTarget

SHA = "a" * 40
STEP = "Approve canary step {}/2 (traffic n/a, replicas n/a)?"


def _target(name: str) -> AppTarget:
    app = parse_application(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": name},
            "spec": {
                "source": {"repoURL": "file:///deploy.git", "path": "chart", "targetRevision": "main"},
                "destination": {"name": "dev", "namespace": "echo"},
            },
        },
        source="test",
    )
    return AppTarget(app, ClusterConfig(name="dev"), "echo")


class Steps:
    """Records every call as ``(step, app)``; gates are answered from ``answers`` in order."""

    def __init__(self, answers: Sequence[bool] = (), canary_steps: int = 0, checks_pass: bool = True) -> None:
        self.calls: list[tuple[str, str]] = []
        self.questions: list[str] = []
        self.answers = list(answers)
        self.canary_left = canary_steps
        self.canary_total = canary_steps
        self.checks_pass = checks_pass
        self.views: list[Any] = []

    def _call(self, step: str, app: Any) -> None:
        self.calls.append((step, str(app)))

    def target(self, app: str) -> AppTarget:
        self._call("target", app)
        return _target(app)

    def wait_dev_ready(self, target: AppTarget, timeout: float) -> AppStatus:
        self._call("wait", target)
        return AppStatus(
            target.name, "dev", "echo", SHA, SyncStatus.SYNCED, Health(HealthStatus.HEALTHY), True, None
        )

    def history_images(self, target: AppTarget) -> tuple[Sequence[str], Sequence[str]]:
        return ["r.io/echo:v1"], ["r.io/echo:v2"]

    def renamed(self, name: str) -> None:
        self._call("rename", name)

    def validate(self, target: AppTarget, checks: tuple[ValidationCheck, ...]) -> list[CheckResult]:
        self._call("validate", target)
        return [CheckResult("smoke", self.checks_pass, 1)]

    def pin(self, target: AppTarget, revision: str | None) -> WriteBack:
        self._call("pin", target)
        return WriteBack(revision or SHA, "build: update")

    def diff(self, target: AppTarget, revision: str) -> AppDiff:
        self._call("diff", target)
        return AppDiff(target.name, revision, ())

    def publish_diff(self, env: str, target: AppTarget, revision: str, diff: AppDiff) -> str:
        return f"http://ui/{env}"

    def ask(self, question: GateQuestion) -> Any:
        self.questions.append(question.title)
        approved = self.answers.pop(0)
        if not approved:
            decision = GateDecision(gate=question.title, approved=False, decided_at=datetime.now(UTC))
            raise Rejected(f"rejected at {question.title}", decision=decision)
        return None

    def head(self, target: AppTarget) -> str:
        return SHA

    def canary_provider(self, target: AppTarget, revision: str, canary: CanaryConfig) -> Any:
        return "provider" if self.canary_total else None

    def sync(self, target: AppTarget, revision: str, *, wait: bool) -> Any:
        self._call(f"sync(wait={wait})", target)

    def canary_wait(self, provider: Any, app: str, timeout: float) -> CanaryStep | None:
        if self.canary_left == 0:
            return None
        return CanaryStep(self.canary_total - self.canary_left + 1, self.canary_total)

    def canary_approve(self, provider: Any, app: str, step: CanaryStep) -> None:
        self.canary_left -= 1
        self._call(f"approve step {step.index}", app)

    def canary_reject(self, provider: Any, app: str) -> None:
        self._call("abort canary", app)

    def canary_finish(self, provider: Any, app: str) -> None:
        self._call("finish canary", app)

    def quick_rollback(self, target: AppTarget) -> Any:
        self._call("quick rollback", target)

    def release_hold(self, target: AppTarget) -> bool:
        self._call("release hold", target)
        return False

    def clock(self) -> datetime:
        return datetime.now(UTC)

    def healthy_since(self, app: str, step: CanaryStep) -> datetime:
        return self.clock()

    def soak(self, app: str, step: CanaryStep, until: datetime) -> None:
        self._call(f"soak step {step.index}", app)

    def analyse(self, app: str, env: str, step: CanaryStep, revision: str, analysis: Any) -> Any:
        raise AssertionError("no analysis is configured in these tests")

    def record(self, question: GateQuestion, decision: GateDecision) -> GateDecision:
        raise AssertionError("no analysis is configured in these tests")

    def rollout_analysis(self, provider: Any, app: str, env: str, revision: str, since: int) -> Any:
        return None  # the Rollout ran no analysis steps of its own

    def publish_status(self, view: Any) -> None:
        self.views.append(view)

    def publish_wave_diff(self, env: str, wave: Any, diffs: Sequence[Any]) -> str:
        return f"http://ui/{env}-wave-{wave.number}"

    def sync_wave(
        self, targets: Sequence[AppTarget], revisions: Sequence[str], *, wait: bool, parallel: int
    ) -> Any:
        self._call(f"sync wave(wait={wait}, parallel={parallel})", ",".join(t.name for t in targets))

    def statuses(self, targets: Sequence[AppTarget]) -> list[AppStatus]:
        for t in targets:
            self._call("status", t)
        return [
            AppStatus(t.name, "c", "echo", SHA, SyncStatus.SYNCED, Health(HealthStatus.HEALTHY), False, None)
            for t in targets
        ]


def _release(auto_rollback: bool = False, provider: str = "argo") -> ResolvedRelease:
    config = ReleaseConfig(
        name="echo",
        environments={e: EnvironmentConfig(app=f"echo-{e}") for e in ("dev", "staging", "production")},
        auto_rollback=auto_rollback,
    )
    apps = {e: f"echo-{e}" for e in ("dev", "staging", "production")}
    return ResolvedRelease(
        config,
        apps,
        {
            "production": CanaryConfig(provider=provider, resource="echo")
            if provider != "native"
            else CanaryConfig(provider=provider)
        },
    )


def test_a_release_asks_dev_then_each_environment_in_order_and_syncs_the_pinned_commit() -> None:
    steps = Steps(answers=[True, True, True])
    done = run_release(steps, _release(), "echo-dev")
    assert steps.questions == ["Dev verified?", "Sync staging?", "Sync production?"]
    assert [(p.env, p.revision) for p in done] == [("staging", SHA), ("production", SHA)]
    syncs = [c for c in steps.calls if c[0].startswith("sync")]
    assert syncs == [("sync(wait=True)", "echo-staging"), ("sync(wait=True)", "echo-production")]
    assert ("rename", "release echo v2") in steps.calls  # named after the new tag from history


def test_failed_validation_stops_before_any_gate() -> None:
    steps = Steps(checks_pass=False)
    with pytest.raises(ValidationFailed, match="validation of echo-dev failed: smoke; nothing was promoted"):
        run_release(steps, _release(), "echo-dev")
    assert steps.questions == [] and not any(c[0].startswith("sync") for c in steps.calls)


def test_a_rejected_sync_gate_leaves_the_environment_and_the_later_ones_untouched() -> None:
    steps = Steps(answers=[True, False])
    done: list[Any] = []
    with pytest.raises(Rejected):
        run_release(steps, _release(), "echo-dev", done=done)
    assert done == [] and not any(c[0].startswith("sync") for c in steps.calls)


@pytest.mark.parametrize(
    ("auto_rollback", "provider", "expected_after_reject"),
    [
        (False, "argo", ["abort canary"]),
        (True, "argo", ["abort canary", "quick rollback"]),
        # The native canary syncs only after its steps: nothing to roll back.
        (True, "native", ["abort canary"]),
    ],
)
def test_a_rejected_canary_step_aborts_and_rolls_back_only_when_asked(
    auto_rollback: bool, provider: str, expected_after_reject: list[str]
) -> None:
    steps = Steps(answers=[True, False], canary_steps=2)
    with pytest.raises(Rejected):
        promote_environment(
            steps, _release(auto_rollback, provider), "production", [ImageMove("", "r/e", "v1", "v2")]
        )
    assert steps.questions == ["Sync production?", STEP.format(1)]
    names = [c[0] for c in steps.calls]
    assert names[names.index("abort canary") :] == expected_after_reject
    assert "finish canary" not in names and "release hold" not in names


def test_each_canary_step_is_asked_then_approved_then_finished() -> None:
    steps = Steps(answers=[True, True, True], canary_steps=2)
    promoted = promote_environment(steps, _release(), "production", [])
    names = [c[0] for c in steps.calls]
    assert steps.questions == [
        "Sync production?",
        STEP.format(1),
        STEP.format(2),
    ]
    # A controller's canary is the sync itself, not waited on for Healthy; then its steps.
    assert names[names.index("sync(wait=False)") :] == [
        "sync(wait=False)",
        "approve step 1",
        "approve step 2",
        "finish canary",
        "release hold",
        "status",
    ]
    assert promoted.as_dict() == {"env": "production", "app": "echo-production", "revision": SHA, "note": ""}
