"""Analysis against the real Prometheus (Debian 2.42 on 127.0.0.1) scraping an exporter the test sets."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import pytest

from ferry.analysis.model import AnalysisMetric, AnalysisPhase
from ferry.analysis.prometheus import (
    PrometheusClient,
    PrometheusMeasure,
    PrometheusQueryError,
    PrometheusUnavailable,
)
from ferry.analysis.runner import run_analysis
from ferry.devenv.exporter import success_rate_query
from ferry.devenv.prometheus import start_prometheus
from ferry.errors import ToolError
from ferry.sandbox.processes import free_ports
from tests.fixtures.prometheus import Metrics

P = AnalysisPhase


def success_rate(**keys: Any) -> AnalysisMetric:
    return AnalysisMetric.model_validate(
        {
            "name": "success-rate",
            "interval": "1s",
            "count": 3,
            "successCondition": "result[0] >= 0.95",
            "failureCondition": "result[0] < 0.8",
            "provider": {"prometheus": {"query": success_rate_query("canary")}},
            **keys,
        }
    )


def test_queries_return_typed_values(metrics: Metrics) -> None:
    metrics.set("canary", success=97, error=3)
    metrics.set("stable", success=50, error=0)
    with PrometheusClient(metrics.url) as client:
        assert client.ready()
        ratio = client.query(success_rate_query("canary"))
        assert ratio.result_type == "vector"
        assert ratio.values() == [pytest.approx(0.97)]
        assert ratio.argo_value() == [pytest.approx(0.97)]
        by_track = client.query("sum by (track) (ferry_requests_total)")
        assert {s.labels["track"]: s.value for s in by_track.samples} == {"canary": 100.0, "stable": 50.0}
        assert client.query("scalar(sum(ferry_requests_total))").argo_value() == 150.0
        assert client.query("1/0").argo_value() == math.inf
        assert client.query('"text"').argo_value() == "text"
        window = client.query('ferry_requests_total{track="stable",outcome="success"}[5s]')
        assert window.result_type == "matrix" and window.values() and set(window.values()) <= {0.0, 50.0}
        assert client.query("ferry_no_such_metric").values() == []


def test_a_bad_query_is_permanent_and_names_prometheus_reason(metrics: Metrics) -> None:
    with PrometheusClient(metrics.url) as client, pytest.raises(PrometheusQueryError) as caught:
        client.query("sum(ferry_requests_total")
    assert "bad_data" in str(caught.value) and "unclosed left parenthesis" in str(caught.value)
    assert not caught.value.retryable


def test_no_server_is_transient() -> None:
    (port,) = free_ports(1)
    with PrometheusClient(f"http://127.0.0.1:{port}", timeout=2) as client:
        assert not client.ready()
        with pytest.raises(PrometheusUnavailable) as caught:
            client.query("up")
    assert caught.value.retryable and f"127.0.0.1:{port}" in str(caught.value)


def test_analysis_passes_on_a_healthy_canary(metrics: Metrics) -> None:
    metrics.set("canary", success=99, error=1)
    with PrometheusMeasure(metrics.url) as measure:
        outcome = run_analysis([success_rate()], measure)
    assert outcome.phase is P.SUCCESSFUL, outcome
    result = outcome.metric("success-rate")
    assert [(m.phase, m.value) for m in result.measurements] == [(P.SUCCESSFUL, "[0.99]")] * 3
    gaps = [
        (b.started_at - a.finished_at).total_seconds() for a, b in itertools.pairwise(result.measurements)
    ]
    assert all(gap >= 1.0 for gap in gaps), gaps


def test_analysis_fails_at_the_first_failure_beyond_the_limit(metrics: Metrics) -> None:
    metrics.set("canary", success=60, error=40)
    with PrometheusMeasure(metrics.url) as measure:
        outcome = run_analysis([success_rate()], measure)
    assert outcome.phase is P.FAILED
    result = outcome.metric("success-rate")
    assert [(m.phase, m.value) for m in result.measurements] == [(P.FAILED, "[0.6]")]
    assert outcome.message == 'Metric "success-rate" assessed Failed due to failed (1) > failureLimit (0)'


def test_analysis_between_the_conditions_is_inconclusive(metrics: Metrics) -> None:
    metrics.set("canary", success=90, error=10)
    with PrometheusMeasure(metrics.url) as measure:
        outcome = run_analysis([success_rate(inconclusiveLimit=1)], measure)
    assert outcome.phase is P.INCONCLUSIVE
    result = outcome.metric("success-rate")
    assert [(m.phase, m.value) for m in result.measurements] == [(P.INCONCLUSIVE, "[0.9]")] * 2
    assert "inconclusive (2) > inconclusiveLimit (1)" in outcome.message


def test_a_canary_that_served_nothing_is_inconclusive(metrics: Metrics) -> None:
    metrics.set("canary", success=0, error=0)  # 0/0: NaN, which neither condition accepts
    with PrometheusMeasure(metrics.url) as measure:
        outcome = run_analysis([success_rate(count=1, interval=None)], measure)
    assert outcome.phase is P.INCONCLUSIVE
    assert outcome.metric("success-rate").measurements[0].value == "[NaN]"


def test_prometheus_scrapes_only_loopback_targets(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="not on loopback"):
        start_prometheus(tmp_path, ["10.0.0.1:9100"])
    assert not (tmp_path / "prometheus.yml").exists(), "refused before anything was written or started"
