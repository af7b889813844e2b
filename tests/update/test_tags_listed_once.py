"""A cycle lists an image's tags once, however many Applications name the image (issue 14).

The registry is the real one; a counting proxy in front of it (the ``api_url`` of
``ferry.yaml``) records every request, so what is counted is what went over the wire.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from ferry.config import load_config
from ferry.devenv.scale import push_tags, semver_tag, write_scale
from ferry.ports import NO_PORTS
from ferry.update.outcomes import UpdateStatus
from tests.fixtures.registry import RunningRegistry
from tests.registry.servers import LoopbackProxy

pytestmark = pytest.mark.registry

APPS = 300
TAGS = 5  # far below one page, so one listing is one request


def tag_lists(proxy: LoopbackProxy, since: int) -> list[str]:
    return [path for method, path, _ in proxy.seen[since:] if method == "GET" and "/tags/list" in path]


def test_one_tags_list_per_cycle_for_300_apps_on_one_image(tmp_path: Path, registry: RunningRegistry) -> None:
    repository = f"ferry-test/scale-{uuid.uuid4().hex[:12]}"
    tags = [semver_tag(i) for i in range(TAGS)]
    push_tags(registry.url, tags, repository)
    with LoopbackProxy(registry.url) as proxy:
        layout = write_scale(
            tmp_path,
            registry_host=registry.host,
            registry_api=proxy.url,
            apps=APPS,
            current_tag=tags[-1],
            repository=repository,
        )
        # Two cycles, each with its own updater as each `ferry update` has: the cold one
        # (clone, empty cache) and the warm one must each list the tags exactly once.
        for cycle in ("cold", "warm"):
            since = len(proxy.seen)
            report = NO_PORTS.update_cycle(load_config(layout.config))
            statuses = {o.status for o in report.outcomes}
            assert len(report.outcomes) == APPS, cycle
            assert statuses == {UpdateStatus.UNCHANGED}, [o.error for o in report.outcomes if o.error][:3]
            listed = tag_lists(proxy, since)
            assert listed == [f"/v2/{repository}/tags/list"], f"{cycle} cycle: {len(listed)} tags/list"
