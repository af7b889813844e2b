"""An analysis as a gate shows it: one line for the description, one row per measurement for the table.

The same for Ferry's own analysis and for an AnalysisRun the Argo Rollouts
controller ran (:func:`ferry.release.argo.analysis_outcome`), so a gate reads
alike whoever measured.
"""

from __future__ import annotations

from ferry.analysis.model import AnalysisOutcome, MetricResult

#: Columns of :func:`measurement_rows`, in order (a Prefect table artifact takes the rows as they are).
COLUMNS = ("metric", "#", "phase", "value", "started", "message")


def _metric_line(result: MetricResult) -> str:
    values = ", ".join(m.value or m.phase.value for m in result.measurements[-5:])
    more = "…, " if len(result.measurements) > 5 else ""
    counts = f"{result.successful}/{len(result.measurements)} successful"
    return f"{result.name} {result.phase.value} ({counts}: {more}{values})" if values else f"{result.name} -"


def summary_line(outcome: AnalysisOutcome) -> str:
    """One line: the verdict, who measured, each metric with its last values.

    >>> from ferry.analysis.model import AnalysisPhase, Measurement, MetricResult
    >>> from datetime import datetime, UTC
    >>> at = datetime(2026, 1, 1, tzinfo=UTC)
    >>> m = Measurement(AnalysisPhase.SUCCESSFUL, at, at, "[0.99]")
    >>> r = MetricResult("success-rate", AnalysisPhase.SUCCESSFUL, (m, m), successful=2)
    >>> summary_line(AnalysisOutcome(AnalysisPhase.SUCCESSFUL, (r,)))
    'Analysis Successful: success-rate Successful (2/2 successful: [0.99], [0.99])'
    """
    who = f" ({outcome.source})" if outcome.source else ""
    metrics = "; ".join(_metric_line(result) for result in outcome.metrics) or "no metrics"
    why = f" — {outcome.message}" if outcome.message and outcome.phase.value != "Successful" else ""
    return f"Analysis {outcome.phase.value}{who}: {metrics}{why}"


def measurement_rows(outcome: AnalysisOutcome) -> list[dict[str, str]]:
    """Every measurement of every metric, oldest first, with the columns of :data:`COLUMNS`."""
    rows = []
    for result in outcome.metrics:
        for number, measurement in enumerate(result.measurements, start=1):
            rows.append(
                {
                    "metric": result.name,
                    "#": str(number),
                    "phase": measurement.phase.value,
                    "value": measurement.value,
                    "started": measurement.started_at.isoformat(timespec="seconds"),
                    "message": measurement.message,
                }
            )
    return rows
