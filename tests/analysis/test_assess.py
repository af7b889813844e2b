"""Analysis decisions, table by table from Argo Rollouts v1.10.1's tests:
``utils/evaluate/evaluate_test.go``, ``metricproviders/prometheus/prometheus_test.go``,
``analysis/analysis_test.go`` (assessMetricStatus, generateMetricTasks, assessRunStatus) and
``utils/analysis/factory_test.go`` (ValidateMetric)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from ferry.analysis import assess
from ferry.analysis.model import AnalysisMetric, AnalysisPhase, Measurement, MetricResult, parse_duration

P = AnalysisPhase
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def metric(**keys: Any) -> AnalysisMetric:
    return AnalysisMetric.model_validate(
        {"name": "success-rate", "provider": {"prometheus": {"query": "up"}}, **keys}
    )


def measured(phase: AnalysisPhase, seconds_ago: float = 60, **counters: int) -> MetricResult:
    at = NOW - timedelta(seconds=seconds_ago)
    return MetricResult("success-rate", measurements=(Measurement(phase, at, at, "99"),), **counters)


@pytest.mark.parametrize(
    ("success", "failure", "value", "expected"),
    [
        ("true", "false", True, P.SUCCESSFUL),
        ("true", "true", True, P.FAILED),
        ("false", "false", True, P.INCONCLUSIVE),
        (None, "false", True, P.SUCCESSFUL),
        ("false", None, True, P.FAILED),
        (None, None, True, P.SUCCESSFUL),
        ("a == true", "true", True, P.ERROR),
        ("true", "a == true", True, P.ERROR),
        ("result == 10", "result != 10", 10.0, P.SUCCESSFUL),
        ("result >= 0.9", "result < 0.9", math.nan, P.INCONCLUSIVE),
        ("result >= 0.9 || isNaN(result)", None, math.nan, P.SUCCESSFUL),
        ("result >= 0.9", None, math.nan, P.FAILED),
        ("result >= 0.9", None, math.inf, P.SUCCESSFUL),
        (None, "isInf(result)", math.inf, P.FAILED),
        ("10 in result", "len(result) != 2", [10.0, 11.0], P.SUCCESSFUL),
        ("all(result, # > 10)", "all(result, # < 10)", [10.0, 10.0], P.INCONCLUSIVE),
    ],
)
def test_evaluate_result(
    success: str | None, failure: str | None, value: Any, expected: AnalysisPhase
) -> None:
    keys = {k: v for k, v in (("successCondition", success), ("failureCondition", failure)) if v is not None}
    phase, _ = assess.evaluate(metric(**keys), value)
    assert phase is expected


@pytest.mark.parametrize(
    ("keys", "value", "parts"),
    [
        (
            {"successCondition": "result[0] >= 0.95"},
            None,
            ["metric result is nil or empty", "successCondition"],
        ),
        (
            {"successCondition": "result[0] >= 0.95"},
            [],
            ["metric result is nil or empty", "successCondition"],
        ),
        ({"successCondition": "a == true"}, True, ["could not evaluate successCondition", "a == true"]),
        (
            {"successCondition": "true", "failureCondition": "invalidVar == true"},
            True,
            ["could not evaluate failureCondition", "invalidVar == true"],
        ),
    ],
)
def test_evaluate_error_messages_name_the_condition(
    keys: dict[str, str], value: Any, parts: list[str]
) -> None:
    phase, message = assess.evaluate(metric(**keys), value)
    assert phase is P.ERROR
    for part in parts:
        assert part in message


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (10.0, "10"),
        (0.97, "0.97"),
        (1e-05, "0.00001"),
        (math.nan, "NaN"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        ([10.0, 11.0], "[10,11]"),
        ([], "[]"),
        (None, ""),
    ],
)
def test_values_are_written_as_argo_writes_them(value: Any, text: str) -> None:
    assert assess.format_value(value) == text


def test_counters_follow_each_measurement() -> None:
    result = MetricResult("m")
    for phase in (P.SUCCESSFUL, P.ERROR, P.ERROR, P.FAILED, P.INCONCLUSIVE, P.SUCCESSFUL, P.SUCCESSFUL):
        result = assess.record(result, Measurement(phase, NOW, NOW))
    assert (result.count, result.successful, result.failed, result.inconclusive, result.error) == (
        5,
        3,
        1,
        1,
        2,
    )
    assert (result.consecutive_error, result.consecutive_success) == (0, 2)
    assert len(result.measurements) == 7
    errored = assess.record(result, Measurement(P.ERROR, NOW, NOW, message="boom"))
    assert (errored.count, errored.consecutive_error, errored.consecutive_success) == (5, 1, 0)
    assert errored.message == "boom"


@pytest.mark.parametrize(
    ("keys", "result", "running", "terminating"),
    [
        # TestAssessMetricStatusNoMeasurements / InFlightMeasurement
        ({}, MetricResult("success-rate"), P.PENDING, P.SUCCESSFUL),
        (
            {},
            MetricResult(
                "success-rate",
                measurements=(Measurement(P.SUCCESSFUL, NOW, NOW), Measurement(P.RUNNING, NOW)),
            ),
            P.RUNNING,
            P.RUNNING,
        ),
        # TestAssessMetricStatusFailureLimit
        ({"failureLimit": 2, "interval": "60s"}, measured(P.FAILED, failed=3, count=3), P.FAILED, P.FAILED),
        (
            {"failureLimit": 3, "interval": "60s"},
            measured(P.FAILED, failed=3, count=3),
            P.RUNNING,
            P.SUCCESSFUL,
        ),
        # TestAssessMetricStatusInconclusiveLimit
        (
            {"inconclusiveLimit": 2, "interval": "60s"},
            measured(P.INCONCLUSIVE, inconclusive=3, count=3),
            P.INCONCLUSIVE,
            P.INCONCLUSIVE,
        ),
        (
            {"inconclusiveLimit": 3, "interval": "60s"},
            measured(P.INCONCLUSIVE, inconclusive=3, count=3),
            P.RUNNING,
            P.SUCCESSFUL,
        ),
        # TestAssessMetricStatusConsecutiveErrors
        ({"interval": "60s"}, measured(P.ERROR, consecutive_error=5, count=5), P.ERROR, P.ERROR),
        ({"interval": "60s"}, measured(P.ERROR, consecutive_error=4, count=5), P.RUNNING, P.SUCCESSFUL),
        # TestAssessMetricStatusCountReached
        (
            {"count": 10, "interval": "1s"},
            measured(P.SUCCESSFUL, successful=10, count=10),
            P.SUCCESSFUL,
            P.SUCCESSFUL,
        ),
        (
            {"count": 10, "interval": "1s", "inconclusiveLimit": 5},
            measured(P.SUCCESSFUL, successful=5, inconclusive=5, count=10),
            P.SUCCESSFUL,
            P.SUCCESSFUL,
        ),
        # no count, no interval: one measurement decides
        ({}, measured(P.SUCCESSFUL, successful=1, count=1), P.SUCCESSFUL, P.SUCCESSFUL),
        ({}, measured(P.FAILED, failed=1, count=1), P.FAILED, P.FAILED),
    ],
)
def test_assess_metric_status(
    keys: dict[str, Any], result: MetricResult, running: AnalysisPhase, terminating: AnalysisPhase
) -> None:
    assert assess.assess_metric(metric(**keys), result) is running
    assert assess.assess_metric(metric(**keys), result, terminating=True) is terminating


def test_count_reached_with_inconclusives_over_the_limit_is_inconclusive() -> None:
    # TestAssessMetricStatusCountReached, second half: the default inconclusiveLimit is 0.
    result = measured(P.SUCCESSFUL, successful=5, inconclusive=5, count=10)
    assert assess.assess_metric(metric(count=10, interval="1s"), result) is P.INCONCLUSIVE


def _streak(failed: int, successful: int, count: int, streak: int) -> MetricResult:
    return measured(P.FAILED, failed=failed, successful=successful, count=count, consecutive_success=streak)


@pytest.mark.parametrize(
    ("keys", "result", "running", "terminating"),
    [
        # TestAssessMetricStatusConsecutiveSuccessLimit (failureLimit -1)
        ({"consecutiveSuccessLimit": 3}, _streak(3, 4, 7, 3), P.SUCCESSFUL, P.SUCCESSFUL),
        ({"consecutiveSuccessLimit": 5}, _streak(3, 4, 7, 3), P.RUNNING, P.SUCCESSFUL),
        ({"consecutiveSuccessLimit": 5, "count": 7}, _streak(3, 4, 7, 3), P.FAILED, P.FAILED),
        ({"consecutiveSuccessLimit": 3, "count": 7}, _streak(3, 4, 7, 3), P.SUCCESSFUL, P.SUCCESSFUL),
        ({"consecutiveSuccessLimit": 3, "count": 9}, _streak(3, 4, 7, 3), P.SUCCESSFUL, P.SUCCESSFUL),
        ({"consecutiveSuccessLimit": 5, "count": 9}, _streak(3, 4, 7, 3), P.RUNNING, P.SUCCESSFUL),
    ],
)
def test_consecutive_success_limit(
    keys: dict[str, Any], result: MetricResult, running: AnalysisPhase, terminating: AnalysisPhase
) -> None:
    m = metric(failureLimit=-1, interval="60s", **keys)
    assert assess.assess_metric(m, result) is running
    assert assess.assess_metric(m, result, terminating=True) is terminating


@pytest.mark.parametrize(
    ("count", "result", "running", "terminating"),
    [
        # TestAssessMetricStatusFailureLimitAndConsecutiveSuccessLimit (both limits 4)
        (None, _streak(3, 4, 7, 3), P.RUNNING, P.SUCCESSFUL),
        (None, _streak(5, 9, 9, 0), P.FAILED, P.FAILED),
        (None, _streak(3, 5, 8, 4), P.SUCCESSFUL, P.SUCCESSFUL),
        (None, _streak(5, 5, 10, 4), P.FAILED, P.FAILED),
        (10, _streak(4, 6, 10, 3), P.INCONCLUSIVE, P.INCONCLUSIVE),
        (10, _streak(5, 5, 10, 3), P.FAILED, P.FAILED),
        (10, _streak(4, 6, 10, 4), P.SUCCESSFUL, P.SUCCESSFUL),
        (10, _streak(5, 5, 10, 4), P.FAILED, P.FAILED),
        (10, _streak(3, 5, 8, 3), P.RUNNING, P.SUCCESSFUL),
        (10, _streak(5, 3, 8, 3), P.FAILED, P.FAILED),
        (10, _streak(3, 5, 8, 4), P.SUCCESSFUL, P.SUCCESSFUL),
        (10, _streak(5, 4, 9, 4), P.FAILED, P.FAILED),
    ],
)
def test_failure_limit_and_consecutive_success_limit(
    count: int | None, result: MetricResult, running: AnalysisPhase, terminating: AnalysisPhase
) -> None:
    m = metric(
        failureLimit=4, consecutiveSuccessLimit=4, interval="60s", **({"count": count} if count else {})
    )
    assert assess.assess_metric(m, result) is running
    assert assess.assess_metric(m, result, terminating=True) is terminating


@pytest.mark.parametrize(
    ("result", "phase", "message"),
    [
        (measured(P.FAILED, failed=1), P.FAILED, "failed (1) > failureLimit (0)"),
        (
            measured(P.INCONCLUSIVE, inconclusive=1),
            P.INCONCLUSIVE,
            "inconclusive (1) > inconclusiveLimit (0)",
        ),
        (
            measured(P.ERROR, consecutive_error=5),
            P.ERROR,
            "consecutiveErrors (5) > consecutiveErrorLimit (4)",
        ),
    ],
)
def test_limit_messages(result: MetricResult, phase: AnalysisPhase, message: str) -> None:
    assert assess.limits(metric(), result) == (phase, message)


@pytest.mark.parametrize(
    ("keys", "result", "started_ago", "due_in"),
    [
        # TestGenerateMetricTasksInterval: within the interval, then past it
        ({"interval": "60s"}, measured(P.SUCCESSFUL, 50, count=1), 100, 10),
        ({"interval": "60s"}, measured(P.SUCCESSFUL, 61, count=1), 100, -1),
        # TestGenerateMetricTasksNoIntervalOrCount: one measurement, then no more
        ({}, measured(P.SUCCESSFUL, 50, count=1), 100, None),
        ({}, MetricResult("success-rate"), 100, -100),
        # TestGenerateMetricTasksHonorInitialDelay
        ({"initialDelay": "20s"}, MetricResult("success-rate"), 10, 10),
        ({"initialDelay": "20s"}, MetricResult("success-rate"), 20, 0),
        # TestGenerateMetricTasksError: an error is retried after 10 s, whatever the interval
        ({}, measured(P.ERROR, 120, error=1), 200, -110),
        ({"interval": "5m"}, measured(P.ERROR, 5, error=1), 200, 5),
        # a completed metric needs nothing more
        ({"interval": "60s"}, MetricResult("success-rate", phase=P.FAILED), 100, None),
        ({"count": 2, "interval": "1s"}, measured(P.SUCCESSFUL, 5, count=2), 100, None),
    ],
)
def test_next_measurement_due(
    keys: dict[str, Any], result: MetricResult, started_ago: float, due_in: float | None
) -> None:
    due = assess.next_due(metric(**keys), result, NOW - timedelta(seconds=started_ago))
    assert due == (None if due_in is None else NOW + timedelta(seconds=due_in))


def test_run_is_running_while_a_metric_runs_then_the_worst_completed() -> None:
    # TestAssessRunStatus
    metrics = [metric(name="latency"), metric(name="success-rate")]
    running = {
        "latency": MetricResult("latency", P.SUCCESSFUL),
        "success-rate": MetricResult("success-rate", P.RUNNING),
    }
    assert assess.assess_run(metrics, running)[:2] == (P.RUNNING, "")
    failed = {**running, "success-rate": MetricResult("success-rate", P.FAILED)}
    assert assess.assess_run(metrics, failed)[:2] == (P.FAILED, "")


def test_run_failure_names_the_metric_and_the_limit() -> None:
    metrics = [metric(name="run-forever", interval="1s"), metric(name="failed-metric")]
    results = {
        "run-forever": MetricResult("run-forever", P.SUCCESSFUL),
        "failed-metric": measured(P.FAILED, failed=1, count=1),
    }
    results["failed-metric"] = MetricResult(
        "failed-metric", P.FAILED, results["failed-metric"].measurements, failed=1
    )
    phase, message, _ = assess.assess_run(metrics, results)
    assert phase is P.FAILED
    assert message == 'Metric "failed-metric" assessed Failed due to failed (1) > failureLimit (0)'


def test_phase_order_is_argos() -> None:
    order = sorted(P, key=lambda p: p.rank)
    assert order == [P.SUCCESSFUL, P.RUNNING, P.PENDING, P.INCONCLUSIVE, P.ERROR, P.FAILED]


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (
            {"count": 1, "failureLimit": 2},
            "count (1) must be >= failureLimit + consecutiveSuccessLimit (2 + 0) if both >= 0",
        ),
        ({"count": 1, "inconclusiveLimit": 2}, "count must be >= inconclusiveLimit"),
        ({"count": 2}, "interval must be specified when count > 1"),
        (
            {"count": 2, "interval": "60s-typo"},
            'invalid interval string: time: unknown unit "s-typo" in duration "60s-typo"',
        ),
        (
            {"initialDelay": "60s-typo"},
            'invalid initialDelay string: time: unknown unit "s-typo" in duration "60s-typo"',
        ),
        ({"failureLimit": -2}, "failureLimit must be >= 0, or -1 to be disabled"),
        ({"failureLimit": -1}, "failureLimit and consecutiveSuccessLimit cannot both be disabled"),
        ({"inconclusiveLimit": -1}, "inconclusiveLimit must be >= 0"),
        ({"consecutiveErrorLimit": -1}, "consecutiveErrorLimit must be >= 0"),
        ({"consecutiveSuccessLimit": -1}, "consecutiveSuccessLimit must be >= 0"),
        ({"successCondition": "result[0] >="}, "does not parse"),
        ({"succesCondition": "true"}, "succesCondition"),
    ],
)
def test_invalid_metrics_are_refused_with_argos_message(keys: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        metric(**keys)
    assert message in str(caught.value)


def test_counts_and_intervals_that_argo_accepts() -> None:
    assert metric(count=2, interval="60s", failureLimit=2).effective_count == 2
    assert metric().effective_count == 1
    assert metric(interval="30s").effective_count is None
    snake = AnalysisMetric.model_validate(
        {
            "name": "m",
            "provider": {"prometheus": {"query": "up"}},
            "success_condition": "true",
            "initial_delay": 5,
        }
    )
    assert (snake.success_condition, snake.initial_delay) == ("true", 5)


@pytest.mark.parametrize(
    ("text", "seconds"), [("1h", 3600.0), ("1m30s", 90.0), ("1.5s", 1.5), ("250ms", 0.25), ("0", 0.0)]
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"), [("10", "missing unit"), ("", "invalid duration"), ("5d", "unknown unit")]
)
def test_bad_go_durations(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(text)
