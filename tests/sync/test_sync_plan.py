"""The sync plan on a real cluster: one render per auto-sync, and waits that re-render only a new head."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ferry.sync.engine as engine_module
from ferry.sandbox.cluster import Sandbox
from ferry.sync.model import SyncStatus
from tests.fixtures.git import BareRepoFactory
from tests.sync.world import World, plain_app, write_world

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def configmap(name: str, value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: {value}\n"


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The revisions the engine rendered, in order (the renderer still runs)."""
    seen: list[str] = []
    original = engine_module.render_application

    def counting(*args: Any, **kwargs: Any) -> Any:
        rendered = original(*args, **kwargs)
        seen.append(rendered.revision)
        return rendered

    monkeypatch.setattr(engine_module, "render_application", counting)
    yield seen


@pytest.fixture
def world(tmp_path: Path, sandbox: Sandbox, bare_repo: BareRepoFactory) -> tuple[World, str]:
    suffix = uuid.uuid4().hex[:6]
    repo = bare_repo(f"plan-{suffix}", {"manifests/a.yaml": configmap("a", "one")})
    name = f"plan-{suffix}"
    app = plain_app(
        name,
        repo.url,
        sandbox.cluster("dev").server,
        f"plan-{suffix}",
        "manifests",
        syncPolicy={"automated": {}},
    )
    return write_world(tmp_path, sandbox, repo, [app], suffix), name


def test_auto_sync_renders_once_and_applies_the_plan_it_decided_on(
    world: tuple[World, str], renders: list[str]
) -> None:
    scenario, name = world
    with scenario.engine() as engine:
        result, reason = engine.auto_sync(name)
        assert result is not None and reason.startswith("OutOfSync"), reason
        assert renders == [result.revision], "the decision's plan is the one applied"
        assert engine.diff(name).status is SyncStatus.SYNCED
        renders.clear()
        skipped, reason = engine.auto_sync(name)
        assert skipped is None and reason.startswith("already Synced"), reason
        assert len(renders) == 1


def test_a_plan_is_rendered_again_only_when_the_head_moves(
    world: tuple[World, str], renders: list[str]
) -> None:
    scenario, name = world
    with scenario.engine() as engine:
        target = engine.target(name)
        first = engine.current(target)
        assert first.diff.status is SyncStatus.OUT_OF_SYNC
        engine.sync(first)
        again = engine.current(target, first)
        assert renders == [first.revision], "the same head is not rendered again"
        assert again.rendered is first.rendered and again.diff.status is SyncStatus.SYNCED
        moved = scenario.commit({"manifests/a.yaml": configmap("a", "two")}, "two")
        changed = engine.current(target, again)
        assert renders == [first.revision, moved] and changed.revision == moved
        assert changed.diff.status is SyncStatus.OUT_OF_SYNC


def test_wait_polls_the_live_state_without_rendering_again(
    world: tuple[World, str], renders: list[str]
) -> None:
    scenario, name = world
    with scenario.engine() as engine:
        status = engine.wait(name, 0.6, interval=0.1)
        assert not status.ready and status.sync is SyncStatus.OUT_OF_SYNC, status
        assert len(renders) == 1, "one head, one render, however many polls"
        engine.sync(name)
        renders.clear()
        assert engine.wait(name, 30, interval=0.1).ready
        assert len(renders) == 1


def test_a_plan_comes_with_its_revision(world: tuple[World, str]) -> None:
    scenario, name = world
    with scenario.engine() as engine:
        plan = engine.plan(name)
        with pytest.raises(TypeError, match="pass no revision"):
            engine.sync(plan, revision="main")
        assert engine.diff(plan) is plan.diff
