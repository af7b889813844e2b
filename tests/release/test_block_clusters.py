"""Clusters given as prefect-kubernetes ``KubernetesClusterConfig`` blocks, through every stage's flow.

``ferry.yaml`` may name a cluster by ``block:`` instead of a kubeconfig. Each flow must
then load that block: the image-update flow to read the apps' holds, ``auto-sync``, the
``release`` flow's gates and syncs, and the ``rollback`` flow. None of these clusters has
a kubeconfig in the config, so a flow wired without the cluster loader cannot reach them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ferry.devenv.registry import RunningRegistry
from ferry.release.holds import get_hold
from ferry.sandbox.cluster import Sandbox
from flows.image_update import image_update
from flows.release import release
from flows.rollback import rollback
from flows.sync import auto_sync
from tests.release.world import NEW_BUILD, Background, answer, build_world, paused_run

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def test_release_and_rollback_flows_reach_clusters_given_as_kubernetes_cluster_config_blocks(
    tmp_path: Path, registry: RunningRegistry, sandbox: Sandbox, sandbox_tools: dict, prefect_harness: str
) -> None:
    world = build_world(tmp_path, registry, sandbox, environments=("dev", "staging"), cluster_blocks=True)
    clusters = yaml.safe_load(world.config.read_text())["clusters"]
    assert all("block" in c and "kubeconfig" not in c for c in clusters), clusters
    old, new = f"{world.image()}:v1.0", f"{world.image()}:v3-5a7147"

    # The image-update flow reads each app's hold on its (block) cluster before writing back.
    world.push("v3-5a7147", NEW_BUILD)
    updated = image_update(config=str(world.config), return_state=True)
    assert updated.is_completed(), updated.message
    assert [r["status"] for r in updated.result()] == ["updated", "updated"]
    synced = auto_sync(config=str(world.config), cluster="dev", wait_timeout=90, return_state=True)
    assert synced.is_completed(), synced.message
    assert world.image_of("dev") == new

    running = Background(lambda: release(app=world.app("dev"), config=str(world.config), return_state=True))
    run = paused_run(world.app("dev"), "verified-dev-*")
    answer(run, True)
    paused_run(world.app("dev"), "sync-staging-*")
    answer(run, True, "bob")
    released = running.result()
    assert released.is_completed(), released.message
    assert world.image_of("staging") == new

    rolled = rollback(app=world.app("staging"), config=str(world.config), return_state=True)
    assert rolled.is_completed(), rolled.message
    assert world.image_of("staging") == old
    with world.engine() as engine:
        hold = get_hold(engine, world.app("staging"))
    assert hold is not None and new in hold.tags
