"""Tasks before a canary step's gate: soak until a time, run the step's analysis against Prometheus."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from ferry.analysis.model import AnalysisOutcome
from ferry.analysis.prometheus import PrometheusMeasure
from ferry.analysis.report import measurement_rows, summary_line
from ferry.analysis.runner import run_analysis
from ferry.release.canary import CanaryProvider
from ferry.release.gates import CanaryStep, gate_key
from ferry.schema.releases import AnalysisConfig
from tasks.release import ONCE


# Once per run and step: a run re-executed after a suspension must not soak the step again.
@task(name="step-healthy", task_run_name="{app} healthy at step {step.index}", **ONCE)
def healthy_since(app: str, step: CanaryStep) -> datetime:
    """When the step was first seen paused (healthy), in this run."""
    return datetime.now(UTC)


@task(name="soak", cache_policy=NO_CACHE, task_run_name="soak {app} at step {step.index}")
def soak(app: str, step: CanaryStep, until: datetime) -> None:
    """Wait until ``until``; a run re-executed after it passes returns at once."""
    left = (until - datetime.now(UTC)).total_seconds()
    if left > 0:
        get_run_logger().info("%s: soaking %.0fs more before the gate of %s", app, left, step.label())
        time.sleep(left)


# Once per run and step: a run re-executed after its gate was answered must show the
# measurements that were shown, not take new ones.
@task(name="analysis", task_run_name="analyse {app} at step {step.index}", **ONCE)
def analyse(app: str, env: str, step: CanaryStep, revision: str, analysis: AnalysisConfig) -> AnalysisOutcome:
    """Run the step's analysis to its verdict; its measurements become a table artifact."""
    with PrometheusMeasure(analysis.address) as measure:
        outcome = run_analysis(analysis.metrics, measure, stop_after=analysis.stop_after)
    line = summary_line(outcome)
    get_run_logger().info("%s (%s) %s: %s", app, env, step.label(), line)
    create_table_artifact(
        key=gate_key("analysis", env, revision, step.index),
        table=measurement_rows(outcome),
        description=f"{app} ({env}) {step.label()}: {line}",
    )
    return outcome


# Once per run and gate: the gate re-executed after a suspension shows the run it showed.
@task(name="rollout-analysis", task_run_name="{app}: the Rollout's analysis since step {since}", **ONCE)
def rollout_analysis(
    provider: CanaryProvider, app: str, env: str, revision: str, since: int
) -> AnalysisOutcome | None:
    """The controller's AnalysisRun since the gate of step ``since``; its measurements as a table."""
    outcome = provider.analysis(since)
    if outcome is None:
        return None
    line = summary_line(outcome)
    get_run_logger().info("%s (%s) since step %d: %s", app, env, since, line)
    create_table_artifact(
        key=f"{gate_key('rollout-analysis', env, revision)}-after-{since}",
        table=measurement_rows(outcome),
        description=f"{app} ({env}), the Rollout's own analysis since step {since}: {line}",
    )
    return outcome
