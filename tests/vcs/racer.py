"""One write-back racer, run in its own process by test_concurrency.py.

Lives in an importable module (not the test file) because spawned processes
import their target by name. Transforms are described as data, since the
closures that do the work cannot cross a process boundary.
"""

from __future__ import annotations

import multiprocessing.synchronize
import traceback
from collections.abc import Callable
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

from ferry.vcs import FileEdit, PlannedCommit, RepoCache, write_back
from tests.vcs.helpers import AUTHOR, append_line, set_to

# (key, [(path, "set" | "append", text), ...])
Plan = list[tuple[str, list[tuple[str, str, str]]]]


def run_racer(
    name: str,
    url: str,
    cache_root: str,
    plan: Plan,
    start_line: multiprocessing.synchronize.Barrier,
    results: Queue[dict[str, Any]],
) -> None:
    """Open a clone, then write back ``plan``; wait at ``start_line`` inside the first transform.

    Waiting there means every racer has fetched the same head and is editing
    before anyone pushes, so the race is real rather than left to timing.
    """
    waited = False

    def gated(inner: Callable[[bytes | None], bytes | None]) -> Callable[[bytes | None], bytes | None]:
        def transform(current: bytes | None) -> bytes | None:
            nonlocal waited
            if not waited:
                waited = True
                start_line.wait(timeout=60)
            return inner(current)

        return transform

    commits = [
        PlannedCommit(
            key,
            f"update {key}",
            tuple(
                FileEdit(path, gated(set_to(text) if kind == "set" else append_line(text)))
                for path, kind, text in edits
            ),
        )
        for key, edits in plan
    ]
    try:
        with RepoCache(Path(cache_root)).open(url) as clone:
            result = write_back(
                clone, base_branch=None, write_branch=None, commits=commits, author=AUTHOR, max_attempts=8
            )
        results.put(
            {
                "name": name,
                "commits": dict(result.commits),
                "attempts": result.attempts,
                "pushed": result.pushed,
            }
        )
    except BaseException:
        results.put({"name": name, "error": traceback.format_exc()})
