"""Waves in ``releases:``: what the schema refuses, and which Applications each wave resolves to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

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
        ({"production": {"app": "a", "waves": [{"apps": ["b"]}]}}, r"one of `app`, `waves` and `appl"),
        (
            {"production": {"waves": [{"apps": ["a"], "auto_approve": True}]}},
            r"the first wave has no earlier",
        ),
        ({"production": {"waves": [{"name": "x"}]}}, r"waves\.0: .*needs `apps`, `labels` or `clusters`"),
        ({"dev": {"waves": [{"apps": ["a"]}]}}, r"dev is one Application"),
        ({"production": {}}, r"environment\(s\) \['production'\] name no `app`, `waves` or `applicationset`"),
        (
            {"production": {"waves": [{"apps": ["a"], "max_parallel": 0}]}},
            r"max_parallel: .*greater than or equal to 1",
        ),
        (
            {"production": {"waves": [{"clusters": ["prod-a"]}]}},
            r"waves of \['production'\] select by `labels` or `clusters`.*set `selector`",
        ),
    ],
    ids=["both", "first-auto", "selects-nothing", "dev", "empty-env", "parallel", "no-selector"],
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


ROLLING = """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: echo-regions}
spec:
  generators:
    - list:
        elements:
          - {cluster: prod-a, region: cn-hangzhou, wave: "1"}
          - {cluster: prod-b, region: cn-beijing, wave: "2"}
          - {cluster: prod-c, region: cn-shanghai, wave: "2"}
          - {cluster: prod-d, region: us-east, wave: "9"}
  strategy:
    type: RollingSync
    rollingSync:
      steps:
        - matchExpressions: [{key: ferry.io/wave, operator: In, values: ["1"]}]
        - matchExpressions: [{key: ferry.io/wave, operator: In, values: ["2"]}]
          maxUpdate: 50%
  template:
    metadata:
      name: 'echo-{{region}}'
      labels: {ferry.io/wave: '{{wave}}', ferry.io/region: '{{region}}'}
    spec:
      project: default
      source: {repoURL: 'file:///deploy.git', path: chart, targetRevision: main}
      destination: {name: '{{cluster}}', namespace: echo}
"""


def test_a_rolling_sync_applicationset_is_an_environments_waves_with_its_max_update(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from ferry.config import load_config
    from ferry.release.pipeline import resolve
    from ferry.sync.engine import SyncEngine

    (tmp_path / "applications").mkdir()
    (tmp_path / "applications" / "appset.yaml").write_text(ROLLING)
    dev = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "echo-dev"}}
    dev["spec"] = {
        "source": {"repoURL": "file:///deploy.git", "path": "chart"},
        "destination": {"name": "dev"},
    }
    (tmp_path / "applications" / "dev.yaml").write_text(yaml.safe_dump(dev))
    clusters = [
        {"name": n, "server": f"https://{n}.example"} for n in ("dev", "prod-a", "prod-b", "prod-c", "prod-d")
    ]
    release = {
        "name": "echo",
        "environments": {"dev": {"app": "echo-dev"}, "production": {"applicationset": "echo-regions"}},
    }
    (tmp_path / "ferry.yaml").write_text(
        yaml.safe_dump({"applications": "applications", "clusters": clusters, "releases": [release]})
    )
    config = load_config(tmp_path / "ferry.yaml")
    with SyncEngine(config) as engine:
        resolved = resolve(config, engine, config.releases[0])
    waves = resolved.waves["production"]
    assert [(w.label, w.apps, w.config.max_parallel) for w in waves] == [
        ("wave 1 (echo-regions step 1: prod-a)", ("echo-cn-hangzhou",), 1),
        ("wave 2 (echo-regions step 2: prod-b, prod-c)", ("echo-cn-beijing", "echo-cn-shanghai"), 1),
    ]
    assert "['echo-us-east'] in no RollingSync step" in caplog.text
    assert resolved.members()["echo-cn-shanghai"] == "production"


def test_resolving_a_release_reads_the_applications_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At hundreds of apps each lookup by name re-reading the directory made resolve quadratic."""
    from ferry.config import load_config
    from ferry.release.pipeline import resolve
    from ferry.sync import engine as engine_module
    from ferry.sync.engine import SyncEngine

    (tmp_path / "applications").mkdir()
    names = {"echo-dev": "dev", "echo-hz": "prod-a", "echo-bj": "prod-b", "echo-sh": "prod-c"}
    for name, cluster in names.items():
        doc = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": name}}
        doc["spec"] = {
            "source": {"repoURL": "file:///deploy.git", "path": "chart"},
            "destination": {"name": cluster},
        }
        (tmp_path / "applications" / f"{name}.yaml").write_text(yaml.safe_dump(doc))
    release = {
        "name": "echo",
        "environments": {
            "dev": {"app": "echo-dev"},
            "production": {"waves": [{"apps": ["echo-hz"]}, {"apps": ["echo-bj", "echo-sh"]}]},
        },
    }
    clusters = [{"name": n, "server": f"https://{n}.example"} for n in ("dev", "prod-a", "prod-b", "prod-c")]
    (tmp_path / "ferry.yaml").write_text(
        yaml.safe_dump({"applications": "applications", "clusters": clusters, "releases": [release]})
    )
    reads: list[int] = []
    real = engine_module.load_config_applications

    def counted(config: Any) -> Any:
        reads.append(1)
        return real(config)

    monkeypatch.setattr(engine_module, "load_config_applications", counted)
    config = load_config(tmp_path / "ferry.yaml")
    with SyncEngine(config) as engine:
        resolved = resolve(config, engine, config.releases[0])
    assert [w.apps for w in resolved.waves["production"]] == [("echo-hz",), ("echo-bj", "echo-sh")]
    assert resolved.clusters == {
        "echo-dev": "dev",
        "echo-hz": "prod-a",
        "echo-bj": "prod-b",
        "echo-sh": "prod-c",
    }
    assert len(reads) == 1
