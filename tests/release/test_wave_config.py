"""Waves in ``releases:``: what the schema refuses, and which Applications each wave resolves to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ferry.argocd.application import Application, parse_application
from ferry.config import ClusterConfig, parse_config
from ferry.errors import ConfigError
from ferry.release.pipeline import resolve_waves
from ferry.schema.releases import REGION_LABEL, WAVE_LABEL, WaveConfig
from ferry.sync.target import AppTarget


def _app(name: str, cluster: str, **labels: str) -> Application:
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "source": {"repoURL": "file:///deploy.git", "path": "chart", "targetRevision": "main"},
            "destination": {"name": cluster, "namespace": "echo"},
        },
    }
    return parse_application(doc, source="apps.yaml")


class Engine:
    """What resolving waves reads: Applications by name and their clusters."""

    def __init__(self, apps: list[Application]) -> None:
        self.apps = {a.name: a for a in apps}

    def application(self, app: Any) -> Application:
        return app if isinstance(app, Application) else self.apps[app]

    def target(self, app: Any) -> AppTarget:
        found = self.application(app)
        return AppTarget(found, ClusterConfig(name=found.spec.destination.name), "echo")


FLEET = [
    _app("echo-hz", "prod-a", **{REGION_LABEL: "cn-hangzhou", WAVE_LABEL: "1"}),
    _app("echo-bj", "prod-b", **{REGION_LABEL: "cn-beijing", WAVE_LABEL: "2"}),
    _app("echo-sh", "prod-c", **{REGION_LABEL: "cn-shanghai", WAVE_LABEL: "2"}),
]


def _waves(
    *configs: dict[str, Any], labelled: list[Application] = FLEET
) -> list[tuple[str, tuple[str, ...]]]:
    clusters: dict[str, str] = {}
    waves = resolve_waves(
        "echo", "production", tuple(WaveConfig(**c) for c in configs), Engine(FLEET), labelled, clusters
    )  # type: ignore[arg-type]
    return [(w.label, w.apps) for w in waves]


def test_waves_select_by_label_by_cluster_or_by_name_in_the_fleets_order() -> None:
    assert _waves({"labels": {WAVE_LABEL: "1"}}, {"clusters": ["prod-c", "prod-b"]}) == [
        ("wave 1 (prod-a)", ("echo-hz",)),
        ("wave 2 (prod-b, prod-c)", ("echo-bj", "echo-sh")),
    ]
    listed = _waves(
        {"apps": ["echo-sh"], "name": "shanghai first"}, {"apps": ["echo-hz", "echo-bj"]}, labelled=[]
    )
    assert listed == [
        ("wave 1 (shanghai first)", ("echo-sh",)),
        ("wave 2 (prod-a, prod-b)", ("echo-hz", "echo-bj")),
    ]


@pytest.mark.parametrize(
    ("configs", "message"),
    [
        (
            ({"labels": {WAVE_LABEL: "1"}}, {"labels": {REGION_LABEL: "cn-hangzhou"}}),
            r"echo-hz is in wave 1 and wave 2",
        ),
        (
            ({"labels": {WAVE_LABEL: "1"}}, {"labels": {WAVE_LABEL: "3"}}),
            r"waves\.1: the wave selects no Application",
        ),
        (({"labels": {WAVE_LABEL: "1"}},), r"\['echo-bj', 'echo-sh'\] of production are in no wave"),
    ],
    ids=["twice", "empty", "left-out"],
)
def test_a_wave_set_that_loses_or_doubles_an_app_is_refused(
    configs: tuple[dict[str, Any], ...], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _waves(*configs)


def _config(environments: dict[str, Any]) -> Any:
    release = {"name": "echo", "environments": environments}
    return parse_config({"releases": [release]}, source="ferry.yaml", base_dir=Path("."))


@pytest.mark.parametrize(
    ("environments", "message"),
    [
        ({"production": {"app": "a", "waves": [{"apps": ["b"]}]}}, r"`app` or `waves`, not both"),
        (
            {"production": {"waves": [{"apps": ["a"], "auto_approve": True}]}},
            r"the first wave has no earlier",
        ),
        ({"production": {"waves": [{"name": "x"}]}}, r"waves\.0: .*needs `apps`, `labels` or `clusters`"),
        ({"dev": {"waves": [{"apps": ["a"]}]}}, r"dev is one Application"),
        ({"production": {}}, r"environment\(s\) \['production'\] name no `app` or `waves`"),
        (
            {"production": {"waves": [{"apps": ["a"], "max_parallel": 0}]}},
            r"max_parallel: .*greater than or equal to 1",
        ),
    ],
    ids=["both", "first-auto", "selects-nothing", "dev", "empty-env", "parallel"],
)
def test_bad_waves_are_refused_naming_the_key(environments: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _config(environments)


def test_waves_read_with_go_durations_and_defaults() -> None:
    env = _config(
        {"production": {"waves": [{"apps": ["a"]}, {"apps": ["b"], "soak": "10m", "auto_approve": True}]}}
    )
    waves = env.releases[0].environments["production"].waves
    assert (waves[0].max_parallel, waves[1].soak, waves[1].auto_approve) == (4, 600.0, True)
