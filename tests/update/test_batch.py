"""Detection in batches (ferry.update.batch): grouping, order, and transient-only re-detection."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ferry.argocd.application import Application
from ferry.errors import ConfigError, RegistryUnavailable
from ferry.update.batch import Batch, batches, plan_in_batches
from ferry.update.outcomes import AppPlan, PlanResult, attempt_each


def app(name: str, repo: str = "https://git.example/deploy.git", revision: str = "main") -> Application:
    return Application.model_validate(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": name},
            "spec": {
                "destination": {"server": "https://kubernetes.default.svc"},
                "source": {"repoURL": repo, "targetRevision": revision, "path": "chart"},
            },
        }
    )


def plan_of(a: Application) -> AppPlan:
    return AppPlan(a.name, a.source.repo_url, None, None, "values.yaml", (), None, None)


def test_batches_group_by_repository_and_revision_in_load_order() -> None:
    apps = [app("a"), app("b", revision="v2"), app("c"), app("d", repo="https://git.example/other.git")]
    got = batches(apps)
    assert [(b.repo_url, b.revision, [m.name for m in b.apps]) for b in got] == [
        ("https://git.example/deploy.git", "main", ["a", "c"]),
        ("https://git.example/deploy.git", "v2", ["b"]),
        ("https://git.example/other.git", "main", ["d"]),
    ]
    assert got[0].label == "2 apps in https://git.example/deploy.git@main"
    assert got[1].label == "1 app in https://git.example/deploy.git@v2"


def test_a_password_in_a_repo_url_never_reaches_the_task_name() -> None:
    (batch,) = batches([app("a", repo="https://bot:hunter2@git.example/deploy.git")])
    assert batch.label == "1 app in https://bot:***@git.example/deploy.git@main"


def test_one_apps_exception_is_its_result_and_the_batch_goes_on() -> None:
    def plan(a: Application) -> AppPlan | None:
        if a.name == "bad":
            raise ValueError("not ours")
        return None if a.name == "plain" else plan_of(a)

    results = attempt_each(plan, [app("ok"), app("bad"), app("plain")])
    assert isinstance(results[0], AppPlan) and results[0].app == "ok"
    assert isinstance(results[1], ValueError)
    assert results[2] is None


def test_only_transient_failures_are_planned_again_and_results_keep_app_order() -> None:
    apps = [app("a"), app("flaky", revision="v2"), app("broken"), app("b")]
    batch_calls: list[list[str]] = []
    retried: list[str] = []

    def run_batch(batch: Batch) -> Sequence[PlanResult]:
        batch_calls.append([m.name for m in batch.apps])
        out: list[PlanResult] = []
        for m in batch.apps:
            if m.name == "flaky":
                out.append(RegistryUnavailable("503 from the registry"))
            elif m.name == "broken":
                out.append(ConfigError("bad strategy", application="broken"))
            else:
                out.append(plan_of(m))
        return out

    def retry_one(a: Application) -> AppPlan | None:
        retried.append(a.name)
        return plan_of(a)

    results = plan_in_batches(apps, run_batch, retry_one)
    assert batch_calls == [["a", "broken", "b"], ["flaky"]]
    assert retried == ["flaky"], "a permanent error is never retried; a planned app is never planned again"
    assert [r.app if isinstance(r, AppPlan) else type(r).__name__ for r in results] == [
        "a",
        "flaky",
        "ConfigError",
        "b",
    ]


def test_a_retry_that_still_fails_is_the_apps_result() -> None:
    def retry_one(a: Application) -> AppPlan | None:
        raise RegistryUnavailable("still down")

    results = plan_in_batches(
        [app("x")], lambda b: [RegistryUnavailable("down")] * len(b.apps), retry_one
    )
    assert isinstance(results[0], RegistryUnavailable) and "still down" in str(results[0])


def test_a_batch_step_that_loses_results_is_refused() -> None:
    with pytest.raises(ValueError, match="1 result"):
        plan_in_batches([app("x"), app("y")], lambda b: [None], lambda a: None)
