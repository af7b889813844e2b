"""Pure release logic: promote patches, gate wording, settings, holds and history choice (table tests)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ferry.config import load_config
from ferry.errors import ConfigError
from ferry.release.canary import ArgoRollout, KruiseRollout, canary_deployment, canary_replicas
from ferry.release.gates import (
    CanaryStep,
    CheckResult,
    GateDecision,
    ImageMove,
    WriteBack,
    gate_key,
    timed_out,
)
from ferry.release.holds import Hold, rolled_away_tags, split_ref, without_held
from ferry.release.pipeline import release_of
from ferry.release.questions import (
    DiffDigest,
    ResourceChange,
    canary_question,
    dev_verified_question,
    sync_question,
)
from ferry.release.rollback import target_entry
from ferry.release.validation import run_check
from ferry.schema.releases import CanaryConfig, ReleaseConfig, ValidationCheck
from ferry.sync.engine import SyncEngine
from ferry.sync.model import HistoryEntry
from tests.release.world import http_endpoint

STEPS = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]


@pytest.mark.parametrize(
    ("spec", "status", "expected"),
    [
        (
            {},
            {"pauseConditions": [{"reason": "CanaryPauseStep"}], "currentStepIndex": 1},
            (None, {"status": {"pauseConditions": None}}),
        ),
        (
            {"paused": True},
            {"pauseConditions": [{"reason": "CanaryPauseStep"}]},
            ({"spec": {"paused": False}}, {"status": {"pauseConditions": None}}),
        ),
        (
            {"paused": True},
            {"currentStepIndex": 1},
            ({"spec": {"paused": False}}, {"status": {"pauseConditions": None, "currentStepIndex": 2}}),
        ),
        ({}, {}, (None, {"status": {"pauseConditions": None, "currentStepIndex": 1}})),
        ({}, {"currentStepIndex": 4}, (None, {"status": {"pauseConditions": None, "currentStepIndex": 4}})),
    ],
    ids=[
        "pause-condition-cleared",
        "spec-paused-and-condition",
        "no-condition-advances-step",
        "index-unset-counts-as-0",
        "index-never-passes-the-last-step",
    ],
)
def test_argo_promote_patches_match_kubectl_argo_rollouts(
    spec: dict[str, Any], status: dict[str, Any], expected: tuple[Any, Any]
) -> None:
    rollout = {"spec": {**spec, "strategy": {"canary": {"steps": STEPS}}}, "status": status}
    assert ArgoRollout.promote_patches(rollout) == expected


def test_argo_blue_green_promote_only_unpauses() -> None:
    rollout = {"spec": {"paused": True, "strategy": {"blueGreen": {}}}, "status": {}}
    assert ArgoRollout.promote_patches(rollout) == ({"spec": {"paused": False}}, None)


@pytest.mark.parametrize(
    ("status", "step"),
    [
        (
            {"canaryStatus": {"currentStepIndex": 1, "currentStepState": "StepPaused"}},
            CanaryStep(1, 2, 20, 1),
        ),
        (
            {"canaryStatus": {"currentStepIndex": 2, "currentStepState": "StepPaused"}},
            CanaryStep(2, 2, 100, 100),
        ),
        ({"canaryStatus": {"currentStepIndex": 1, "currentStepState": "StepReady"}}, None),
        ({}, None),
    ],
    ids=["paused-at-1", "paused-at-2-percent-replicas", "ready-is-not-paused", "no-canary-status"],
)
def test_kruise_paused_step(status: dict[str, Any], step: CanaryStep | None) -> None:
    rollout = {
        "spec": {
            "strategy": {
                "canary": {
                    "steps": [{"traffic": "20%", "replicas": 1}, {"traffic": "100%", "replicas": "100%"}]
                }
            }
        },
        "status": status,
    }
    assert KruiseRollout.paused_step(rollout) == step


def test_kruise_v1alpha1_steps_read_weight_as_traffic() -> None:
    # The seed chart's rollouts.kruise.io/v1alpha1 Rollout: `weight` where v1beta1 has `traffic`.
    steps = [{"replicas": "20%", "weight": 20}, {"replicas": "40%", "weight": 40, "pause": {"duration": 60}}]
    rollout = {
        "apiVersion": "rollouts.kruise.io/v1alpha1",
        "spec": {"objectRef": {"workloadRef": {"name": "web"}}, "strategy": {"canary": {"steps": steps}}},
        "status": {"canaryStatus": {"currentStepIndex": 2, "currentStepState": "StepPaused"}},
    }
    assert KruiseRollout.paused_step(rollout) == CanaryStep(2, 2, 40, 40)


@given(total=st.integers(1, 500), percent=st.integers(1, 100))
def test_canary_replicas_are_at_least_one_and_at_most_all(total: int, percent: int) -> None:
    replicas = canary_replicas(total, percent)
    assert 1 <= replicas <= total
    assert replicas >= total * percent / 100


def test_canary_deployment_shares_the_service_labels_but_not_the_selector() -> None:
    stable = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "n"},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}},
        },
    }
    canary = canary_deployment(stable, 50, 1)
    assert canary["metadata"]["name"] == "web-canary"
    assert canary["spec"]["replicas"] == 2
    assert canary["spec"]["template"]["metadata"]["labels"] == {"app": "web", "ferry.io/track": "canary"}
    assert canary["spec"]["selector"]["matchLabels"] == {"app": "web", "ferry.io/track": "canary"}
    assert stable["spec"]["selector"]["matchLabels"] == {"app": "web"}, "the stable manifest is not changed"


def test_the_dev_gate_states_images_write_back_validation_and_the_run_that_made_the_commit() -> None:
    question = dev_verified_question(
        "echo",
        "app-dev",
        WriteBack(
            "0123456789abcdef", "build: automatic update of app-dev\n\nbody", "http://ui/runs/flow-run/u1"
        ),
        [ImageMove("echoserver", "r/echo", "v1.0", "v3")],
        [CheckResult("healthz", True, 1, "passed"), CheckResult("smoke", False, 3, "Job failed")],
    )
    assert question.key == "verified-dev-0123456789ab" and question.title == "Dev verified?"
    assert question.revision == "0123456789abcdef"
    text = question.description
    assert "- **echo**: `v1.0` → `v3` (`r/echo`)" in text
    assert "- commit `0123456789ab`: build: automatic update of app-dev" in text
    assert "[the image-update run](http://ui/runs/flow-run/u1)" in text
    assert "- ❌ **smoke** (3 attempt(s)): Job failed" in text
    assert text.index("**Images**") < text.index("**Write-back**") < text.index("**Validation**")
    assert "|" not in text, "lists, not tables: the Resume modal clips wide tables"
    assert question.summary.splitlines() == [
        "Dev verified? echo: echo v1.0 → v3",
        "write-back 0123456789ab 'build: automatic update of app-dev'",
        "validation 1/2 passed (healthz, smoke)",
        "made by http://ui/runs/flow-run/u1",
    ]


def test_the_sync_gate_shows_images_then_the_diff_cut_with_a_link_to_the_whole() -> None:
    unified = "".join(f"+line {i}\n" for i in range(100))
    fields = tuple(f"`spec.f{i}`: `1` → `2`" for i in range(8))
    change = ResourceChange("Deployment app-staging/echo-server", "update", fields)
    digest = DiffDigest("OutOfSync", (change,), unified, 4, "http://ui/artifacts/artifact/a1")
    note = "main moved from aaaa to bbbb while 'Sync staging?' waited"
    question = sync_question(
        "staging",
        "app-staging",
        WriteBack("feedface" * 5, "build: x"),
        [ImageMove("a", "r/echo", "v1", "v3")],
        digest,
        note,
    )
    text = question.description
    assert question.key == "sync-staging-feedfacefeed" and question.revision == "feedface" * 5
    assert (
        text.index("**Images**")
        < text.index("**Resources**: OutOfSync, 1 of 4 change")
        < text.index("~~~~diff")
    )
    assert "- `Deployment app-staging/echo-server`: update\n    - `spec.f0`: `1` → `2`" in text
    assert "`spec.f5`" in text and "`spec.f6`" not in text and "    - … and 2 more" in text
    assert "+line 39" in text and "+line 40" not in text
    assert "(100 lines in all): see [the full diff](http://ui/artifacts/artifact/a1)" in text
    assert f"> ⚠️ {note}" in text and note in question.summary


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (("verified", "dev", "ABCDEF0123456789"), "verified-dev-abcdef012345"),
        (("sync", "production", "0123456789abcdef"), "sync-production-0123456789ab"),
        (("canary", "staging", "0123456789abcdef", 2), "canary-staging-0123456789ab-step-2"),
    ],
)
def test_gates_are_keyed_by_environment_and_revision(args: tuple[Any, ...], key: str) -> None:
    assert gate_key(*args) == key


def test_a_canary_gate_names_its_step_and_revision() -> None:
    canary = canary_question("staging", "app-staging", "abcdef1234567890", CanaryStep(1, 3, 20, 1))
    assert canary.title == "Approve canary step 1/3 (traffic 20%, replicas 1)?"
    assert canary.key == "canary-staging-abcdef123456-step-1"


def test_gate_decisions_are_frozen_records() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    decision = GateDecision(
        gate="Sync staging?",
        approved=False,
        comment="not | today",
        approver="bob",
        decided_at=at,
        revision="f" * 40,
    )
    assert (
        decision.log_line()
        == "gate 'Sync staging?' rejected for ffffffffffff by bob at 2026-01-02T03:04:05+00:00: not | today"
    )
    assert (
        "## Decision: **rejected**" in decision.markdown()
        and "- **comment:** not | today" in decision.markdown()
    )
    assert decision.ended("echo") == (
        "release echo rejected at gate 'Sync staging?' by bob: not | today; nothing further was synced"
    )
    with pytest.raises(ValidationError):
        decision.approved = True  # type: ignore[misc]
    assert timed_out("Dev verified?", at).verdict == "timed out"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "r"}, "needs `environments` or `selector`"),
        ({"name": "r", "environments": {"qa": {"app": "a"}}}, "unknown environment"),
        ({"name": "r", "selector": "s", "canary": {"dev": {"provider": "kruise"}}}, "needs `resource`"),
        (
            {"name": "r", "selector": "s", "canary": {"dev": {"provider": "native", "steps": [50, 20]}}},
            "increasing",
        ),
        ({"name": "r", "selector": "s", "validation": [{"name": "v"}]}, "exactly one of"),
    ],
    ids=["no-apps", "unknown-env", "kruise-without-rollout", "steps-not-increasing", "check-without-kind"],
)
def test_release_settings_are_validated(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ReleaseConfig.model_validate(data)


def test_releases_group_apps_by_label(tmp_path: Path) -> None:
    apps = []
    for env in ("dev", "staging", "production"):
        apps.append(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {
                    "name": f"web-{env}",
                    "labels": {"ferry.io/service": "web", "ferry.io/environment": env},
                },
                "spec": {"source": {"repoURL": "file:///r.git", "path": "p"}},
            }
        )
    apps.append(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "other"},
            "spec": {"source": {"repoURL": "file:///r.git", "path": "p"}},
        }
    )
    (tmp_path / "applications").mkdir()
    (tmp_path / "applications" / "apps.yaml").write_text(yaml.safe_dump_all(apps))
    (tmp_path / "ferry.yaml").write_text(
        yaml.safe_dump(
            {
                "releases": [
                    {"name": "web", "selector": "web", "canary": {"production": {"provider": "native"}}}
                ]
            }
        )
    )
    config = load_config(tmp_path / "ferry.yaml")
    with SyncEngine(config) as engine:
        found = release_of(config, engine, "web-staging")
        assert found is not None
        resolved, env = found
        assert env == "staging"
        assert resolved.apps == {"dev": "web-dev", "staging": "web-staging", "production": "web-production"}
        assert resolved.canary("production") == CanaryConfig(provider="native")
        assert resolved.canary("staging").provider == "none"
        assert release_of(config, engine, "other") is None


def _entry(i: int) -> HistoryEntry:
    return HistoryEntry(i, f"sha{i}", (f"r/a:v{i}",), "t", "u")


@pytest.mark.parametrize(
    ("history", "wanted", "expected"),
    [([1, 2, 3], None, 2), ([1, 2, 3], 1, 1), ([4, 5], 4, 4)],
    ids=["default-previous", "explicit-id", "after-trimming"],
)
def test_rollback_target(history: list[int], wanted: int | None, expected: int) -> None:
    assert target_entry([_entry(i) for i in history], wanted).id == expected


@pytest.mark.parametrize(
    ("history", "wanted", "message"),
    [([1], None, "no earlier"), ([1, 2], 7, "no history entry 7")],
    ids=["nothing-earlier", "unknown-id"],
)
def test_rollback_target_errors(history: list[int], wanted: int | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        target_entry([_entry(i) for i in history], wanted)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("127.0.0.1:5000/a/b:v2", ("127.0.0.1:5000/a/b", "v2")),
        ("127.0.0.1:5000/a/b", ("127.0.0.1:5000/a/b", "")),
        ("a/b:v1@sha256:abc", ("a/b", "v1")),
        ("b:1.0", ("b", "1.0")),
    ],
    ids=["port-and-tag", "port-no-tag", "tag-and-digest", "bare"],
)
def test_split_ref(ref: str, expected: tuple[str, str]) -> None:
    assert split_ref(ref) == expected


def test_held_tags_are_per_image() -> None:
    held = {"r/a:v2", "r/b:v3"}
    assert without_held(["v1", "v2", "v3"], "r/a", held) == ["v1", "v3"]
    assert rolled_away_tags(["r/a:v2", "r/b:v1"], ["r/a:v1", "r/b:v1"]) == ("r/a:v2",)


def test_holds_merge_keeps_every_tag_and_the_stricter_sync() -> None:
    first = Hold("a", "quick rollback", "u", "t1", sync=True, tags=("r/a:v2",))
    second = Hold("a", "git revert", "v", "t2", sync=False, tags=("r/a:v3", "r/a:v2"))
    merged = first.merged(second)
    assert merged.sync is True and merged.tags == ("r/a:v2", "r/a:v3") and merged.reason == "git revert"
    assert Hold.from_dict(merged.as_dict()) == merged


def test_http_check_retries_then_reports_the_failure() -> None:
    slept: list[float] = []
    with http_endpoint(status=503, body=b"down") as url:
        check = ValidationCheck(name="healthz", http={"url": url}, retries=2, retry_delay=0.5)
        result = run_check(check, sleep=slept.append)
    assert (result.passed, result.attempts, slept) == (False, 3, [0.5, 0.5])
    assert "status 503, expected 200" in result.detail
    with http_endpoint(body=b"version v3") as url:
        body = ValidationCheck(name="body", http={"url": url, "expect_body": "v3"}, retries=0)
        assert run_check(body).passed
        wrong = ValidationCheck(name="body", http={"url": url, "expect_body": "v4"}, retries=0)
        assert "does not contain 'v4'" in run_check(wrong).detail


def test_dev_gate_warns_of_a_write_back_that_changes_nothing() -> None:
    event_images = [
        {"alias": "echoserver", "image": "r.io/cidemo/echo-server", "old_tag": "v1.0", "new_tag": "v2.1"},
        {
            "alias": "webserver",
            "image": "r.io/cidemo/echo-web-server",
            "old_tag": "v1.0",
            "new_tag": "v2.1",
            "renders_unchanged": True,
        },
    ]
    moves = [ImageMove.from_event(i) for i in event_images]
    text = dev_verified_question("echo", "app-helm-dev", WriteBack("abc123"), moves, []).description
    assert "`r.io/cidemo/echo-web-server:v2.1`: the write-back changes nothing that renders" in text
    assert "echo-server:v2.1`: the write-back" not in text
    quiet = dev_verified_question("echo", "app-helm-dev", WriteBack("abc123"), moves[:1], []).description
    assert "changes nothing" not in quiet
