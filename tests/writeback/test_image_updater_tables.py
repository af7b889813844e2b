"""Image Updater v0.18's own helm-values write-back cases, byte for byte (after TrimSpace, as upstream).

``data/image_updater_helmvalues.yaml`` is transcribed from its ``pkg/argocd/update_test.go``
(``Test_SetHelmValue``) by ``upstream_transcribe.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ferry.errors import ConfigError
from ferry.update.edits import short_forms
from ferry.writeback.helmvalues import set_helm_values

CASES = yaml.safe_load((Path(__file__).parent / "data" / "image_updater_helmvalues.yaml").read_text())


@pytest.mark.parametrize("case", CASES["Test_SetHelmValue"], ids=lambda c: c["name"])
def test_set_helm_value(case: dict[str, Any]) -> None:
    existing = case["input"].encode()
    if case.get("error"):
        with pytest.raises(ConfigError):
            set_helm_values(existing, [(case["key"], case["value"])], source="values.yaml")
        return
    written = set_helm_values(existing, [(case["key"], case["value"])], source="values.yaml")
    assert written.decode().strip() == case["expected"].strip()


@pytest.mark.parametrize(
    ("original", "new_name", "written_name"),
    [
        ("bitnami/nginx", "docker.io/bitnami/nginx", "bitnami/nginx"),
        ("docker.io/bitnami/nginx", "docker.io/bitnami/nginx", "docker.io/bitnami/nginx"),
        ("bitnami/nginx", "bitnami/nginx", "bitnami/nginx"),
    ],
    ids=[
        "short form in the file, long form new: short form kept",
        "long form in the file: long form",
        "short form in both: short form",
    ],
)
def test_short_form_image_names(original: str, new_name: str, written_name: str) -> None:
    # Test_MarshalParamsOverride's short/long form cases: the tag goes first, then the name.
    existing = f"\nimage:\n  name: {original}\n  tag: v0.0.0\nreplicas: 1\n".encode()
    assignments = short_forms(
        existing, [("image.tag", "v1.0.0"), ("image.name", new_name)], {"image.name"}, "values.yaml"
    )
    written = set_helm_values(existing, assignments, source="values.yaml")
    assert written.decode().strip() == f"image:\n  name: {written_name}\n  tag: v1.0.0\nreplicas: 1"
