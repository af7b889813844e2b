"""Run an analysis to its end: measure each metric when it is due, judge, stop at the first verdict.

The loop is the analysis controller's reconcile loop without the cluster:
measurements come from a ``measure`` callable (a PromQL query in production, a
table in the unit tests) and time from ``clock``/``sleep``, so the same code is
tested with a fake clock and run against the real Prometheus.

A measurement that raises a :class:`~ferry.errors.FerryError` is recorded as
an Error with the error's message, and retried as Argo retries it; any other
exception is a bug and propagates.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from ferry.analysis import assess
from ferry.analysis.model import (
    AnalysisMetric,
    AnalysisOutcome,
    AnalysisPhase,
    Measurement,
    MetricResult,
    validate_metrics,
)
from ferry.errors import FerryError

logger = logging.getLogger(__name__)

#: Returns the ``result`` a condition sees (a float, a list of floats, …) for one metric.
Measure = Callable[[AnalysisMetric], Any]
#: Called after every measurement with the metric and its updated result (progress, logs).
Observer = Callable[[AnalysisMetric, MetricResult], None]


def _now() -> datetime:
    return datetime.now(UTC)


def measure_once(metric: AnalysisMetric, measure: Measure, clock: Callable[[], datetime]) -> Measurement:
    """Take one measurement and judge it."""
    started = clock()
    try:
        value = measure(metric)
    except FerryError as exc:
        return Measurement(AnalysisPhase.ERROR, started, clock(), "", str(exc))
    phase, message = assess.evaluate(metric, value)
    return Measurement(phase, started, clock(), assess.format_value(value), message)


def run_analysis(
    metrics: Sequence[AnalysisMetric],
    measure: Measure,
    *,
    clock: Callable[[], datetime] = _now,
    sleep: Callable[[float], None] = time.sleep,
    observe: Observer | None = None,
    stop_after: float | None = None,
) -> AnalysisOutcome:
    """Measure ``metrics`` until the analysis completes; return its phase and every measurement.

    Args:
        metrics: The analysis' metrics (unique names).
        measure: Produces one metric's value, or raises a FerryError (an Error measurement).
        clock: Current time (aware datetimes).
        sleep: Waits that many seconds.
        observe: Called after each measurement.
        stop_after: Seconds after which an unbounded analysis (an interval
            without a count) is stopped as Argo stops a run that is
            terminated: metrics within their limits count as Successful.

    Raises:
        ValueError: The metrics are invalid together (none, or names repeat).
    """
    metrics = tuple(metrics)
    validate_metrics(metrics)
    started = clock()
    results: dict[str, MetricResult] = {m.name: MetricResult(m.name) for m in metrics}
    while True:
        phase, message, results = assess.assess_run(metrics, results)
        if phase.completed:
            return AnalysisOutcome(phase, tuple(results.values()), message, started, clock())
        if assess.terminating(results):
            continue  # a metric just ended the run: judge the others as terminated at once
        now = clock()
        due = {m.name: assess.next_due(m, results[m.name], started) for m in metrics}
        pending = [when for when in due.values() if when is not None]
        if (stop_after is not None and (now - started).total_seconds() >= stop_after) or not pending:
            return _stopped(metrics, results, started, clock())
        earliest = min(pending)
        if earliest > now:
            wait = (earliest - now).total_seconds()
            if stop_after is not None:
                wait = min(wait, stop_after - (now - started).total_seconds())
            sleep(max(wait, 0.0))
            continue
        for metric in metrics:
            when = due[metric.name]
            if when is None or when > now:
                continue
            measurement = measure_once(metric, measure, clock)
            results[metric.name] = assess.record(results[metric.name], measurement)
            logger.info(
                "analysis metric %s: measurement %d %s %s%s",
                metric.name,
                len(results[metric.name].measurements),
                measurement.phase.value,
                measurement.value or "-",
                f" ({measurement.message})" if measurement.message else "",
            )
            if observe is not None:
                observe(metric, results[metric.name])


def _stopped(
    metrics: Sequence[AnalysisMetric], results: dict[str, MetricResult], started: datetime, finished: datetime
) -> AnalysisOutcome:
    """End an analysis that would run on: every metric is judged as terminating (Argo's ``terminate``)."""
    judged = tuple(
        dataclasses.replace(results[m.name], phase=assess.assess_metric(m, results[m.name], terminating=True))
        for m in metrics
    )
    worst = max((r.phase for r in judged), key=lambda p: p.rank)
    return AnalysisOutcome(worst, judged, "Run Terminated", started, finished)
