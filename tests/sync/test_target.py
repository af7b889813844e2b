"""The engine's values without a cluster: a target formats as its app, a status knows when it is ready."""

from __future__ import annotations

import pytest

from ferry.argocd.application import Application, parse_application
from ferry.config import ClusterConfig
from ferry.errors import ClusterUnavailable
from ferry.sync.model import Health, HealthStatus, SyncStatus
from ferry.sync.target import AppStatus, AppTarget, unknown_status


def app(name: str = "echo-dev") -> Application:
    return parse_application(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": name},
            "spec": {
                "source": {"repoURL": "file:///deploy.git", "path": "chart"},
                "destination": {"name": "dev", "namespace": "echo"},
                "syncPolicy": {"automated": {}},
            },
        },
        source="test",
    )


def test_a_target_formats_as_its_app_name() -> None:
    # Task run names and the per-run cache keys of the release tasks depend on it.
    target = AppTarget(app(), ClusterConfig(name="dev"), "echo")
    assert str(target) == "echo-dev" and f"wait for {target}" == "wait for echo-dev"
    assert target.name == "echo-dev" and target.source.path == "chart"


@pytest.mark.parametrize(
    ("sync", "health", "ready"),
    [
        (SyncStatus.SYNCED, HealthStatus.HEALTHY, True),
        (SyncStatus.SYNCED, HealthStatus.PROGRESSING, False),
        (SyncStatus.OUT_OF_SYNC, HealthStatus.HEALTHY, False),
        (SyncStatus.UNKNOWN, HealthStatus.UNKNOWN, False),
    ],
)
def test_ready_is_synced_and_healthy(sync: SyncStatus, health: HealthStatus, ready: bool) -> None:
    status = AppStatus("a", "dev", "ns", "abc", sync, Health(health), True, None)
    assert status.ready is ready


def test_an_unreadable_app_is_unknown_with_its_error() -> None:
    status = unknown_status(app(), ClusterUnavailable("cluster dev: connection refused"))
    assert (status.cluster, status.namespace, status.revision) == ("dev", "echo", "")
    assert status.sync is SyncStatus.UNKNOWN and status.health.status is HealthStatus.UNKNOWN
    assert "connection refused" in status.error and status.automated and not status.ready
