"""The ``releases:`` section of ``ferry.yaml``: which Applications make up one service, and how it ships.

A release groups one service's Applications per environment, either listed by
name or found by a label (``ferry.io/service``) with the environment in a
second label (``ferry.io/environment``). Everything a human is asked about in
the ``release`` flow, and for how long, is configured here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

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


class CanaryConfig(FrozenModel):
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

    @model_validator(mode="after")
    def _valid(self) -> CanaryConfig:
        if self.provider in ("kruise", "argo") and not self.resource:
            raise ValueError(f"canary provider {self.provider!r} needs `resource` (the Rollout's name)")
        if any(not 0 < s <= 100 for s in self.steps) or list(self.steps) != sorted(self.steps):
            raise ValueError("canary steps must be increasing percentages in (0, 100]")
        return self


class EnvironmentConfig(FrozenModel):
    """One environment of a release: its Application and its canary."""

    app: str
    canary: CanaryConfig = CanaryConfig()


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
        return self
