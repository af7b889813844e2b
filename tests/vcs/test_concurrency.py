"""Racing updaters in separate processes, each with its own cache, on one bare repo.

The must-show: both land, no lost update, no duplicate commit.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.git import BareRepo, BareRepoFactory
from tests.vcs.racer import Plan, run_racer

pytestmark = pytest.mark.slow


def _race(remote: BareRepo, tmp_path: Path, plans: dict[str, Plan]) -> dict[str, dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    start_line = context.Barrier(len(plans))
    results = context.Queue()
    processes = [
        context.Process(
            target=run_racer,
            args=(name, remote.url, str(tmp_path / f"cache-{name}"), plan, start_line, results),
        )
        for name, plan in plans.items()
    ]
    for process in processes:
        process.start()
    try:
        outcomes = {outcome["name"]: outcome for outcome in (results.get(timeout=120) for _ in processes)}
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    errors = {name: o["error"] for name, o in outcomes.items() if "error" in o}
    assert not errors, errors
    return outcomes


def test_two_racers_both_land_without_lost_update_or_duplicate(
    bare_repo: BareRepoFactory, tmp_path: Path
) -> None:
    remote = bare_repo("deploy", {"README.md": "deploy\n"})
    initial = remote.head()
    outcomes = _race(
        remote,
        tmp_path,
        {
            "a": [("own-a", [("a.txt", "set", "from a\n")]), ("shared", [("shared.txt", "set", "same\n")])],
            "b": [("own-b", [("b.txt", "set", "from b\n")]), ("shared", [("shared.txt", "set", "same\n")])],
        },
    )
    assert all(o["pushed"] for o in outcomes.values())
    assert sum(o["attempts"] for o in outcomes.values()) >= 3, "one racer must have lost and retried"
    assert remote.read("a.txt") == b"from a\n" and remote.read("b.txt") == b"from b\n"
    assert remote.read("shared.txt") == b"same\n"

    log = remote.log()
    subjects = [subject for _, subject in log]
    assert log[-1][0] == initial and len(log) == 4, subjects
    assert sorted(subjects[:3]) == ["update own-a", "update own-b", "update shared"], (
        "duplicate or lost commit"
    )
    shared = [o["commits"]["shared"] for o in outcomes.values()]
    assert shared.count(None) == 1, "exactly one racer commits the shared content; the other sees no change"
    landed = {sha for sha, _ in log}
    for outcome in outcomes.values():
        assert {sha for sha in outcome["commits"].values() if sha} <= landed, (
            "a reported commit is not on main"
        )


def test_four_racers_on_four_files_and_one_shared_list(bare_repo: BareRepoFactory, tmp_path: Path) -> None:
    remote = bare_repo("deploy", {"README.md": "deploy\n"})
    names = ["r1", "r2", "r3", "r4"]
    outcomes = _race(
        remote,
        tmp_path,
        {
            name: [(f"app-{name}", [(f"{name}.txt", "set", f"{name}\n"), ("list.txt", "append", name)])]
            for name in names
        },
    )
    assert all(o["pushed"] for o in outcomes.values())
    assert sum(o["attempts"] for o in outcomes.values()) > len(names), "the racers never collided"
    for name in names:
        assert remote.read(f"{name}.txt") == f"{name}\n".encode()
    listed = (remote.read("list.txt") or b"").decode().splitlines()
    assert sorted(listed) == names, "an append was lost or doubled"
    subjects = [subject for _, subject in remote.log()]
    assert sorted(subjects[:4]) == [f"update app-{name}" for name in names] and len(subjects) == 5
    landed = {sha for sha, _ in remote.log()}
    assert {o["commits"][f"app-{n}"] for n, o in outcomes.items()} <= landed
