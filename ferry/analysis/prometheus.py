"""One PromQL query against Prometheus' HTTP API (``/api/v1/query``), with typed values and Ferry's errors.

Prometheus answers ``{"status": "success", "data": {"resultType", "result"}}``
or ``{"status": "error", "errorType", "error"}`` with 400 (the query is
invalid), 422 (it cannot be executed) or 503 (it timed out or was aborted).
The first two are :class:`PrometheusQueryError` (permanent: a human must fix
the query); 503, 429, other 5xx and connection failures are
:class:`PrometheusUnavailable` (transient: try again).

:meth:`QueryResult.argo_value` is what Argo Rollouts' Prometheus provider
hands the conditions as ``result``: a float for a scalar, a list of floats for
a vector (one per series) or a matrix (every sample of every series).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Literal

import httpx

from ferry.analysis.model import AnalysisMetric
from ferry.errors import PrometheusQueryError, PrometheusUnavailable

# The errors live in ferry.errors; callers of the client catch them from here too.
__all__ = [
    "PrometheusClient",
    "PrometheusMeasure",
    "PrometheusQueryError",
    "PrometheusUnavailable",
    "QueryResult",
    "Sample",
    "decode",
]

ResultType = Literal["scalar", "vector", "matrix", "string"]


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of one series at one time."""

    labels: Mapping[str, str]
    value: float
    timestamp: float


@dataclass(frozen=True, slots=True)
class QueryResult:
    """A decoded query answer: its type, its samples (scalars have one, without labels), any warnings."""

    result_type: ResultType
    samples: tuple[Sample, ...] = ()
    text: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def scalar(self) -> float | None:
        """The value of a scalar result."""
        return self.samples[0].value if self.result_type == "scalar" and self.samples else None

    def values(self) -> list[float]:
        """Every sample value, series after series."""
        return [sample.value for sample in self.samples]

    def argo_value(self) -> float | list[float] | str | None:
        """``result`` as Argo Rollouts' conditions see it (scalar → float, vector/matrix → list)."""
        if self.result_type == "scalar":
            return self.scalar
        if self.result_type == "string":
            return self.text
        return self.values()


def _float(raw: Any, where: str) -> float:
    try:
        return float(raw)  # Prometheus writes "NaN", "+Inf" and "-Inf" as Python reads them
    except (TypeError, ValueError):
        raise PrometheusQueryError(f"{where}: sample value {raw!r} is not a number") from None


def _pair(raw: Any, where: str) -> tuple[float, float]:
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        raise PrometheusQueryError(f"{where}: expected [time, value], got {raw!r}")
    return float(raw[0]), _float(raw[1], where)


def decode(body: Mapping[str, Any], where: str = "query") -> QueryResult:
    """Decode the ``data`` of a successful ``/api/v1/query`` answer.

    >>> decode({"resultType": "scalar", "result": [1.5, "0.97"]}).argo_value()
    0.97
    >>> decode({"resultType": "vector", "result": [{"metric": {}, "value": [1, "NaN"]}]}).values()
    [nan]
    """
    kind = body.get("resultType")
    result = body.get("result")
    if kind == "scalar":
        stamp, value = _pair(result, where)
        return QueryResult("scalar", (Sample({}, value, stamp),))
    if kind == "string" and isinstance(result, list) and len(result) == 2:
        return QueryResult("string", (), str(result[1]))
    if kind == "vector" and isinstance(result, list):
        samples = []
        for series in result:
            stamp, value = _pair(series.get("value"), where)
            samples.append(Sample(dict(series.get("metric") or {}), value, stamp))
        return QueryResult("vector", tuple(samples))
    if kind == "matrix" and isinstance(result, list):
        samples = []
        for series in result:
            labels = dict(series.get("metric") or {})
            for raw in series.get("values") or []:
                stamp, value = _pair(raw, where)
                samples.append(Sample(labels, value, stamp))
        return QueryResult("matrix", tuple(samples))
    raise PrometheusQueryError(f"{where}: unsupported result {kind!r}")


class PrometheusClient:
    """A client of one Prometheus server.

    Args:
        url: Its base URL, e.g. ``http://127.0.0.1:9090``.
        timeout: Seconds per request (also sent as the query's own ``timeout``).
        transport: An httpx transport (the unit tests' mock); the network otherwise.
    """

    def __init__(
        self, url: str, *, timeout: float = 30.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise PrometheusQueryError(f"prometheus address {url!r} is not an http(s) URL")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._client = httpx.Client(base_url=self.url, timeout=timeout, transport=transport, trust_env=False)

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def ready(self) -> bool:
        """Whether ``/-/ready`` answers 200 (the TSDB is open and the server serves queries)."""
        try:
            return self._client.get("/-/ready", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def query(self, promql: str, at: datetime | None = None) -> QueryResult:
        """Run one instant query, at ``at`` or now.

        Raises:
            PrometheusQueryError: The query is invalid or cannot be executed (names Prometheus' reason).
            PrometheusUnavailable: No answer, a timeout, 429 or 5xx.
        """
        params: dict[str, str] = {"query": promql, "timeout": f"{self.timeout:g}s"}
        if at is not None:
            params["time"] = f"{at.timestamp():.3f}"
        what = f"prometheus {self.url}: query {promql!r}"
        try:
            response = self._client.post("/api/v1/query", data=params)
        except httpx.HTTPError as exc:
            raise PrometheusUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            if response.status_code == 429 or response.status_code >= 500:
                raise PrometheusUnavailable(f"{what}: HTTP {response.status_code}")
            raise PrometheusQueryError(f"{what}: HTTP {response.status_code}: not a Prometheus API answer")
        if payload.get("status") != "success":
            reason = f"{payload.get('errorType', 'error')}: {payload.get('error', response.text[:300])}"
            if response.status_code in (400, 422):
                raise PrometheusQueryError(f"{what}: {reason}")
            raise PrometheusUnavailable(f"{what}: HTTP {response.status_code}: {reason}")
        result = decode(payload.get("data") or {}, what)
        warnings = tuple(str(w) for w in payload.get("warnings") or ())
        if warnings:
            return QueryResult(result.result_type, result.samples, result.text, warnings)
        return result


class PrometheusMeasure:
    """The ``measure`` of :func:`~ferry.analysis.runner.run_analysis` for Prometheus metrics.

    Each metric queries its own ``address``, or ``default_address`` (the
    environment's Prometheus) when it names none; one client per address.
    Use it as a context manager to close them.
    """

    def __init__(
        self, default_address: str | None = None, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.default_address = default_address
        self._transport = transport
        self._clients: dict[tuple[str, float], PrometheusClient] = {}

    def __enter__(self) -> PrometheusMeasure:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every client."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def __call__(self, metric: AnalysisMetric) -> float | list[float] | str | None:
        query = metric.query
        address = query.address or self.default_address
        if not address:
            raise PrometheusQueryError(f"metric {metric.name!r}: no prometheus address, and no default")
        key = (address, float(query.timeout))
        if key not in self._clients:
            self._clients[key] = PrometheusClient(address, timeout=query.timeout, transport=self._transport)
        return self._clients[key].query(query.query).argo_value()
