"""An analysis metric with Argo Rollouts' AnalysisTemplate semantics, and the records of its run.

:class:`AnalysisMetric` is one entry of an AnalysisTemplate's ``metrics:``,
with the same keys (``successCondition``, ``failureLimit``, ``interval``, …;
the snake_case spellings work too) and the checks Argo's ``ValidateMetric``
makes, so a metric can be pasted from a template into ``ferry.yaml`` and
means the same thing. Only the ``prometheus`` provider exists here.

:class:`Measurement` and :class:`MetricResult` mirror the AnalysisRun's
``status.metricResults``; they are frozen, and each new measurement makes a
new result (see :mod:`ferry.analysis.assess`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator, model_validator

from ferry.analysis.expr import ExprError, compile_condition
from ferry.schema.base import FrozenModel

#: Argo's ``DefaultConsecutiveErrorLimit``: a fifth error in a row errors the metric.
DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4
#: Argo's ``DefaultErrorRetryInterval``: an errored measurement is retried after this, whatever the interval.
ERROR_RETRY_SECONDS = 10.0

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_UNIT = re.compile(r"[^\d.]*")


def parse_duration(text: str) -> float:
    """Seconds of a Go duration string (``time.ParseDuration``), as Argo's ``DurationString`` reads it.

    >>> [parse_duration(t) for t in ("30s", "1m30s", "500ms", "0")]
    [30.0, 90.0, 0.5, 0.0]

    Raises:
        ValueError: Not a Go duration (the message is Go's).
    """
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0.0
    if not body:
        raise ValueError(f'time: invalid duration "{text}"')
    total, pos = 0.0, 0
    while pos < len(body):
        number = _NUMBER.match(body, pos)
        if number is None:
            raise ValueError(f'time: invalid duration "{text}"')
        unit = _UNIT.match(body, number.end())
        name = unit.group() if unit else ""
        if not name:
            raise ValueError(f'time: missing unit in duration "{text}"')
        if name not in _UNITS:
            raise ValueError(f'time: unknown unit "{name}" in duration "{text}"')
        total += float(number.group()) * _UNITS[name]
        pos = number.end() + len(name)
    return -total if text.startswith("-") else total


class AnalysisPhase(StrEnum):
    """The phase of a measurement, a metric or a whole analysis (Argo's ``AnalysisPhase``)."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    ERROR = "Error"
    INCONCLUSIVE = "Inconclusive"

    @property
    def completed(self) -> bool:
        """Successful, Failed, Error and Inconclusive are final."""
        return self in (self.SUCCESSFUL, self.FAILED, self.ERROR, self.INCONCLUSIVE)

    @property
    def rank(self) -> int:
        """Argo's ``analysisStatusOrder``, best to worst: Failed is worst, then Error, then Inconclusive."""
        return _ORDER.index(self)


_ORDER = (
    AnalysisPhase.SUCCESSFUL,
    AnalysisPhase.RUNNING,
    AnalysisPhase.PENDING,
    AnalysisPhase.INCONCLUSIVE,
    AnalysisPhase.ERROR,
    AnalysisPhase.FAILED,
)


class PrometheusQuery(FrozenModel):
    """``provider.prometheus``: one instant PromQL query against ``address`` (Prometheus' HTTP API)."""

    address: str | None = Field(
        default=None, description="Base URL of Prometheus; None: the environment's default"
    )
    query: str = Field(min_length=1)
    timeout: float = Field(default=30.0, gt=0, description="Seconds per query (Argo's default 30)")


class MetricProvider(FrozenModel):
    """``provider:``; only ``prometheus`` is supported."""

    prometheus: PrometheusQuery


class AnalysisMetric(FrozenModel):
    """One metric of an analysis, with AnalysisTemplate's keys and defaults.

    Attributes:
        name: Unique within the analysis.
        provider: Where the value comes from.
        success_condition: ``successCondition`` over ``result``; absent: success unless failing.
        failure_condition: ``failureCondition``; absent: failure unless successful.
        interval: Seconds between measurements (``"30s"``); absent with ``count`` ≤ 1: measure once.
        count: Measurements to take; absent with an interval: measure until stopped.
        failure_limit: Failed measurements tolerated (``-1``: any number, only with a
            ``consecutive_success_limit``).
        consecutive_success_limit: Successes in a row that end the metric Successful (0: off).
        inconclusive_limit: Inconclusive measurements tolerated.
        consecutive_error_limit: Errors in a row tolerated.
        initial_delay: Seconds to wait before the first measurement.
    """

    name: str = Field(min_length=1)
    provider: MetricProvider
    success_condition: str | None = Field(default=None, alias="successCondition")
    failure_condition: str | None = Field(default=None, alias="failureCondition")
    interval: float | None = None
    count: int | None = Field(default=None, ge=0)
    failure_limit: int = Field(default=0, alias="failureLimit")
    consecutive_success_limit: int = Field(default=0, alias="consecutiveSuccessLimit")
    inconclusive_limit: int = Field(default=0, alias="inconclusiveLimit")
    consecutive_error_limit: int = Field(
        default=DEFAULT_CONSECUTIVE_ERROR_LIMIT, alias="consecutiveErrorLimit"
    )
    initial_delay: float | None = Field(default=None, alias="initialDelay")

    @field_validator("interval", "initial_delay", mode="before")
    @classmethod
    def _duration(cls, value: Any, info: Any) -> Any:
        if isinstance(value, str):
            try:
                return parse_duration(value)
            except ValueError as exc:
                what = "interval" if info.field_name == "interval" else "initialDelay"
                raise ValueError(f"invalid {what} string: {exc}") from None
        return value

    @field_validator("success_condition", "failure_condition")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compile_condition(value)
            except ExprError as exc:
                raise ValueError(f"condition {value!r} does not parse: {exc}") from None
        return value

    @model_validator(mode="after")
    def _argo_rules(self) -> AnalysisMetric:
        # Argo's ValidateMetric, in its order and with its messages.
        success, failure = self.consecutive_success_limit, self.failure_limit
        if success < 0:
            raise ValueError("consecutiveSuccessLimit must be >= 0")
        if failure < -1:
            raise ValueError("failureLimit must be >= 0, or -1 to be disabled")
        if success == 0 and failure == -1:
            raise ValueError("failureLimit and consecutiveSuccessLimit cannot both be disabled")
        if self.inconclusive_limit < 0:
            raise ValueError("inconclusiveLimit must be >= 0")
        if self.consecutive_error_limit < 0:
            raise ValueError("consecutiveErrorLimit must be >= 0")
        count = self.count or 0
        if count > 0 and failure >= 0 and count < failure + success:
            raise ValueError(
                f"count ({count}) must be >= failureLimit + consecutiveSuccessLimit "
                f"({failure} + {success}) if both >= 0"
            )
        if count > 0 and failure < 0 and count < success:
            raise ValueError("count must be >= consecutiveSuccessLimit")
        if count > 0 and count < self.inconclusive_limit:
            raise ValueError("count must be >= inconclusiveLimit")
        if count > 1 and self.interval is None:
            raise ValueError("interval must be specified when count > 1")
        return self

    @property
    def query(self) -> PrometheusQuery:
        """The Prometheus query."""
        return self.provider.prometheus

    @property
    def effective_count(self) -> int | None:
        """Argo's ``EffectiveCount``: no count and no interval means one measurement; None is unbounded."""
        if not self.count:
            return 1 if self.interval is None else None
        return self.count


def validate_metrics(metrics: tuple[AnalysisMetric, ...]) -> None:
    """Argo's ``ValidateMetrics`` across metrics: at least one, names unique.

    Raises:
        ValueError: With Argo's message.
    """
    if not metrics:
        raise ValueError("no metrics specified")
    seen: set[str] = set()
    for index, metric in enumerate(metrics):
        if metric.name in seen:
            raise ValueError(f"metrics[{index}]: duplicate name '{metric.name}'")
        seen.add(metric.name)


@dataclass(frozen=True, slots=True)
class Measurement:
    """One measurement: its phase, the value as Argo prints it (``"0.97"``, ``"[10,11]"``), when, and why."""

    phase: AnalysisPhase
    started_at: datetime
    finished_at: datetime | None = None
    value: str = ""
    message: str = ""


@dataclass(frozen=True, slots=True)
class MetricResult:
    """The state of one metric: its measurements and Argo's counters."""

    name: str
    phase: AnalysisPhase = AnalysisPhase.PENDING
    measurements: tuple[Measurement, ...] = ()
    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0
    consecutive_error: int = 0
    consecutive_success: int = 0
    message: str = ""

    @property
    def last(self) -> Measurement | None:
        """The newest measurement, if any."""
        return self.measurements[-1] if self.measurements else None


@dataclass(frozen=True, slots=True)
class AnalysisOutcome:
    """A finished (or stopped) analysis: its phase, why, and every metric's record.

    ``source`` says who ran it: empty for Ferry's own analysis, ``AnalysisRun
    <namespace>/<name>`` for one the Argo Rollouts controller ran.
    """

    phase: AnalysisPhase
    metrics: tuple[MetricResult, ...] = field(default_factory=tuple)
    message: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    source: str = ""

    def metric(self, name: str) -> MetricResult:
        """The result of metric ``name``."""
        for result in self.metrics:
            if result.name == name:
                return result
        raise KeyError(name)
