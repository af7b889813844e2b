"""The ``releases:`` section of ``ferry.yaml``: which Applications make up one service, and how it ships.

A release groups one service's Applications per environment, either listed by
name or found by a label (``ferry.io/service``) with the environment in a
second label (``ferry.io/environment``). Everything a human is asked about in
the ``release`` flow, and for how long, is configured here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from ferry.analysis.model import AnalysisMetric, parse_duration, validate_metrics
from ferry.schema.base import FrozenModel

ENVIRONMENTS = ("dev", "staging", "production")
SERVICE_LABEL = "ferry.io/service"
ENVIRONMENT_LABEL = "ferry.io/environment"


class HttpCheck(FrozenModel):
    """An HTTP probe: GET ``url`` and expect a status (and, optionally, a substring of the body)."""

    url: str
    expect_status: int = 200
    expect_body: str | None = None


class JobCheck(FrozenModel):
    """A Kubernetes Job, created in the environment's cluster, that must succeed."""

    manifest: dict[str, Any] = Field(description="The Job manifest; metadata.name gets a unique suffix")
    namespace: str | None = Field(default=None, description="Default: the Application's namespace")


class ValidationCheck(FrozenModel):
    """One check Dev must pass before the first gate; each has its own timeout and retries."""

    name: str
    http: HttpCheck | None = None
    job: JobCheck | None = None
    timeout: float = Field(default=30.0, gt=0, description="Seconds per attempt")
    retries: int = Field(default=3, ge=0)
    retry_delay: float = Field(default=2.0, ge=0)

    @model_validator(mode="after")
    def _exactly_one(self) -> ValidationCheck:
        if (self.http is None) == (self.job is None):
            raise ValueError(f"validation check {self.name!r} needs exactly one of `http` or `job`")
        return self


def _seconds(value: Any) -> Any:
    """A Go duration string (``10m``) as seconds; a number passes as it is (pydantic names the key)."""
    return parse_duration(value) if isinstance(value, str) else value


#: Seconds, written as a number or as a Go duration (``90``, ``1m30s``).
Duration = Annotated[float, BeforeValidator(_seconds)]


class AnalysisConfig(FrozenModel):
    """Metric analysis before a gate, with AnalysisTemplate's metrics (``successCondition``, ``count``, …).

    ``address`` is the Prometheus every metric queries unless it names its own.
    """

    address: str | None = Field(default=None, description="Base URL of Prometheus for metrics without one")
    metrics: tuple[AnalysisMetric, ...] = ()
    stop_after: Duration | None = Field(
        default=None, gt=0, description="Seconds after which an unbounded metric (interval, no count) stops"
    )

    @model_validator(mode="after")
    def _metrics(self) -> AnalysisConfig:
        try:
            validate_metrics(self.metrics)
        except ValueError as exc:
            raise ValueError(f"analysis: {exc}") from None
        if self.address is None:
            unaddressed = [m.name for m in self.metrics if m.query.address is None]
            if unaddressed:
                raise ValueError(
                    f"analysis: metric(s) {unaddressed} name no prometheus address, and there is no `address`"
                )
        return self


class GatePolicy(FrozenModel):
    """What happens before a canary step's gate: soak, analysis, and whether a pass approves it alone."""

    analysis: AnalysisConfig | None = None
    auto_approve: bool = Field(default=False, description="Approve without asking when the analysis passes")
    soak: Duration = Field(default=0.0, ge=0, description="Seconds (or `10m`) healthy before the gate opens")

    def unevidenced(self) -> bool:
        """Auto-approval without an analysis of Ferry's: only an Argo Rollout's analysis steps back it."""
        return self.auto_approve and self.analysis is None


class CanaryConfig(GatePolicy):
    """How an environment's new version is rolled out after its sync.

    ``kruise`` and ``argo`` drive the Rollout CR named ``resource``; ``native``
    carries the steps on a ``<resource>-canary`` Deployment; ``none`` syncs at once.
    """

    provider: Literal["none", "kruise", "argo", "native"] = "none"
    resource: str | None = Field(
        default=None,
        description="The Rollout's name; for native, one Deployment (default: every changed one)",
    )
    steps: tuple[int, ...] = Field(default=(20, 50, 100), description="Native: percent of replicas per step")
    step_timeout: float = Field(default=300.0, gt=0, description="Seconds to reach each pause")
    step_gates: dict[int, GatePolicy] = Field(
        default_factory=dict, description="Per canary step (1-based): replaces the environment's policy"
    )

    @property
    def argo(self) -> bool:
        """An Argo Rollout: its controller runs analysis steps of its own, read at each gate."""
        return self.provider == "argo"

    def policy(self, step: int) -> GatePolicy:
        """The soak, analysis and auto-approval before the gate of canary step ``step``."""
        own = self.step_gates.get(step)
        if own is not None:
            return own
        return GatePolicy(analysis=self.analysis, auto_approve=self.auto_approve, soak=self.soak)

    @model_validator(mode="after")
    def _valid(self) -> CanaryConfig:
        if self.provider in ("kruise", "argo") and not self.resource:
            raise ValueError(f"canary provider {self.provider!r} needs `resource` (the Rollout's name)")
        if any(not 0 < s <= 100 for s in self.steps) or list(self.steps) != sorted(self.steps):
            raise ValueError("canary steps must be increasing percentages in (0, 100]")
        native_steps = len(self.steps) if self.provider == "native" else None
        bad = sorted(s for s in self.step_gates if s < 1 or (native_steps is not None and s > native_steps))
        if bad:
            raise ValueError(f"step_gates: no canary step {bad} (steps are numbered from 1)")
        if (self.analysis or self.step_gates) and self.provider == "none":
            raise ValueError("analysis and step_gates run before canary steps: they need a canary `provider`")
        # Nobody would have looked at the step: an approval needs evidence. An Argo
        # Rollout's analysis steps are evidence the controller gathers itself.
        if self.provider != "argo" and any(p.unevidenced() for p in (self, *self.step_gates.values())):
            raise ValueError(
                "auto_approve needs an `analysis` (it approves only when the analysis passes), "
                "or provider `argo` with analysis steps in the Rollout"
            )
        return self


