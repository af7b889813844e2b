"""The values a gate is made of: what it asks about, its key, and the record of the answer.

A gate is keyed by its environment **and** the revision it asks about
(``sync-staging-9f14c6e2a1b3``), so an answer can only ever apply to the commit
that was shown: a run re-executed after a suspension asks again, under a new
key, when it would otherwise act on another commit. The wording lives in
:mod:`ferry.release.questions`; the Prefect layer turns both into a paused run
with a form. Everything here is a plain value, testable without Prefect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from ferry.errors import ConfigError
from ferry.image.reference import ImageReference

SHORT_SHA = 12


class Verdict(StrEnum):
    """The operator's choice on a gate's form; there is deliberately no default."""

    APPROVE = "approve"
    REJECT = "reject"


def gate_key(kind: str, env: str, revision: str, step: int | None = None) -> str:
    """The pause key (and artifact key) of one gate: kind, environment, revision, canary step.

    >>> gate_key("sync", "staging", "9f14c6e2a1b3d4e5f6")
    'sync-staging-9f14c6e2a1b3'
    >>> gate_key("canary", "production", "9f14c6e2a1b3d4e5f6", 2)
    'canary-production-9f14c6e2a1b3-step-2'
    >>> gate_key("verified", "dev", "")
    'verified-dev-unknown'
    """
    key = f"{kind}-{env}-{revision[:SHORT_SHA].lower() or 'unknown'}"
    return key if step is None else f"{key}-step-{step}"


class GateDecision(BaseModel):
    """One answer to one gate: the audit record (artifact and run log), with the SHA it approved."""

    model_config = ConfigDict(frozen=True)

    gate: str
    approved: bool
    comment: str = ""
    approver: str = ""
    decided_at: datetime
    timed_out: bool = False
    key: str = ""
    revision: str = ""

    @property
    def verdict(self) -> str:
        if self.timed_out:
            return "timed out"
        return "approved" if self.approved else "rejected"

    def log_line(self) -> str:
        """One line for the run log."""
        at = self.decided_at.isoformat()
        if self.timed_out:
            return f"gate {self.gate!r} timed out at {at}"
        who = self.approver or "unknown"
        comment = f": {self.comment}" if self.comment else ""
        revision = f" for {self.revision[:SHORT_SHA]}" if self.revision else ""
        return f"gate {self.gate!r} {self.verdict}{revision} by {who} at {at}{comment}"

    def markdown(self) -> str:
        """The decision, as the last section of the gate's artifact (a list: nothing is clipped)."""
        lines = [
            f"## Decision: **{self.verdict}**",
            "",
            f"- **by:** {self.approver or '—'}",
            f"- **at:** {self.decided_at.isoformat()}",
        ]
        if self.revision:
            lines.append(f"- **revision:** `{self.revision}`")
        lines.append(f"- **comment:** {self.comment or '—'}")
        return "\n".join(lines) + "\n"

    def ended(self, release: str) -> str:
        """The message a rejected or timed-out release ends with (the run's final state)."""
        if self.timed_out:
            return f"release {release}: gate {self.gate!r} timed out; nothing further was synced"
        return (
            f"release {release} rejected at gate {self.gate!r} by {self.approver or 'unknown'}: "
            f"{self.comment or 'no comment'}; nothing further was synced"
        )


