"""Apps writing the same values into one chart share one effect check; a "no effect" never is shared.

The keys are checked as a table over in-memory repos; the cycle is checked on the real
registry, git and helm, counting the renders the effect check asks for.
"""

from __future__ import annotations

import copy
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

import ferry.update.effect as effect
from ferry.argocd.annotations import TargetKind, parse_updater_settings
from ferry.argocd.application import Application, parse_application
from ferry.argocd.source import SourceType
from ferry.config import CommitConfig, load_config
from ferry.devenv.scale import CHART, _application, push_tags, semver_tag, write_scale
from ferry.devenv.seed import UPDATER
from ferry.ports import NO_PORTS
from ferry.update.effect import EffectCheck
from ferry.update.effect_groups import EffectKey, EffectMemo, effect_key
from ferry.update.message import ImageChange
from ferry.update.outcomes import UpdateStatus
from tests.fixtures.registry import RunningRegistry

IMAGE = "registry.local/scale/echo"
REPO = "file:///deploy.git"
SHA = "a" * 40


class Files:
    """A repo snapshot as a dict: what the key reads of the override and value files."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def read(self, path: str) -> bytes | None:
        text = self.files.get(path)
        return None if text is None else text.encode()


def _app(index: int, change: Any = None) -> Application:
    document = _application(index, IMAGE, REPO)
    if change is not None:
        document = copy.deepcopy(document)
        change(document)
    return parse_application(document, source="apps.yaml")


def _key(app: Application, files: dict[str, str], target_kind: TargetKind = TargetKind.ARGOCD_SOURCE) -> Any:
    settings = parse_updater_settings(app)
    assert settings is not None
    target = f"{CHART}/.argocd-source-{app.name}.yaml"
    if target_kind is TargetKind.HELM_VALUES:
        target = f"{CHART}/values-{app.name}.yaml"
    return effect_key(app, Files(files), SHA, SourceType.HELM, target_kind, target, set(settings.images))


def _values(apps: range, tag: str = "v1.0.0") -> dict[str, str]:
    return {f"{CHART}/values-app-{i:04d}.yaml": yaml.safe_dump({"image": {"tag": tag}}) for i in apps}


def _set(path: list[str], value: Any) -> Any:
    def change(document: dict[str, Any]) -> None:
        node = document
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return change


FILES = _values(range(3))


def test_apps_that_differ_only_in_name_namespace_and_own_values_file_share_a_key() -> None:
    keys = {_key(_app(i), FILES) for i in range(3)}
    assert len(keys) == 1
    assert isinstance(next(iter(keys)), EffectKey)


@pytest.mark.parametrize(
    ("why", "change", "files"),
    [
        (
            "the annotations write another value",
            _set(["metadata", "annotations", UPDATER + "echo.helm.image-tag"], "image.other"),
            FILES,
        ),
        (
            "a spec parameter sets a written value",
            _set(["spec", "source", "helm", "parameters"], [{"name": "image.tag", "value": "pinned"}]),
            FILES,
        ),
        ("another chart path", _set(["spec", "source", "path"], "charts/other"), FILES),
        (
            "its own values file does not set the tag",
            None,
            {**FILES, f"{CHART}/values-app-0001.yaml": "replicas: 2\n"},
        ),
        (
            "a second values file sets the tag after its own",
            _set(["spec", "source", "helm", "valueFiles"], ["values-app-0001.yaml", "values-pin.yaml"]),
            {**FILES, f"{CHART}/values-pin.yaml": "image:\n  tag: pinned\n"},
        ),
        (
            "inline values",
            _set(["spec", "source", "helm", "values"], "image:\n  tag: pinned\n"),
            FILES,
        ),
    ],
)
def test_what_can_decide_the_effect_splits_the_group(why: str, change: Any, files: dict[str, str]) -> None:
    assert _key(_app(1, change), files) != _key(_app(0), files), why


def test_helm_apps_on_other_images_share_a_key_kustomize_ones_do_not() -> None:
    other = parse_application(_application(1, "registry.local/fleet/other", REPO), source="apps.yaml")
    assert _key(other, FILES) == _key(_app(0), FILES)
    keys = set()
    for app in (other, _app(0)):
        settings = parse_updater_settings(app)
        assert settings is not None
        target = f"{CHART}/.argocd-source-{app.name}.yaml"
        images = set(settings.images)
        keys.add(
            effect_key(app, Files(FILES), SHA, SourceType.KUSTOMIZE, TargetKind.ARGOCD_SOURCE, target, images)
        )
    assert len(keys) == 2  # kustomize edit set image matches by the image's name


def test_a_helm_values_target_is_grouped_by_its_role_not_its_name() -> None:
    assert _key(_app(0), FILES, TargetKind.HELM_VALUES) == _key(_app(1), FILES, TargetKind.HELM_VALUES)
    other = _set(["spec", "source", "helm", "valueFiles"], ["values-shared.yaml"])
    files = {**FILES, f"{CHART}/values-shared.yaml": "image:\n  tag: v1\n"}
    # Writing a values file the app does not read is the mistake the check exists to catch.
    assert _key(_app(1, other), files, TargetKind.HELM_VALUES) != _key(_app(0), files, TargetKind.HELM_VALUES)


def test_a_broken_override_file_is_checked_alone() -> None:
    files = {**FILES, f"{CHART}/.argocd-source-app-0000.yaml": "- not a mapping\n"}
    assert _key(_app(0), files) is None


CHANGE = ImageChange("echo", IMAGE, "v1.0.0", "v1.1.0")
KEY = EffectKey(REPO, SHA, SourceType.HELM, CHART, TargetKind.ARGOCD_SOURCE, (), "{}")


@pytest.mark.parametrize(
    ("first", "shared"),
    [
        (EffectCheck(), True),
        (EffectCheck(without_effect=(CHANGE,)), False),
        (EffectCheck(unavailable="helm failed"), False),
    ],
    ids=["with effect: shared", "without effect: each member checks", "unavailable: each member checks"],
)
def test_only_an_answer_of_every_change_taking_effect_is_shared(first: EffectCheck, shared: bool) -> None:
    memo = EffectMemo()
    runs: list[str] = []

    def run(answer: EffectCheck) -> Any:
        return lambda: runs.append("render") or answer

    assert memo.check(KEY, run(first)) == first
    second = memo.check(KEY, run(EffectCheck(without_effect=(CHANGE,))))
    assert len(runs) == (1 if shared else 2)
    assert second == (EffectCheck() if shared else EffectCheck(without_effect=(CHANGE,)))
    memo.clear()
    memo.check(KEY, run(EffectCheck()))
    memo.check(None, run(EffectCheck()))  # no key: always its own check
    assert len(runs) == (1 if shared else 2) + 2


def test_skip_without_effect_needs_a_check() -> None:
    with pytest.raises(ValueError, match="effect_check"):
        CommitConfig(skip_without_effect=True, effect_check="off")


APPS = 12


def _unread_tag(document: dict[str, Any]) -> None:
    # This app's annotations write a value the chart never reads: its change has no effect.
    document["metadata"]["annotations"][UPDATER + "echo.helm.image-tag"] = "image.unread"


@pytest.mark.registry
# app-0005 renders once more to find its current tag (no value in the repo names it), then
# twice for its own check; the others render twice for the group, or twice each.
@pytest.mark.parametrize(("mode", "renders"), [("grouped", 2 + 3), ("exact", 2 * APPS + 1)])
def test_a_cycle_renders_once_per_group_and_each_no_effect_alone(
    tmp_path: Path,
    registry: RunningRegistry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    mode: str,
    renders: int,
) -> None:
    repository = f"ferry-test/effect-{uuid.uuid4().hex[:12]}"
    push_tags(registry.url, [semver_tag(0)], repository)
    layout = write_scale(
        tmp_path,
        registry_host=registry.host,
        registry_api=registry.url,
        apps=APPS,
        current_tag=semver_tag(0),
        repository=repository,
    )
    apps_file = tmp_path / "applications" / "scale.yaml"
    documents = list(yaml.safe_load_all(apps_file.read_text()))
    _unread_tag(documents[5])
    apps_file.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    config = yaml.safe_load(layout.config.read_text())
    config["commit"] = {"effect_check": mode}
    layout.config.write_text(yaml.safe_dump(config))
    push_tags(registry.url, [semver_tag(1)], repository)

    calls: list[str] = []
    real = effect.render_application

    def counted(app: Application, *args: Any, **kwargs: Any) -> Any:
        calls.append(app.name)
        return real(app, *args, **kwargs)

    monkeypatch.setattr(effect, "render_application", counted)
    with caplog.at_level(logging.INFO, logger="ferry.updater"):
        report = NO_PORTS.update_cycle(load_config(layout.config))
    # Grouped: one of the 11 alike apps renders, the other 10 take its answer (app-0005 is alone).
    answered = [r.getMessage() for r in caplog.records if "answered by their group" in r.getMessage()]
    assert answered == (
        [f"effect check: {APPS - 2} application(s) answered by their group's render"]
        if mode == "grouped"
        else []
    )
    assert [o.status for o in report.outcomes] == [UpdateStatus.UPDATED] * APPS
    flagged = [o.app for o in report.outcomes if any(c.renders_unchanged for c in o.changes)]
    assert flagged == ["app-0005"]
    assert len(calls) == renders, calls
