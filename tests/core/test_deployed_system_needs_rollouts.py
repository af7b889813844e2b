"""The deployed system refuses clusters without the Argo Rollouts controller where the seed's Rollout runs.

Production's echo server is an Argo Rollout: on a cluster with no controller it never rolls out, and the
demo would only find out when installing v1 timed out, minutes later, with a Prefect server, a registry
and a worker to stop. ``bring_up`` says so first, and starts nothing.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from ferry.devenv.seed import ROLLOUT_CLUSTERS, require_controllers
from ferry.devenv.system import bring_up
from ferry.errors import ConfigError, ToolError
from ferry.sandbox.rollouts import COMPONENT


class _Sandbox:
    """Answers ``cluster(name).running()`` as a recorded sandbox does: component → process alive."""

    def __init__(self, components: dict[str, bool]) -> None:
        self.components = components

    def cluster(self, name: str) -> SimpleNamespace:
        return SimpleNamespace(name=name, running=lambda: dict(self.components))


@pytest.mark.parametrize(
    "components",
    [{"kube-apiserver": True, "etcd": True}, {"kube-apiserver": True, COMPONENT: False}],
    ids=["never started", "exited"],
)
def test_no_running_controller_on_production_stops_bring_up_before_anything_starts(
    tmp_path: Path, components: dict[str, bool]
) -> None:
    assert ROLLOUT_CLUSTERS == ("production", "production-2"), "Production's two regions, its two waves"
    root = tmp_path / "system"
    match = r"production, production-2 runs an Argo Rollout.*--with argo-rollouts=production,production-2"
    with pytest.raises(ToolError, match=match):
        bring_up(root, _Sandbox(components))  # type: ignore[arg-type]
    assert not root.exists(), "nothing was started, so there is nothing to stop"


class _Only(_Sandbox):
    """A sandbox of the named clusters alone, as the tests' ``second_region`` is of ``production-2``."""

    def __init__(self, names: tuple[str, ...], components: dict[str, bool]) -> None:
        super().__init__(components)
        self.names = names

    def cluster(self, name: str) -> SimpleNamespace:
        if name not in self.names:
            raise ConfigError(f"no sandbox cluster named {name!r}")
        return super().cluster(name)


def test_each_region_needs_its_controller_in_whichever_sandbox_runs_it() -> None:
    main = _Only(("dev", "staging", "production"), {COMPONENT: True})
    with pytest.raises(ToolError, match=r"the seed's production-2 runs an Argo Rollout"):
        require_controllers([main])
    with pytest.raises(ToolError, match=r"the seed's production-2 runs"):
        require_controllers([main, _Only(("production-2",), {COMPONENT: False})])
    require_controllers([main, _Only(("production-2",), {COMPONENT: True})])
