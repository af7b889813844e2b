"""The values of one image update cycle: each application's plan and outcome, and the report.

Kept apart from :mod:`ferry.update.cycle`, which does the work, so that the flow's
batching (:mod:`ferry.update.batch`) and the CLI can speak of results without the
updater's pools and adapters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from ferry.argocd.application import Application
from ferry.update.message import ImageChange
from ferry.vcs.writeback import PlannedCommit


def error_text(exc: BaseException) -> str:
    """How an error reads in an outcome: its type and message."""
    return f"{type(exc).__name__}: {exc}"


class UpdateStatus(StrEnum):
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DRY_RUN = "dry-run"
    SKIPPED = "skipped"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class AppPlan:
    """What one application needs: the image changes and the commit that writes them."""

    app: str
    repo_url: str
    base_branch: str | None
    write_branch: str | None
    target: str
    changes: tuple[ImageChange, ...]
    commit: PlannedCommit | None
    credentials: str | None = None  # the write-back-method's secret reference, if any


@dataclass(frozen=True, slots=True)
class AppOutcome:
    """The result for one application, as shown in the CLI's JSON and the flow's artifact."""

    app: str
    status: UpdateStatus
    changes: tuple[ImageChange, ...] = ()
    repo: str | None = None
    branch: str | None = None
    target: str | None = None
    commit: str | None = None
    error: str | None = None

    @property
    def warnings(self) -> tuple[str, ...]:
        """One line per image change whose write-back changes nothing the app renders."""
        return tuple(
            f"{c.new_ref}: the write-back changes nothing {self.app} renders "
            "(no manifest reads the values the annotations name)"
            for c in self.changes
            if c.renders_unchanged
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "app": self.app,
            "status": self.status.value,
            "repo": self.repo,
            "branch": self.branch,
            "target": self.target,
            "commit": self.commit,
            "error": self.error,
            "warnings": list(self.warnings),
            "changes": [c.as_dict() for c in self.changes],
        }


@dataclass(frozen=True, slots=True)
class WriteGroup:
    """Plans that go out in one push: same repository, same base and write branch."""

    repo_url: str
    base_branch: str | None
    write_branch: str | None
    plans: tuple[AppPlan, ...]

    def failed(self, exc: BaseException) -> list[AppOutcome]:
        return [
            AppOutcome(
                p.app,
                UpdateStatus.ERROR,
                p.changes,
                self.repo_url,
                self.write_branch or self.base_branch,
                p.target,
                error=error_text(exc),
            )
            for p in self.plans
        ]


def group_plans(plans: Sequence[AppPlan]) -> list[WriteGroup]:
    """Group the plans that have something to commit by repository and branches, keeping their order."""
    groups: dict[tuple[str, str | None, str | None], list[AppPlan]] = {}
    for plan in plans:
        if plan.commit is not None:
            groups.setdefault((plan.repo_url, plan.base_branch, plan.write_branch), []).append(plan)
    return [WriteGroup(url, base, branch, tuple(items)) for (url, base, branch), items in groups.items()]


#: What planning one application gave: its plan, None without image-list, or its error.
PlanResult = AppPlan | None | Exception


def attempt_each(
    plan: Callable[[Application], AppPlan | None], apps: Sequence[Application]
) -> list[PlanResult]:
    """``plan`` over ``apps``; one application's exception, whatever it is, becomes its result."""
    results: list[PlanResult] = []
    for app in apps:
        try:
            results.append(plan(app))
        except Exception as exc:  # noqa: BLE001 - one app's failure must not stop the others
            results.append(exc)
    return results


def unchanged_outcomes(plans: Sequence[AppPlan]) -> list[AppOutcome]:
    """Outcomes for the plans with nothing to commit."""
    return [
        AppOutcome(p.app, UpdateStatus.UNCHANGED, repo=p.repo_url, target=p.target)
        for p in plans
        if p.commit is None
    ]


@dataclass(frozen=True, slots=True)
class CycleReport:
    """Counters plus the change list, like Image Updater's result."""

    outcomes: tuple[AppOutcome, ...]

    def count(self, status: UpdateStatus) -> int:
        return sum(1 for o in self.outcomes if o.status is status)

    @property
    def errors(self) -> int:
        return self.count(UpdateStatus.ERROR)

    @property
    def images_updated(self) -> int:
        return sum(len(o.changes) for o in self.outcomes if o.status is UpdateStatus.UPDATED)
