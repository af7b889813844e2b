"""The seed scenario with Production as three regions on three clusters, released in waves.

Dev is the session sandbox's ``dev``; each region's Application deploys the seed
chart (``values-production.yaml``) to its own cluster of ``wave_sandbox`` and is
labelled ``ferry.io/region``. The waves select by cluster, by label and by name,
so all three ways are exercised.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ferry.devenv.registry import RunningRegistry
from ferry.devenv.seed import application, create_deploy_repo
from ferry.sandbox.cluster import Sandbox
from ferry.schema.releases import ENVIRONMENT_LABEL, REGION_LABEL, SERVICE_LABEL
from tests.release.world import OLD_BUILD, ReleaseWorld, write_ferry_yaml

REGIONS = {"prod-a": "cn-hangzhou", "prod-b": "cn-beijing", "prod-c": "cn-shanghai"}


@dataclass
class WaveWorld:
    world: ReleaseWorld

    def region_app(self, cluster: str) -> str:
        return f"app-helm-{REGIONS[cluster]}-{self.world.sfx}"

    def deployment(self, cluster: str) -> dict[str, Any] | None:
        """The live ``echo-server`` Deployment of ``cluster``'s region."""
        app = self.region_app(cluster)
        with self.world.engine() as engine:
            live = engine.connect(app).get(
                "apps/v1", "Deployment", "echo-server", engine.target(app).namespace
            )
        return live

    def image(self, cluster: str) -> str:
        live = self.deployment(cluster)
        assert live is not None, cluster
        return str(live["spec"]["template"]["spec"]["containers"][0]["image"])

    def history(self, cluster: str) -> list[str]:
        with self.world.engine() as engine:
            return [entry.revision for entry in engine.history(self.region_app(cluster))]


def build_wave_world(
    root: Path,
    registry: RunningRegistry,
    sandbox: Sandbox,
    waves: Sandbox,
    *,
    canary: dict[str, Any] | None = None,
) -> WaveWorld:
    """Push v1.0, write the deploy repo, the four Applications and ferry.yaml, and sync v1.0 everywhere."""
    sfx = uuid.uuid4().hex[:6]
    prefix = f"{registry.host}/{sfx}"
    bare = root / "gitops-demo.git"
    url = create_deploy_repo(bare, prefix)
    dev: Any = application("dev", url, prefix, sandbox.cluster("dev").server)
    dev["metadata"]["name"], dev["spec"]["destination"]["namespace"] = f"app-helm-dev-{sfx}", f"app-dev-{sfx}"
    docs = [dev]
    for cluster, region in REGIONS.items():
        # Staging's values: plain Deployments (Production's render an Argo Rollout, and these clusters
        # run no Rollouts controller).
        doc: Any = application("staging", url, prefix, waves.cluster(cluster).server)
        doc["metadata"]["name"] = f"app-helm-{region}-{sfx}"
        labels = {SERVICE_LABEL: f"echo-{sfx}", ENVIRONMENT_LABEL: "production", REGION_LABEL: region}
        doc["metadata"]["labels"] = labels
        doc["spec"]["destination"]["namespace"] = f"app-{region}-{sfx}"
        docs.append(doc)
    (root / "applications").mkdir(parents=True, exist_ok=True)
    (root / "applications" / "echo-server.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    production = {
        "waves": [
            {"clusters": ["prod-a"]},
            {"labels": {REGION_LABEL: "cn-beijing"}},
            {"apps": [f"app-helm-cn-shanghai-{sfx}"], "name": "cn-shanghai"},
        ],
        **({"canary": canary} if canary else {}),
    }
    reach = [(sandbox, sandbox.cluster("dev")), *((waves, waves.cluster(c)) for c in REGIONS)]
    clusters = [
        {"name": c.name, "server": c.server, "kubeconfig": str(box.kubeconfig), "context": c.context}
        for box, c in reach
    ]
    release = {
        "name": f"echo-server-{sfx}",
        "selector": f"echo-{sfx}",
        "environments": {"dev": {"app": dev["metadata"]["name"]}, "production": production},
        "gate_timeout": 120,
    }
    write_ferry_yaml(root, registry, url, clusters, release)
    world = WaveWorld(ReleaseWorld(root, registry, sandbox, sfx, root / "ferry.yaml", bare))
    world.world.push("v1.0", OLD_BUILD)
    with world.world.engine() as engine:
        for doc in docs:
            engine.sync(doc["metadata"]["name"], wait_timeout=90)
    return world
