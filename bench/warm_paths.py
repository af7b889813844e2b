"""Wall time of the two "nothing to do" paths whose speed the tests used to bound.

* a warm ``ferry sandbox build``: every pinned binary is cached, nothing is built;
* a second CI detection: ``release-v3`` was built and pushed, so ``ls-remote`` plus one
  label lookup in the registry decide "up to date", without a clone or fetch.

Everything is real: the binary cache, a CNCF Distribution registry on loopback, the demo's
source repo (a bare repo over file://) and one buildah build.

    .venv/bin/python -m bench.warm_paths --rounds 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ferry.ci.cycle import BuildStatus, CiBuilder
from ferry.config import parse_config
from ferry.devenv.registry import start_registry
from ferry.devenv.source import build_rule, create_source_repo
from ferry.sandbox.build import ensure_binaries


def _timed(rounds: int, call: Callable[[], object]) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.monotonic()
        call()
        times.append(time.monotonic() - started)
    return times


def warm_sandbox_build(rounds: int) -> list[float]:
    def build() -> None:
        assert not any(outcome.built for outcome in ensure_binaries()), "a binary was missing"

    return _timed(rounds, build)


def up_to_date_detection(root: Path, rounds: int) -> list[float]:
    registry = start_registry(root / "registry")
    try:
        source = create_source_repo(root / "src" / "echo-server.git")
        source.release("v3")
        rule = build_rule(source.url, registry.host)
        config = parse_config(
            {"builds": [rule], "cache_dir": str(root / "cache"), "applications": "apps"},
            source=str(root / "ferry.yaml"),
            base_dir=root,
        )
        with CiBuilder(config) as ci:
            assert [o.status for o in ci.run().outcomes] == [BuildStatus.built]

        def detect() -> None:
            shutil.rmtree(root / "cache" / "ci-sources", ignore_errors=True)
            with CiBuilder(config) as ci:
                assert [o.status for o in ci.run().outcomes] == [BuildStatus.up_to_date]

        return _timed(rounds, detect)
    finally:
        registry.stop()


def _line(name: str, times: list[float]) -> str:
    return f"{name}: median {statistics.median(times):.3f}s, max {max(times):.3f}s ({len(times)} rounds)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print(_line("warm ferry sandbox build", warm_sandbox_build(args.rounds)))
    with tempfile.TemporaryDirectory(prefix="ferry-warm-") as tmp:
        print(_line("second CI detection (up to date)", up_to_date_detection(Path(tmp), args.rounds)))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