REGION_LABEL = "ferry.io/region"
WAVE_LABEL = "ferry.io/wave"


class WaveConfig(FrozenModel):
    """One wave of an environment: the Applications (one per cluster or region) released together.

    Its apps are those listed, plus the environment's apps (listed in other waves'
    ``apps`` or found by the release's ``selector``) whose labels match ``labels`` or
    whose destination cluster is in ``clusters``.
    """

    name: str | None = Field(default=None, description="Shown in its gate; default: its clusters")
    apps: tuple[str, ...] = ()
    labels: dict[str, str] = Field(
        default_factory=dict, description=f"Apps whose labels all match, e.g. {REGION_LABEL}: cn-beijing"
    )
    clusters: tuple[str, ...] = Field(default=(), description="Apps whose destination is one of these")
    auto_approve: bool = Field(
        default=False, description="Open without asking when every app of the last wave passed its analysis"
    )
    soak: Duration = Field(default=0.0, ge=0, description="Seconds (or `10m`) healthy after the wave")
    max_parallel: int = Field(default=4, ge=1, description="Apps of the wave synced at once")

    @model_validator(mode="after")
    def _selects(self) -> WaveConfig:
        if not (self.apps or self.labels or self.clusters):
            raise ValueError("a wave needs `apps`, `labels` or `clusters`")
        return self


class EnvironmentConfig(FrozenModel):
    """One environment of a release: its Application (or its waves of them) and its canary."""

    app: str | None = None
    waves: tuple[WaveConfig, ...] = Field(
        default=(), description="Ordered waves of Applications; the release stops at the first that fails"
    )
    applicationset: str | None = Field(
        default=None,
        description="Its Applications are this ApplicationSet's; its RollingSync steps are the waves",
    )
    canary: CanaryConfig = CanaryConfig()

    @model_validator(mode="after")
    def _one_or_waves(self) -> EnvironmentConfig:
        if sum((self.app is not None, bool(self.waves), self.applicationset is not None)) > 1:
            raise ValueError("an environment has one of `app`, `waves` and `applicationset`")
        if self.waves and self.waves[0].auto_approve:
            raise ValueError("waves.0.auto_approve: the first wave has no earlier wave whose analysis passed")
        return self


class ReleaseConfig(FrozenModel):
    """One service's release pipeline."""

    name: str
    environments: dict[str, EnvironmentConfig] = Field(default_factory=dict)
    selector: str | None = Field(
        default=None, description=f"Group apps by label {SERVICE_LABEL}=<selector> instead of listing them"
    )
    canary: dict[str, CanaryConfig] = Field(
        default_factory=dict, description="Canary per environment, for apps found by selector"
    )
    validation: tuple[ValidationCheck, ...] = ()
    gate_timeout: float = Field(default=3600.0, gt=0, description="Seconds a gate waits for an answer")
    dev_timeout: float = Field(
        default=300.0, gt=0, description="Seconds to wait for Dev to sync and be Healthy"
    )
    auto_rollback: bool = Field(default=False, description="Roll back the environment a rejected step left")
    notify: str | None = Field(default=None, description="A Prefect notification block to call at each gate")
    ui_url: str | None = Field(
        default=None, description="Base URL of the Prefect UI, for links in notifications"
    )

    @model_validator(mode="after")
    def _grouped(self) -> ReleaseConfig:
        if not self.environments and not self.selector:
            raise ValueError(f"release {self.name!r} needs `environments` or `selector`")
        unknown = sorted(set(self.environments) - set(ENVIRONMENTS))
        if unknown:
            raise ValueError(f"release {self.name!r}: unknown environment(s) {unknown}")
        dev = self.environments.get("dev")
        if dev is not None and (dev.waves or dev.applicationset):
            raise ValueError(f"release {self.name!r}: dev is one Application (the one a release starts from)")
        unnamed = [
            env
            for env, e in self.environments.items()
            if e.app is None and not e.waves and not e.applicationset
        ]
        by_fleet = [
            env for env, e in self.environments.items() if any(w.labels or w.clusters for w in e.waves)
        ]
        if by_fleet and not self.selector:
            # Labels and clusters alone would pick up other services' apps in the same clusters.
            raise ValueError(
                f"release {self.name!r}: waves of {by_fleet} select by `labels` or `clusters`, which choose "
                f"among the release's apps: set `selector` ({SERVICE_LABEL}) or list `apps`"
            )
        if unnamed and not self.selector:
            raise ValueError(
                f"release {self.name!r}: environment(s) {unnamed} name no `app`, `waves` or `applicationset`"
            )
        return self
