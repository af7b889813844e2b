"""Argo Rollouts' analysis decisions as pure functions: judge a value, count it, judge a metric, a run.

Each function is one of the analysis controller's steps, with its rules and
messages (``analysis/analysis.go``, ``utils/evaluate``), over Ferry's frozen
records:

* :func:`evaluate` — ``EvaluateResult``: one value against the conditions;
* :func:`record` — the counters ``runMeasurements`` keeps per metric;
* :func:`assess_metric` — ``assessMetricStatus`` with the limits;
* :func:`next_due` — when the next measurement is due (``generateMetricTasks``);
* :func:`assess_run` — ``assessRunStatus``: the worst completed metric.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ferry.analysis.expr import ExprError, evaluate_condition
from ferry.analysis.model import (
    ERROR_RETRY_SECONDS,
    AnalysisMetric,
    AnalysisPhase,
    Measurement,
    MetricResult,
)

P = AnalysisPhase


def format_value(value: Any) -> str:
    """The measurement's value as Argo's Prometheus provider writes it (Go's ``'f', -1`` float format).

    >>> [format_value(v) for v in (10.0, 0.95, float("nan"), float("inf"), [10.0, 11.0], [], None)]
    ['10', '0.95', 'NaN', '+Inf', '[10,11]', '[]', '']
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        number = float(value)
        if math.isnan(number):
            return "NaN"
        if math.isinf(number):
            return "+Inf" if number > 0 else "-Inf"
        text = format(Decimal(repr(number)), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "[" + ",".join(format_value(item) for item in value) + "]"
    return str(value)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, Sequence) and not isinstance(value, str) and not value)


def evaluate(metric: AnalysisMetric, value: Any) -> tuple[AnalysisPhase, str]:
    """Judge one value, as ``EvaluateResult`` does; the message says why when the phase is Error.

    Without conditions a value is Successful; with only a success condition, not
    succeeding is failing (and the reverse); both false is Inconclusive.
    """
    outcomes: dict[str, bool] = {}
    for which, condition in (
        ("successCondition", metric.success_condition),
        ("failureCondition", metric.failure_condition),
    ):
        if not condition:
            continue
        try:
            outcomes[which] = evaluate_condition(condition, value)
        except ExprError as exc:
            if _empty(value):
                why = "metric result is nil or empty: no data returned from the metric provider"
            else:
                why = str(exc)
            return P.ERROR, f'could not evaluate {which} "{condition}": {why}'
    success = outcomes.get("successCondition")
    failure = outcomes.get("failureCondition")
    if success is None and failure is None:
        return P.SUCCESSFUL, ""
    if failure is None:
        failure = not success
    if success is None:
        success = not failure
    if failure:
        return P.FAILED, ""
    return (P.SUCCESSFUL, "") if success else (P.INCONCLUSIVE, "")


def record(result: MetricResult, measurement: Measurement) -> MetricResult:
    """Add a finished measurement and move the counters the way the controller does.

    An Error does not count towards ``count``; anything but an Error clears the
    consecutive-error streak; anything but a success breaks the success streak.
    """
    phase = measurement.phase
    changes: dict[str, int] = {}
    if phase is P.SUCCESSFUL:
        changes = {"successful": result.successful + 1, "consecutive_success": result.consecutive_success + 1}
    elif phase is P.FAILED:
        changes = {"failed": result.failed + 1, "consecutive_success": 0}
    elif phase is P.INCONCLUSIVE:
        changes = {"inconclusive": result.inconclusive + 1, "consecutive_success": 0}
    elif phase is P.ERROR:
        changes = {
            "error": result.error + 1,
            "consecutive_error": result.consecutive_error + 1,
            "consecutive_success": 0,
        }
    if phase in (P.SUCCESSFUL, P.FAILED, P.INCONCLUSIVE):
        changes |= {"count": result.count + 1, "consecutive_error": 0}
    return dataclasses.replace(
        result,
        measurements=(*result.measurements, measurement),
        message=measurement.message,
        **changes,  # type: ignore[arg-type]
    )


