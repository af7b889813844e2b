"""YAML a deploy repo (or an Application) may hold to hurt the worker: alias bombs, deep nesting.

Findings 5 and 9 of issue 10: a 766-byte ``.argocd-source`` file took 25 s and 2.4 GB
through ``safe_load`` and the merge patch, and a 40 KB file of nested lists in
``applications/`` raised ``RecursionError`` (no ``YAMLError``), so ``ferry update`` died
with a traceback and processed no application at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry.argocd.application import ApplicationSource, load_applications
from ferry.argocd.source import merge_overrides
from ferry.config import load_config
from ferry.errors import ConfigError
from ferry.writeback import argocd_source, helmvalues, kustomization
from tests.argocd.test_application import GOOD


def alias_bomb(levels: int, width: int = 9, *, key: str = "lol") -> str:
    """``levels`` anchors, each a list of ``width`` aliases of the one before: width**levels leaves."""
    lines = [f'{key}0: &{key}0 ["x"]']
    for level in range(1, levels + 1):
        refs = ", ".join([f"*{key}{level - 1}"] * width)
        lines.append(f"{key}{level}: &{key}{level} [{refs}]")
    return "\n".join(lines) + "\n"


def nested(depth: int) -> str:
    """A flow sequence nested ``depth`` levels deep: ``[[[…]]]``."""
    return "[" * depth + "]" * depth + "\n"


SOURCE = ApplicationSource.model_validate({"repoURL": "file:///deploy.git", "path": "app", "helm": {}})


def test_an_alias_in_an_override_file_is_refused_with_the_file_name() -> None:
    # 9**5 = 59049 leaves: cheap enough to watch main expand it, and no override file needs one.
    bomb = "helm:\n  valuesObject:\n" + "".join(f"    {line}\n" for line in alias_bomb(5).splitlines())
    with pytest.raises(ConfigError, match="aliases are not allowed") as caught:
        merge_overrides(SOURCE, [("app/.argocd-source-a.yaml", bomb.encode())])
    assert caught.value.source == "app/.argocd-source-a.yaml"


def test_the_write_back_reader_refuses_an_alias_in_the_override_file() -> None:
    text = b"helm:\n  parameters:\n  - &p {name: image.tag, value: v1, forcestring: true}\n  - *p\n"
    with pytest.raises(ConfigError, match="aliases are not allowed") as caught:
        argocd_source.read_helm_parameters(text, source="app/.argocd-source-a.yaml")
    assert caught.value.source == "app/.argocd-source-a.yaml"


@pytest.mark.parametrize(
    ("read", "name"),
    [
        (lambda text, source: helmvalues.get_helm_value(text, "image.tag", source=source), "values.yaml"),
        (lambda text, source: kustomization.read_kustomize_images(text, source=source), "kustomization.yaml"),
    ],
    ids=["helm values file", "kustomization"],
)
def test_deep_nesting_in_a_repo_file_is_a_config_error(read: object, name: str) -> None:
    text = ("a: " + nested(5000)).encode()
    with pytest.raises(ConfigError, match="nested deeper") as caught:
        read(text, name)  # type: ignore[operator]
    assert caught.value.source == name


def test_an_alias_bomb_in_an_application_is_refused_and_the_others_load(tmp_path: Path) -> None:
    # 9**7 = 4.8 million leaves once expanded, which is what merge patch and JSON dumps do.
    bomb = GOOD.replace("name: app-helm-dev", "name: bomb") + "".join(
        f"  {line}\n" for line in ("x-bomb:", *("  " + b for b in alias_bomb(7).splitlines()))
    )
    (tmp_path / "a-bomb.yaml").write_text(bomb)
    (tmp_path / "b-good.yaml").write_text(GOOD)
    apps, errors = load_applications(tmp_path)
    assert [a.name for a in apps] == ["app-helm-dev"]
    assert [e.source for e in errors] == [str(tmp_path / "a-bomb.yaml")]
    assert "expands to more than" in str(errors[0])


def test_a_deeply_nested_application_file_gets_its_own_error(tmp_path: Path) -> None:
    (tmp_path / "a-deep.yaml").write_text(nested(20_000))  # 40 KB
    (tmp_path / "b-good.yaml").write_text(GOOD)
    apps, errors = load_applications(tmp_path)
    assert [a.name for a in apps] == ["app-helm-dev"]
    assert [e.source for e in errors] == [str(tmp_path / "a-deep.yaml")]
    assert "nested deeper than" in str(errors[0])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe not utf-8", "not UTF-8"),
        (nested(20_000).encode(), "nested deeper"),
    ],
    ids=["not UTF-8", "deeply nested"],
)
def test_a_hostile_ferry_yaml_is_a_config_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "ferry.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(path)
    assert caught.value.source == str(path)