def timed_out(gate: str, at: datetime | None = None, *, key: str = "", revision: str = "") -> GateDecision:
    """The decision recorded when nobody answered in time."""
    return GateDecision(
        gate=gate,
        approved=False,
        timed_out=True,
        decided_at=at or datetime.now(UTC),
        key=key,
        revision=revision,
    )


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

    @classmethod
    def between(cls, old: Sequence[str], new: Sequence[str]) -> list[ImageMove]:
        """The images of ``new`` whose tag (or digest) differs from ``old``'s, as recorded in sync history.

        References are parsed with the Docker grammar, so a registry port or a digest is
        never taken for a tag; one that does not parse (history is read from the cluster)
        is left out rather than shown wrong.

        >>> ImageMove.between(["127.0.0.1:5000/a:v1", "r/b:v1"], ["127.0.0.1:5000/a:v2", "r/b:v1"])
        [ImageMove(alias='', image='127.0.0.1:5000/a', old_tag='v1', new_tag='v2', renders_unchanged=False)]
        >>> [m.new_tag for m in ImageMove.between([], ["127.0.0.1:5000/a", "r/c@sha256:" + "0" * 64])]
        ['latest', 'sha256:0000000000000000000000000000000000000000000000000000000000000000']
        """
        before = dict(_versions(old))
        return [
            cls("", name, before.get(name), version)
            for name, version in _versions(new)
            if before.get(name) != version
        ]

    @property
    def name(self) -> str:
        """The repository's last path component: ``127.0.0.1:5000/cidemo/echo-server`` → ``echo-server``."""
        return self.image.rsplit("/", 1)[-1]


def _versions(references: Sequence[str]) -> list[tuple[str, str]]:
    """``(name, tag or digest)`` of each reference that parses; no tag means Docker's ``latest``."""
    versions = []
    for text in references:
        try:
            ref = ImageReference.parse(text)
        except ConfigError:
            continue
        versions.append((ref.name, ref.tag or ref.digest or "latest"))
    return versions


def new_tags(images: list[ImageMove] | tuple[ImageMove, ...]) -> str:
    """The new tags, each once, in order: what a release run is named after.

    >>> new_tags([ImageMove("a", "r/a", "v1", "v3-5a7147"), ImageMove("b", "r/b", "v1", "v3-5a7147")])
    'v3-5a7147'
    """
    return ",".join(dict.fromkeys(i.new_tag for i in images))


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
    # The pods behind the step, when the provider sees them (Argo: from the two ReplicaSets).
    canary_ready: int | None = None
    stable_replicas: int | None = None
    stable_ready: int | None = None

    def label(self) -> str:
        traffic = f"{self.traffic}%" if self.traffic is not None else "n/a"
        replicas = str(self.replicas) if self.replicas is not None else "n/a"
        return f"step {self.index}/{self.total} (traffic {traffic}, replicas {replicas})"


@dataclass(frozen=True, slots=True)
class WriteBack:
    """The deploy-repo commit a gate is about, and the run that made it (when known)."""

    sha: str
    message: str = ""
    run_url: str | None = None

    @property
    def subject(self) -> str:
        return self.message.strip().splitlines()[0] if self.message.strip() else ""


@dataclass(frozen=True, slots=True)
class GateQuestion:
    """One gate.

    Attributes:
        key: Its pause key: one answer per key per run (see :func:`gate_key`).
        title: The question, e.g. "Sync staging?".
        description: The markdown shown above the form (and in the gate's artifact).
        summary: A few plain lines for the run's state message, readable without opening anything.
        revision: The SHA an approval applies to.
        facts: Values for notifications and tests.
    """

    key: str
    title: str
    description: str
    summary: str = ""
    revision: str = ""
    facts: dict[str, str] = field(default_factory=dict)


def run_link(ui_url: str | None, flow_run_id: str) -> str:
    """A link to a flow run in the Prefect UI.

    >>> run_link("http://127.0.0.1:4200/", "abc")
    'http://127.0.0.1:4200/runs/flow-run/abc'
    """
    base = (ui_url or "http://127.0.0.1:4200").rstrip("/")
    return f"{base}/runs/flow-run/{flow_run_id}"


def artifact_link(ui_url: str | None, artifact_id: str) -> str:
    """A link to one artifact in the Prefect UI.

    >>> artifact_link("http://127.0.0.1:4200", "f00")
    'http://127.0.0.1:4200/artifacts/artifact/f00'
    """
    base = (ui_url or "http://127.0.0.1:4200").rstrip("/")
    return f"{base}/artifacts/artifact/{artifact_id}"


def notification_text(question: GateQuestion, link: str) -> tuple[str, str]:
    """Subject and body of a gate notification."""
    body = f"{question.title}\n\n{question.summary}\n\nDecide in the paused run: {link}\n"
    return f"Ferry: {question.title}", body
