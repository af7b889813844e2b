"""What the CI build stage produces: detections, pushed images, per-ref outcomes, a cycle's result.

Plain values, shared by :mod:`ferry.ci.cycle` (which makes them), the CLI and the
Prefect flow (which show them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from ferry.ci.detect import BuildCandidate

__all__ = ["BuildOutcome", "BuildStatus", "CycleResult", "Detection", "PushedImage"]


class BuildStatus(StrEnum):
    """What happened to one candidate ref."""

    built = "built"
    up_to_date = "up-to-date"
    failed = "failed"


@dataclass(frozen=True, slots=True)
class Detection:
    """One rule's detection: refs to build, refs already built, refs ignored."""

    rule: str
    to_build: tuple[BuildCandidate, ...]
    up_to_date: tuple[BuildCandidate, ...]
    ignored: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PushedImage:
    """A pushed build: the candidate, the digest the registry holds, the log tail."""

    candidate: BuildCandidate
    digest: str | None
    log_tail: str
    log_path: Path


@dataclass(frozen=True, slots=True)
class BuildOutcome:
    """The result of one candidate in a cycle."""

    rule: str
    ref: str
    reference: str
    status: BuildStatus
    digest: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """A JSON-ready view."""
        return {
            "rule": self.rule,
            "ref": self.ref,
            "image": self.reference,
            "status": self.status.value,
            "digest": self.digest,
            "error": self.error,
        }


@dataclass
class CycleResult:
    """Every outcome of a cycle, plus the refs the rules ignored."""

    outcomes: list[BuildOutcome] = field(default_factory=list)
    ignored: int = 0

    @property
    def failed(self) -> int:
        """How many candidates failed."""
        return sum(1 for o in self.outcomes if o.status is BuildStatus.failed)
