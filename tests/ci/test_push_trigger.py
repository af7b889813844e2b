"""A registry push notification starts an ``image-updater`` run, on the deployed system.

Real pieces only: Distribution's ``notifications.endpoints`` → ``ferry receive`` (bearer token) →
``ferry.image.pushed`` → the trigger ``prefect.yaml`` declares → a run of the deployment, created
by its automation and picked up by the worker. The push goes to a repository no Application
uses, so the run finds nothing to write back. Latency figures are in bench/RESULTS.md.
"""

from __future__ import annotations

import secrets
import time

import pytest

from ferry.devenv.oci import OciPusher
from ferry.devenv.prefect_api import parse_time
from ferry.devenv.system import System

# The session's deployed system takes minutes to come up on a loaded machine (the first test that
# asks for it pays), and every gate of a release is a new Python process.
pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(1800)]


def test_a_registry_push_starts_an_image_updater_run_through_its_trigger(deployed_system: System) -> None:
    system = deployed_system
    tag = f"v9-{secrets.token_hex(3)}"
    with OciPusher(system.registry_url, auth=system.registry_auth) as pusher:
        pusher.push_image("cidemo/not-deployed", tag, created=None)
    pushed_at = time.time()

    def triggered(run: dict[str, object]) -> bool:
        created_by = run.get("created_by") or {}
        created = parse_time(str(run["created"])) or 0
        return (
            isinstance(created_by, dict)
            and created_by.get("type") == "AUTOMATION"
            and created >= pushed_at - 1
        )

    run = system.wait_for_run(
        "image-updater", triggered, after=pushed_at - 1, timeout=300, what=f"an image-updater run for {tag}"
    )
    with system.api() as api:
        done = api.wait_final(str(run["id"]), 300)
    assert done["state_type"] == "COMPLETED", done["state"]
    assert done["name"] == "image-update: nothing new"
