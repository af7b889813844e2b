"""Stage 0 of the pipeline: build and push images when a release ref is pushed to a source repo.

The seed's ACR build tasks, for Ferry: for each ``builds:`` rule, detect the
matching refs with ``git ls-remote``, and for each ref whose image is not in the
registry yet, check out the commit, build it, push it and emit
``ferry.image.pushed`` (which starts the ``image-updater`` deployment).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.states import Completed, Failed, State

from blocks.ports import PORTS
from ferry.ci.cycle import BuildStatus, CiBuilder, CiSteps, run_cycle
from ferry.ci.detect import BuildCandidate
from ferry.config import load_config
from ferry.schema.builds import BuildRule
from flows.logging import forward_ferry_logs
from flows.runs import config_path, rename_run
from tasks.ci_build import build_image, check_out, detect_refs, emit_pushed, push_image


def _log_artifact(rule: BuildRule, candidate: BuildCandidate, title: str, text: str) -> None:
    fence = "~~~~"  # a build log may itself contain ``` lines
    create_markdown_artifact(
        key=f"ci-build-log-{rule.name}",
        markdown=f"## {title}\n\n`{candidate.reference}` from `{candidate.ref}` ({candidate.sha})\n\n"
        f"{fence}text\n{text}\n{fence}\n",
        description=f"{title}: {candidate.reference}",
    )


def build_run_name(candidates: Sequence[tuple[BuildRule, BuildCandidate]]) -> str:
    """``ci-build echo-server release-v3``: each source repository and the refs it builds."""
    refs: dict[str, dict[str, None]] = {}
    for rule, candidate in candidates:
        repo = rule.repo.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
        refs.setdefault(repo, {})[candidate.short_ref] = None
    if not refs:
        return "ci-build: nothing new"
    return "ci-build " + "; ".join(f"{repo} {', '.join(names)}" for repo, names in refs.items())


@flow(
    name="ci-build",
    flow_run_name="ci-build",
    description="Build and push images for release refs pushed to source repositories.",
)
def ci_build(config: str = "ferry.yaml", rules: list[str] | None = None) -> State[Any]:
    """Run one detection and build cycle over the ``builds:`` rules of ``config``.

    Args:
        config: Path to ``ferry.yaml``.
        rules: Only these build rules (all when empty).

    Returns:
        Completed with one dict per candidate ref (its message names the pushed
        digests), or Failed with the same data when any ref failed to build.
    """
    forward_ferry_logs()
    cfg = load_config(config_path(config))
    resolver = PORTS.credentials(cfg)
    with CiBuilder(cfg, resolver=resolver) as ci:
        steps = CiSteps(
            detect=partial(detect_refs, ci),
            checkout=partial(check_out, ci),
            build=partial(build_image, ci),
            push=partial(push_image, ci),
            announce=partial(emit_pushed, ci, emitter=PORTS.emit),
            planned=lambda queue: rename_run(build_run_name(queue)),
            logged=_log_artifact,
            failures=(Exception,),  # the tasks have retried what was transient; the rest is this ref's
        )
        cycle = run_cycle(ci, steps, rules or None)
    outcomes, ignored = cycle.outcomes, cycle.ignored
    rows = [o.as_dict() for o in outcomes]
    built = [o for o in outcomes if o.status is BuildStatus.built]
    failed = [o for o in outcomes if o.status is BuildStatus.failed]
    create_table_artifact(
        key="ci-builds",
        table=rows
        or [{"rule": "", "ref": "", "image": "", "status": "nothing matched", "digest": "", "error": ""}],
        description=f"CI builds: {len(built)} pushed, {len(failed)} failed, {ignored} ref(s) ignored",
    )
    pushed_text = ", ".join(f"{o.reference}@{o.digest}" for o in built) or "nothing new to build"
    if failed:
        names = ", ".join(o.reference for o in failed)
        return Failed(message=f"{len(failed)} build(s) failed: {names}; pushed: {pushed_text}", data=rows)
    return Completed(message=f"pushed: {pushed_text}", data=rows)
