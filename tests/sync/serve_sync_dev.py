"""Subprocess for test_sync_dev_trigger: serve ``auto_sync`` as ``sync-dev`` with prefect.yaml's trigger."""

from __future__ import annotations

import sys

from prefect import serve
from prefect.events import DeploymentEventTrigger

from flows.sync import auto_sync
from tests.sync.test_sync_dev_trigger import prefect_yaml_trigger

if __name__ == "__main__":
    config = sys.argv[1]
    trigger = DeploymentEventTrigger(**prefect_yaml_trigger("sync-dev"))
    deployment = auto_sync.to_deployment(
        name="sync-dev",
        parameters={"config": config, "cluster": "dev", "wait_timeout": 90},
        triggers=[trigger],
    )
    serve(deployment)
