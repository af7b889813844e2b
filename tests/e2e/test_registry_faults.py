"""Registry faults during a whole cycle: 503, 503, then 429 with Retry-After; the cycle still succeeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.e2e.seedenv import NEW_BUILD, build_seed
from tests.fixtures.registry import RunningRegistry
from tests.registry.servers import FaultInjectingProxy, Reply

pytestmark = pytest.mark.registry


def test_cycle_survives_503_503_429(tmp_path: Path, registry: RunningRegistry) -> None:
    seed = build_seed(tmp_path, registry)
    seed.remove_tag("v3-5a7147")
    seed.push("v3-5a7147", NEW_BUILD)
    script = [Reply(503), Reply(503), Reply(429, {"Retry-After": "1"})]
    with FaultInjectingProxy(registry.url, script, matches=lambda m, p: p.endswith("/tags/list")) as proxy:
        config = yaml.safe_load(seed.layout.config.read_text())
        config["registries"][0]["api_url"] = proxy.url
        seed.layout.config.write_text(yaml.safe_dump(config))
        result = seed.ferry("update", "--output", "json")

    assert result.returncode == 0, result.stderr
    assert {a["status"] for a in json.loads(result.stdout)["applications"]} == {"updated"}
    retries = [
        line for line in result.stderr.splitlines() if "logger=ferry.registry" in line and "retry" in line
    ]
    assert len(retries) == 3, result.stderr
    assert "answered 503; retry 1/4" in retries[0] and "answered 503; retry 2/4" in retries[1]
    assert "answered 429; retry 3/4 in 1.0s" in retries[2], "Retry-After: 1 must be honoured"
    assert [s for _, p, s in proxy.seen if p.endswith("/tags/list")][:4] == [503, 503, 429, 200]
