"""The analysis loop with a fake clock: when it measures, when it stops, what it records."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ferry.analysis.model import AnalysisMetric, AnalysisPhase, MetricResult
from ferry.analysis.report import COLUMNS, measurement_rows, summary_line
from ferry.analysis.runner import run_analysis
from ferry.errors import TransientError

P = AnalysisPhase


class FakeTime:
    """A clock that only moves when the runner sleeps."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)
        self.sleeps: list[float] = []

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


def metric(name: str = "success-rate", **keys: Any) -> AnalysisMetric:
    return AnalysisMetric.model_validate(
        {
            "name": name,
            "provider": {"prometheus": {"query": "q"}},
            "successCondition": "result[0] >= 0.95",
            "failureCondition": "result[0] < 0.8",
            **keys,
        }
    )


def feeding(*values: Any) -> tuple[Any, list[datetime], FakeTime]:
    time = FakeTime()
    taken: list[datetime] = []
    queue = list(values)

    def measure(m: AnalysisMetric) -> Any:
        taken.append(time.now)
        value = queue.pop(0)
        if isinstance(value, Exception):
            raise value
        return value

    return measure, taken, time


def run(metrics: list[AnalysisMetric], measure: Any, time: FakeTime, **kw: Any) -> Any:
    return run_analysis(metrics, measure, clock=time.clock, sleep=time.sleep, **kw)


def test_initial_delay_then_count_measurements_at_the_interval() -> None:
    measure, taken, time = feeding([0.99], [0.97], [0.96])
    outcome = run([metric(initialDelay="5s", interval="10s", count=3)], measure, time)
    assert outcome.phase is P.SUCCESSFUL
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert taken == [start + timedelta(seconds=s) for s in (5, 15, 25)]
    result = outcome.metric("success-rate")
    assert [m.value for m in result.measurements] == ["[0.99]", "[0.97]", "[0.96]"]
    assert (result.count, result.successful, result.phase) == (3, 3, P.SUCCESSFUL)


def test_a_failure_beyond_the_limit_stops_at_once() -> None:
    measure, taken, time = feeding([0.99], [0.5], [0.99], [0.99])
    outcome = run([metric(interval="1s", count=4)], measure, time)
    assert outcome.phase is P.FAILED
    assert len(taken) == 2
    assert outcome.message == 'Metric "success-rate" assessed Failed due to failed (1) > failureLimit (0)'


def test_failures_within_the_limit_still_succeed() -> None:
    measure, _, time = feeding([0.5], [0.99], [0.5])
    outcome = run([metric(interval="1s", count=3, failureLimit=2)], measure, time)
    assert outcome.phase is P.SUCCESSFUL
    assert outcome.metric("success-rate").failed == 2


def test_between_the_conditions_is_inconclusive() -> None:
    measure, _, time = feeding([0.9])
    outcome = run([metric()], measure, time)
    assert outcome.phase is P.INCONCLUSIVE
    assert outcome.metric("success-rate").measurements[0].phase is P.INCONCLUSIVE
    assert "inconclusive (1) > inconclusiveLimit (0)" in outcome.message


def test_errors_are_retried_after_ten_seconds_and_a_fifth_in_a_row_errors_the_metric() -> None:
    boom = TransientError("prometheus: connection refused")
    measure, taken, time = feeding(boom, boom, boom, boom, boom)
    outcome = run([metric(interval="1m")], measure, time)
    assert outcome.phase is P.ERROR
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(taken)] == [10, 10, 10, 10]
    result = outcome.metric("success-rate")
    assert result.error == 5 and result.count == 0
    assert result.measurements[-1].message == "prometheus: connection refused"
    assert "consecutiveErrors (5) > consecutiveErrorLimit (4)" in outcome.message


def test_an_error_then_a_success_clears_the_streak() -> None:
    measure, _, time = feeding(TransientError("blip"), [0.99])
    outcome = run([metric()], measure, time)
    assert outcome.phase is P.SUCCESSFUL
    result = outcome.metric("success-rate")
    assert (result.error, result.consecutive_error, len(result.measurements)) == (1, 0, 2)


def test_an_empty_result_is_an_error_measurement_that_says_no_data() -> None:
    measure, _, time = feeding([], [], [], [], [])
    outcome = run([metric()], measure, time)
    assert outcome.phase is P.ERROR
    assert "metric result is nil or empty" in outcome.metric("success-rate").measurements[0].message


def test_the_worst_metric_decides_and_ends_the_others_as_terminated() -> None:
    time = FakeTime()
    values = {"latency": iter([[0.99], [0.99], [0.99]]), "errors": iter([[0.99], [0.1]])}
    observed: list[tuple[str, int]] = []

    def observe(m: AnalysisMetric, result: MetricResult) -> None:
        observed.append((m.name, len(result.measurements)))

    outcome = run(
        [metric("latency", interval="2s", count=3), metric("errors", interval="1s", count=3)],
        lambda m: next(values[m.name]),
        time,
        observe=observe,
    )
    assert outcome.phase is P.FAILED
    assert outcome.metric("errors").phase is P.FAILED
    assert outcome.metric("latency").phase is P.SUCCESSFUL  # judged as terminated, within its limits
    assert observed == [("latency", 1), ("errors", 1), ("errors", 2)]


def test_an_unbounded_metric_stops_after_the_deadline_as_terminated() -> None:
    time = FakeTime()
    outcome = run([metric(interval="5s")], lambda m: [0.99], time, stop_after=12)
    assert outcome.phase is P.SUCCESSFUL
    assert outcome.message == "Run Terminated"
    assert len(outcome.metric("success-rate").measurements) == 3
    assert (time.now - datetime(2026, 1, 1, tzinfo=UTC)).total_seconds() == 12


def test_duplicate_or_no_metrics_are_refused() -> None:
    with pytest.raises(ValueError, match="no metrics specified"):
        run_analysis([], lambda m: 1)
    with pytest.raises(ValueError, match="metrics\\[1\\]: duplicate name 'success-rate'"):
        run_analysis([metric(), metric()], lambda m: 1)


def test_a_bug_in_measure_is_not_swallowed() -> None:
    with pytest.raises(ZeroDivisionError):
        run_analysis([metric()], lambda m: 1 / 0)


def test_the_report_of_a_failed_analysis_has_every_measurement_and_the_reason() -> None:
    measure, _, time = feeding([0.99], [0.5])
    outcome = run([metric(interval="1s", count=3)], measure, time)
    rows = measurement_rows(outcome)
    assert [(r["#"], r["phase"], r["value"]) for r in rows] == [
        ("1", "Successful", "[0.99]"),
        ("2", "Failed", "[0.5]"),
    ]
    assert list(rows[0]) == list(COLUMNS)
    assert rows[0]["started"] == "2026-01-01T00:00:00+00:00"
    assert summary_line(outcome) == (
        "Analysis Failed: success-rate Failed (1/2 successful: [0.99], [0.5])"
        ' — Metric "success-rate" assessed Failed due to failed (1) > failureLimit (0)'
    )
