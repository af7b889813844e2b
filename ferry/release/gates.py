"""What a human is asked at each gate, and the record of what they answered.

The Prefect layer turns a :class:`GateQuestion` into a paused run with a form
and turns the form's answer into a :class:`GateDecision`; both are plain values
so that the wording and the audit record are testable without Prefect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class GateDecision(BaseModel):
    """One answer to one gate: the audit record (artifact and run log)."""

    model_config = ConfigDict(frozen=True)

    gate: str
    approved: bool
    comment: str = ""
    approver: str = ""
    decided_at: datetime
    timed_out: bool = False

    @property
    def verdict(self) -> str:
        if self.timed_out:
            return "timed out"
        return "approved" if self.approved else "rejected"

    def log_line(self) -> str:
        """One line for the run log."""
        if self.timed_out:
            return f"gate {self.gate!r} timed out at {self.decided_at.isoformat()}"
        who = self.approver or "unknown"
        comment = f": {self.comment}" if self.comment else ""
        return f"gate {self.gate!r} {self.verdict} by {who} at {self.decided_at.isoformat()}{comment}"

    def markdown(self) -> str:
        """The artifact text."""
        return (
            f"# Gate: {self.gate}\n\n"
            f"| answer | by | at | comment |\n|---|---|---|---|\n"
            f"| **{self.verdict}** | {self.approver or '—'} | {self.decided_at.isoformat()} | "
            f"{self.comment.replace('|', '/') or '—'} |\n"
        )


def timed_out(gate: str, at: datetime | None = None) -> GateDecision:
    """The decision recorded when nobody answered in time."""
    return GateDecision(gate=gate, approved=False, timed_out=True, decided_at=at or datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class ImageMove:
    """One image changed by the release."""

    alias: str
    image: str
    old_tag: str | None
    new_tag: str
    renders_unchanged: bool = False  # the write-back changes nothing the app renders

    @classmethod
    def from_event(cls, data: dict[str, Any]) -> ImageMove:
        """From one entry of the ``ferry.image.updated`` payload's ``images``."""
        return cls(
            str(data.get("alias", "")),
            str(data["image"]),
            data.get("old_tag"),
            str(data["new_tag"]),
            bool(data.get("renders_unchanged", False)),
        )


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one validation check."""

    name: str
    passed: bool
    attempts: int
    detail: str = ""


@dataclass(frozen=True, slots=True)
class CanaryStep:
    """Where a canary is paused: step ``index`` (1-based) of ``total``."""

    index: int
    total: int
    traffic: int | None = None
    replicas: int | None = None

    def label(self) -> str:
        traffic = f"{self.traffic}%" if self.traffic is not None else "n/a"
        replicas = str(self.replicas) if self.replicas is not None else "n/a"
        return f"step {self.index}/{self.total} (traffic {traffic}, replicas {replicas})"


@dataclass(frozen=True, slots=True)
class GateQuestion:
    """A gate: its stable key (one answer per key per run), title and the markdown shown with the form."""

    key: str
    title: str
    description: str
    facts: dict[str, str] = field(default_factory=dict)


def _images_table(images: Sequence[ImageMove]) -> list[str]:
    if not images:
        return ["_No image change recorded._"]
    lines = ["| image | from | to |", "|---|---|---|"]
    lines += [f"| `{i.image}` | `{i.old_tag or '—'}` | `{i.new_tag}` |" for i in images]
    warnings = [
        f"⚠ `{i.image}:{i.new_tag}`: the write-back changes nothing that renders; "
        "no manifest reads the values its annotations name."
        for i in images
        if i.renders_unchanged
    ]
    return [*lines, "", *warnings] if warnings else lines


def dev_verified_question(
    release: str, app: str, commit: str, images: Sequence[ImageMove], checks: Sequence[CheckResult]
) -> GateQuestion:
    """Gate 1: Dev is synced and Healthy, validation ran; is it good?"""
    lines = [f"**Release** `{release}` — Dev app `{app}` is synced and Healthy at `{commit[:12]}`.", ""]
    lines += _images_table(images)
    lines += ["", "**Validation**", ""]
    if checks:
        lines += [
            f"- {'✅' if c.passed else '❌'} {c.name} ({c.attempts} attempt(s))"
            + (f": {c.detail}" if c.detail else "")
            for c in checks
        ]
    else:
        lines.append("- no checks configured")
    lines += ["", "Approve to go on to Staging; reject to stop this release."]
    return GateQuestion("dev-verified", "Dev verified?", "\n".join(lines), {"commit": commit})


def sync_question(
    env: str, app: str, revision: str, images: Sequence[ImageMove], diff_summary: str
) -> GateQuestion:
    """Gate before an environment's sync: the diff is in the run's artifacts."""
    lines = [f"Sync `{app}` ({env}) to `{revision[:12]}`?", ""]
    lines += _images_table(images)
    lines += ["", diff_summary, "", f"The full diff is the artifact `release-diff-{env}` of this run."]
    return GateQuestion(f"sync-{env}", f"Sync {env}?", "\n".join(lines), {"revision": revision})


def canary_question(env: str, app: str, step: CanaryStep) -> GateQuestion:
    """Gate at a paused canary step."""
    title = f"Approve canary {step.label()}?"
    text = (
        f"`{app}` ({env}): the canary is paused at {step.label()}. Approve to continue; reject to abort it."
    )
    return GateQuestion(f"canary-{env}-{step.index}", title, text)


def run_link(ui_url: str | None, flow_run_id: str) -> str:
    """A link to the paused run in the Prefect UI.

    >>> run_link("http://127.0.0.1:4200/", "abc")
    'http://127.0.0.1:4200/runs/flow-run/abc'
    """
    base = (ui_url or "http://127.0.0.1:4200").rstrip("/")
    return f"{base}/runs/flow-run/{flow_run_id}"


def notification_text(question: GateQuestion, link: str) -> tuple[str, str]:
    """Subject and body of a gate notification."""
    return f"Ferry: {question.title}", f"{question.title}\n\nResume or reject the paused run: {link}\n"
