"""Held tags are one more tag filter of detection: a held ``name:tag`` is never picked."""

from __future__ import annotations

from typing import Any

from ferry.argocd.annotations import PREFIX, parse_updater_settings
from ferry.argocd.application import parse_application
from ferry.update.current import CurrentImage, SourceType
from ferry.update.detect import detect_image

IMAGE = "127.0.0.1:5000/cidemo/echo-server"


class Registry:
    """A registry pool (and its client) with one repository and its tags."""

    def __init__(self, tags: list[str]) -> None:
        self.tags = tags

    def client_for(self, image: Any) -> tuple[Any, str]:
        return self, "cidemo/echo-server"

    def list_tags(self, repository: str) -> list[str]:
        return list(self.tags)


def settings(strategy: str = "semver") -> Any:
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": "app",
            "annotations": {
                PREFIX + "image-list": f"echo={IMAGE}",
                PREFIX + "echo.update-strategy": strategy,
                PREFIX + "echo.helm.image-tag": "image.tag",
            },
        },
        "spec": {"source": {"repoURL": "file:///deploy.git", "path": "chart", "targetRevision": "main"}},
    }
    parsed = parse_updater_settings(parse_application(doc, source="apps.yaml"))
    assert parsed is not None
    return parsed.images[0]


def detect(held: frozenset[str]) -> str | None:
    registry: Any = Registry(["v1.0.0", "v2.0.0", "v3.0.0"])
    change = detect_image(
        registry, settings(), CurrentImage(IMAGE, "v1.0.0"), kind=SourceType.HELM, refresh=False, held=held
    )
    return None if change is None else change.new_tag


def test_the_newest_tag_wins_without_a_hold() -> None:
    assert detect(frozenset()) == "v3.0.0"


def test_a_held_tag_is_skipped_and_the_next_newest_wins() -> None:
    assert detect(frozenset({f"{IMAGE}:v3.0.0"})) == "v2.0.0"


def test_a_hold_on_another_image_changes_nothing() -> None:
    assert detect(frozenset({"127.0.0.1:5000/cidemo/other:v3.0.0", f"{IMAGE}-x:v3.0.0"})) == "v3.0.0"


def test_every_newer_tag_held_means_no_update() -> None:
    assert detect(frozenset({f"{IMAGE}:v3.0.0", f"{IMAGE}:v2.0.0"})) is None
