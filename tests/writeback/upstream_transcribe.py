"""Transcribe Image Updater v0.18's helm-values write-back cases into YAML (run by hand, not by pytest).

    python tests/writeback/upstream_transcribe.py GIT_DIR > tests/writeback/data/image_updater_helmvalues.yaml

Reads ``pkg/argocd/update_test.go`` at v0.18.0: every ``t.Run`` of ``Test_SetHelmValue``
becomes {name, input, key, value, expected} (or ``error: true``). Only those facts move.
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import yaml

REV = "v0.18.0"
PATH = "pkg/argocd/update_test.go"


def _block(source: str, name: str) -> str:
    start = source.index(f"func {name}(")
    end = source.find("\nfunc ", start + 1)
    return source[start : end if end > 0 else len(source)]


def set_helm_value_cases(source: str) -> list[dict[str, Any]]:
    cases = []
    for run in re.split(r'\n\tt\.Run\("', _block(source, "Test_SetHelmValue"))[1:]:
        name = run.split('"', 1)[0]
        case: dict[str, Any] = {
            "name": name,
            "input": re.findall(r"inputData :?= \[\]byte\(`(.*?)`\)", run, re.S)[0],
            "key": re.findall(r'key :?= "([^"]*)"', run)[0],
            "value": re.findall(r'value :?= "([^"]*)"', run)[0],
        }
        expected = re.findall(r"expected :?= `(.*?)`", run, re.S)
        if expected:
            case["expected"] = expected[0]
        else:
            case["error"] = True
        cases.append(case)
    return cases


def main() -> None:
    source = subprocess.run(
        ["git", f"--git-dir={sys.argv[1]}", "show", f"{REV}:{PATH}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    print(f"# Transcribed from argoproj-labs/argocd-image-updater {REV} {PATH} (Apache-2.0).")
    print("# Upstream compares strings.TrimSpace of expected and output.")
    table = {"Test_SetHelmValue": set_helm_value_cases(source)}
    print(yaml.safe_dump(table, sort_keys=False, width=200), end="")


if __name__ == "__main__":
    main()
