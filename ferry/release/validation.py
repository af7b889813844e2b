"""Validation checks Dev must pass before anyone is asked to approve it.

An HTTP probe expects a status (and optionally a substring of the body); a
Kubernetes Job must succeed. Each attempt has a timeout and a failed attempt is
retried after a delay; the result records how many attempts it took, for the
gate's description.
"""

from __future__ import annotations

import copy
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from ferry.errors import ClusterError, ClusterUnavailable
from ferry.release.gates import CheckResult
from ferry.release.kube import poll
from ferry.schema.releases import HttpCheck, JobCheck, ValidationCheck
from ferry.sync.kube import KubeCluster

logger = logging.getLogger(__name__)


def probe_http(check: HttpCheck, timeout: float) -> str | None:
    """One HTTP attempt: None when it passes, else why not."""
    try:
        response = httpx.get(check.url, timeout=timeout, follow_redirects=True)
    except httpx.HTTPError as exc:
        return f"GET {check.url}: {type(exc).__name__}: {exc}"
    if response.status_code != check.expect_status:
        return f"GET {check.url}: status {response.status_code}, expected {check.expect_status}"
    if check.expect_body is not None and check.expect_body not in response.text:
        return f"GET {check.url}: body does not contain {check.expect_body!r}"
    return None


def run_job(cluster: KubeCluster, namespace: str, check: JobCheck, timeout: float) -> str | None:
    """One Job attempt: create it under a fresh name and wait for Complete or Failed."""
    manifest = copy.deepcopy(check.manifest)
    metadata = manifest.setdefault("metadata", {})
    name = f"{str(metadata.get('name', 'ferry-validate'))[:50]}-{uuid.uuid4().hex[:6]}"
    metadata.update({"name": name, "namespace": namespace})
    manifest.setdefault("apiVersion", "batch/v1")
    manifest.setdefault("kind", "Job")
    try:
        cluster.apply(manifest)
    except ClusterError as exc:
        return f"Job {namespace}/{name} was refused: {exc}"

    def finished() -> str | None:
        live = cluster.get("batch/v1", "Job", name, namespace) or {}
        for condition in (live.get("status") or {}).get("conditions") or []:
            if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
                return str(condition["type"])
        return None

    try:
        outcome = poll(finished, timeout=timeout, interval=0.5, what=f"Job {namespace}/{name}")
    except TimeoutError as exc:
        return str(exc)
    return None if outcome == "Complete" else f"Job {namespace}/{name} failed"


def run_check(
    check: ValidationCheck,
    *,
    cluster: KubeCluster | None = None,
    namespace: str = "default",
    sleep: Callable[[float], None] = time.sleep,
) -> CheckResult:
    """Run ``check`` with its retries; never raises for a failing check, only reports it."""
    problem: str | None = "not run"
    attempts = 0
    for attempt in range(1, check.retries + 2):
        attempts = attempt
        if check.http is not None:
            problem = probe_http(check.http, check.timeout)
        elif check.job is not None:
            if cluster is None:
                raise ClusterUnavailable(f"validation check {check.name!r} needs the environment's cluster")
            problem = run_job(cluster, check.job.namespace or namespace, check.job, check.timeout)
        if problem is None:
            break
        logger.warning("validation %s, attempt %d: %s", check.name, attempt, problem)
        if attempt <= check.retries:
            sleep(check.retry_delay)
    result = CheckResult(check.name, problem is None, attempts, problem or "passed")
    logger.info(
        "validation %s: %s after %d attempt(s)", check.name, "passed" if result.passed else "FAILED", attempts
    )
    return result


def run_checks(
    checks: tuple[ValidationCheck, ...], *, cluster: KubeCluster | None = None, namespace: str = "default"
) -> list[CheckResult]:
    """Every check, in order (all of them run, so the gate shows every failure at once)."""
    return [run_check(c, cluster=cluster, namespace=namespace) for c in checks]


def summary(results: list[CheckResult]) -> dict[str, Any]:
    """Counts for logs and artifacts."""
    return {"passed": sum(r.passed for r in results), "failed": sum(not r.passed for r in results)}
