"""A source repo holding a symlink out of itself fails its own build rule, and the other rules still run.

Issue 10, finding 10: ``git archive`` + ``tarfile``'s ``data`` filter refused the link with
``tarfile.AbsoluteLinkError``, which is no Ferry error: ``ferry build`` stopped there and
no later rule was built. Real git, real buildah, real registry.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ferry.ci.cycle import BuildStatus, CiBuilder
from ferry.config import parse_config
from ferry.devenv.registry import RunningRegistry
from ferry.devenv.source import build_rule, create_source_repo

pytestmark = pytest.mark.skipif(shutil.which("buildah") is None, reason="needs buildah")


@pytest.mark.parametrize("target", ["/etc/hostname", "../../../../outside"], ids=["absolute", "climbing out"])
def test_a_symlink_out_of_the_source_fails_only_its_rule(
    tmp_path: Path, ci_registry: RunningRegistry, target: str
) -> None:
    evil = create_source_repo(tmp_path / "src" / "evil.git")
    (evil.work / "leak").symlink_to(target)
    evil.commit({}, "a link out of the repository")
    evil.release("v7")
    good = create_source_repo(tmp_path / "src" / "good.git")
    good_sha = good.release("v8")
    config = parse_config(
        {
            "builds": [
                build_rule(evil.url, ci_registry.host, name="evil"),
                build_rule(good.url, ci_registry.host, name="good"),
            ],
            "cache_dir": str(tmp_path / "cache"),
            "applications": "apps",
        },
        source=str(tmp_path / "ferry.yaml"),
        base_dir=tmp_path,
    )
    with CiBuilder(config) as ci:
        result = ci.run()
    outcomes = {o.rule: o for o in result.outcomes}
    assert outcomes["evil"].status is BuildStatus.failed
    assert "'leak'" in (outcomes["evil"].error or "") and "symlink" in (outcomes["evil"].error or "")
    assert outcomes["good"].status is BuildStatus.built
    assert outcomes["good"].reference.endswith(f":v8-{good_sha[:6]}")
