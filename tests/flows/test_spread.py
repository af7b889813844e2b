"""The image-update cycle spread over two real process workers: one child run per deploy repository.

The session's Prefect server, a pool of its own with two ``prefect worker`` processes
(``--limit 2`` each), the real registry behind a proxy that stamps each request, and three
bare deploy repos. The deployment is run as the UI's "Run" would, with ``spread``. What
must hold: one child per repository, each with only that repository's apps and a push of
its own; the parent's table has every app's row with the child that did it; and the
children's registry requests together stay within the registry's ``limit:``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from blocks.pacing import registry_limit_name
from ferry.devenv.fleet import FLEET_POOL, PROJECT_DIR, Fleet, start_fleet
from ferry.devenv.prefect_api import PrefectApi
from ferry.devenv.registry import RunningRegistry
from ferry.devenv.scale import app_name, push_tags, write_fleet
from ferry.devenv.services import ServiceBook
from tests.fixtures.git import BareRepo
from tests.registry.servers import StampingProxy

pytestmark = [pytest.mark.registry, pytest.mark.slow, pytest.mark.timeout(900)]
LIMIT = 2.0
APPS, REPOS, IMAGES = 12, 3, 4  # coprime: every repo has apps of every image


@pytest.fixture
def fleet(prefect_harness: str, tmp_path: Path) -> Iterator[Fleet]:
    book = ServiceBook(tmp_path)
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_harness,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PYTHONPATH": str(PROJECT_DIR),
    }
    try:
        started = start_fleet(prefect_harness, env, tmp_path, book, workers=2, limit=2)
        yield started
    finally:
        book.stop_all()
        assert not book.still_running()
        with PrefectApi(prefect_harness) as api:
            api.call("DELETE", f"/work_pools/{FLEET_POOL}")


def test_a_spread_cycle_gives_each_repository_its_own_run_within_one_registry_limit(
    fleet: Fleet, registry: RunningRegistry, tmp_path: Path
) -> None:
    with StampingProxy(registry.url) as proxy:
        repositories = [f"spread-{os.getpid()}/img-{k}" for k in range(IMAGES)]
        for repository in repositories:
            push_tags(registry.url, ["v1.0.0"], repository)
        layout = write_fleet(
            tmp_path / "fleet",
            registry_host=registry.host,
            registry_api=proxy.url,
            apps=APPS,
            repos=REPOS,
            images=IMAGES,
            current_tag="v1.0.0",
            limit=LIMIT,
            repositories=tuple(repositories),
        )
        for repository in repositories:
            push_tags(registry.url, ["v1.1.0"], repository)
        heads = [BareRepo(b).head() for b in layout.bares]
        run = fleet.cycle(layout.config, spread=True, timeout=600)
        assert run["state_type"] == "COMPLETED", run["state"]
        children = fleet.children(run["id"])
        with fleet.api() as api:
            table = next(a for a in api.artifacts(run["id"]) if a["key"] == "image-updates")
            # The children paced themselves on the server's limit for this registry, made on first use.
            shared = api.concurrency_limit(registry_limit_name(proxy.url))
        stamps = sorted(proxy.stamps)
        assert shared is not None, "no child took a slot of the registry's shared limit"
        assert (shared["limit"], shared["slot_decay_per_second"]) == (1, LIMIT)

    # One child per repository, each with that repository's apps only (app i is in repo i % REPOS).
    assert len(children) == REPOS and all(c["state_type"] == "COMPLETED" for c in children), children
    shards = sorted(sorted(c["parameters"]["apps"]) for c in children)
    assert shards == sorted(sorted(app_name(i) for i in range(APPS) if i % REPOS == r) for r in range(REPOS))
    assert all(c["parameters"]["spread"] is False for c in children)
    # Every app moved, in its own repository's one push; the parent's table says which child did it.
    rows = json.loads(table["data"])
    assert sorted(r["app"] for r in rows) == [app_name(i) for i in range(APPS)]
    assert {r["status"] for r in rows} == {"updated"} and {r["new"] for r in rows} == {"v1.1.0"}
    ids = {c["id"] for c in children}
    assert all(any(i in r["run"] for i in ids) for r in rows), rows
    for r, bare in enumerate(layout.bares):
        repo = BareRepo(bare)
        assert repo.head() != heads[r]
        for i in range(r, APPS, REPOS):
            # Image Updater's default git target: the app's override file beside its chart.
            written = repo.read(f"charts/echo/.argocd-source-{app_name(i)}.yaml") or b""
            assert b"v1.1.0" in written, written
    # The children's requests together, whichever worker sent them: never more than LIMIT in a second.
    # The proxy stamps a request some time after its grant; at 2/s the grants are 0.5 s apart, so
    # one request more in a second is that lag, and a limit not shared would show 3 children's worth.
    assert len(stamps) >= REPOS * IMAGES  # each child lists its images' tags
    busiest = max(sum(1 for t in stamps[i:] if t < s + 1.0) for i, s in enumerate(stamps))
    assert busiest <= LIMIT + 1, stamps
    assert stamps[-1] - stamps[0] >= (len(stamps) - 1) / LIMIT * 0.9


def test_a_child_that_died_or_never_ran_gives_each_of_its_apps_an_error_row(prefect_harness: str) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed, Scheduled

    from flows.spread import Child, gathered_rows, wait_for

    @flow(name="spread-child-stand-in")
    def stand_in() -> None:
        return None

    with get_client(sync_client=True) as client:
        crashed = client.create_flow_run(stand_in, state=Crashed(message="worker killed"))
        waiting = client.create_flow_run(stand_in, state=Scheduled())
    children = [Child("file:///r0.git", ("a", "b"), crashed.id), Child("file:///r1.git", ("c",), waiting.id)]
    # The Scheduled one never becomes final: after the timeout the parent takes it as it is.
    runs = wait_for(children, timeout=1.5)
    assert runs[crashed.id].state is not None and runs[crashed.id].state.is_crashed()
    assert runs[waiting.id].state is not None and runs[waiting.id].state.is_scheduled()
    rows = gathered_rows(children, runs, "http://ui")
    assert [(r["app"], r["status"], r["error"]) for r in rows] == [
        ("a", "error", "run Crashed: worker killed"),
        ("b", "error", "run Crashed: worker killed"),
        ("c", "error", "run Scheduled"),
    ]
    assert rows[0]["run"] == f"http://ui/runs/flow-run/{crashed.id}"
