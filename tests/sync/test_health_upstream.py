"""Argo CD's own health fixtures, each a case: status, and the message wherever Argo asserts one.

The tables (``health_data/*.yaml``) are transcribed from argo-cd's ``gitops-engine/pkg/health``
(``health_test.go``) and ``resource_customizations/*/health_test.yaml`` by
``health_data/transcribe.py``; Ferry computes nothing into them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ferry.sync.health import resource_health

DATA = Path(__file__).parent / "health_data"


def _cases(name: str) -> list[Any]:
    table = yaml.safe_load((DATA / name).read_text())
    return [pytest.param(c["object"], c["expect"], id=c["fixture"]) for c in table["cases"]]


@pytest.mark.parametrize(("obj", "expect"), _cases("gitops-engine.yaml"))
def test_gitops_engine_fixture(obj: dict[str, Any], expect: dict[str, str] | None) -> None:
    health = resource_health(obj)
    if expect is None:
        assert health is None, "gitops-engine assesses no health for this kind"
        return
    assert health is not None
    assert health.status.value == expect["status"], health.message
    if "message" in expect:
        assert health.message == expect["message"]


@pytest.mark.parametrize(("obj", "expect"), _cases("argo-cd.yaml"))
def test_argo_cd_customization_fixture(obj: dict[str, Any], expect: dict[str, str]) -> None:
    health = resource_health(obj)
    assert health is not None
    assert (health.status.value, health.message) == (expect["status"], expect["message"])
