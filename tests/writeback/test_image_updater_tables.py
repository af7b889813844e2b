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