def limits(metric: AnalysisMetric, result: MetricResult) -> tuple[AnalysisPhase | None, str]:
    """``assessMetricFailureInconclusiveOrError``: which limit is exceeded (errors win, then inconclusive)."""
    phase: AnalysisPhase | None = None
    message = ""
    if metric.failure_limit >= 0 and result.failed > metric.failure_limit:
        phase, message = P.FAILED, f"failed ({result.failed}) > failureLimit ({metric.failure_limit})"
    if result.inconclusive > metric.inconclusive_limit:
        phase = P.INCONCLUSIVE
        message = f"inconclusive ({result.inconclusive}) > inconclusiveLimit ({metric.inconclusive_limit})"
    if result.consecutive_error > metric.consecutive_error_limit:
        phase = P.ERROR
        message = (
            f"consecutiveErrors ({result.consecutive_error}) > "
            f"consecutiveErrorLimit ({metric.consecutive_error_limit})"
        )
    return phase, message


def assess_metric(
    metric: AnalysisMetric, result: MetricResult, *, terminating: bool = False
) -> AnalysisPhase:
    """``assessMetricStatus``: the metric's phase after its measurements so far.

    ``terminating`` means another metric already ended the run: a metric that
    has not hit a limit then counts as Successful.
    """
    if result.phase.completed:
        return result.phase
    if not result.measurements:
        return P.SUCCESSFUL if terminating else P.PENDING
    if not result.measurements[-1].phase.completed:
        return P.RUNNING
    breached, _ = limits(metric, result)
    if breached is not None:
        return breached
    success_limit = metric.consecutive_success_limit
    if success_limit > 0 and result.consecutive_success >= success_limit:
        return P.SUCCESSFUL
    count = metric.effective_count
    if count is not None and result.count >= count:
        if success_limit > 0:
            # Count reached without the streak: Inconclusive while failures are limited, else Failed.
            return P.INCONCLUSIVE if metric.failure_limit >= 0 else P.FAILED
        return P.SUCCESSFUL
    return P.SUCCESSFUL if terminating else P.RUNNING


def next_due(metric: AnalysisMetric, result: MetricResult, started_at: datetime) -> datetime | None:
    """When the next measurement of ``metric`` is due; None when it needs no more.

    The first waits for ``initialDelay`` from the start of the analysis; an
    errored one is retried after :data:`ERROR_RETRY_SECONDS` whatever the
    interval; the others follow ``interval`` from the end of the last one.
    """
    if result.phase.completed:
        return None
    last = result.last
    if last is None:
        return started_at + timedelta(seconds=metric.initial_delay or 0.0)
    count = metric.effective_count
    if count is not None and result.count >= count:
        return None
    finished = last.finished_at or last.started_at
    if last.phase is P.ERROR:
        return finished + timedelta(seconds=ERROR_RETRY_SECONDS)
    if metric.interval is None:
        return None
    return finished + timedelta(seconds=metric.interval)


def terminating(results: Mapping[str, MetricResult]) -> bool:
    """``IsTerminating``: a metric already ended Failed, Error or Inconclusive, so the run stops."""
    return any(r.phase in (P.FAILED, P.ERROR, P.INCONCLUSIVE) for r in results.values())


def assess_run(
    metrics: Sequence[AnalysisMetric], results: Mapping[str, MetricResult]
) -> tuple[AnalysisPhase, str, dict[str, MetricResult]]:
    """``assessRunStatus``: update each metric's phase; the run is the worst completed one.

    Returns:
        The run's phase (Running until every metric completed or one ended it),
        the message naming the worst metric and why, and the updated results.
    """
    stopping = terminating(results)
    updated = dict(results)
    worst: AnalysisPhase | None = None
    worst_message = ""
    everything_completed = True
    for metric in metrics:
        result = updated[metric.name]
        phase = assess_metric(metric, result, terminating=stopping)
        if phase is not result.phase:
            result = dataclasses.replace(result, phase=phase)
            updated[metric.name] = result
        if not phase.completed:
            everything_completed = False
            continue
        if worst is None or phase.rank > worst.rank:
            worst = phase
            _, why = limits(metric, result)
            worst_message = f'Metric "{metric.name}" assessed {phase.value} due to {why}' if why else ""
            if why and result.message:
                worst_message += f': "Error Message: {result.message}"'
    if stopping and worst is not None:
        return worst, worst_message, updated
    if not everything_completed or worst is None:
        return P.RUNNING, "", updated
    return worst, worst_message, updated
