"""Stage 0 of the pipeline: build and push images when a release ref is pushed to a source repo.

The seed's ACR build tasks, for Ferry: for each ``builds:`` rule, detect the
matching refs with ``git ls-remote``, and for each ref whose image is not in the
registry yet, check out the commit, build it, push it and emit
``ferry.image.pushed`` (which starts the ``image-updater`` deployment).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.states import Completed, Failed, State

from blocks.ports import PORTS
from ferry.ci.builder import BuiltImage
from ferry.ci.cycle import BuildOutcome, BuildStatus, CiBuilder
from ferry.ci.detect import BuildCandidate
from ferry.ci.rules import BuildRule
from ferry.config import load_config
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


def _built(ci: CiBuilder, rule: BuildRule, candidate: BuildCandidate) -> BuiltImage | BuildOutcome:
    """Check out and build one ref; a failure becomes a failed outcome."""
    try:
        return build_image(ci, rule, candidate, check_out(ci, rule, candidate))
    except Exception as exc:  # noqa: BLE001 - every failure ends up in the artifact and the final state
        return _failed(rule, candidate, exc)


def _pushed(ci: CiBuilder, rule: BuildRule, candidate: BuildCandidate, built: BuiltImage) -> BuildOutcome:
    """Push and announce one built image."""
    try:
        pushed = push_image(ci, rule, candidate, built)
        emit_pushed(ci, rule, pushed, PORTS.emit)
    except Exception as exc:  # noqa: BLE001 - as above
        return _failed(rule, candidate, exc)
    _log_artifact(rule, candidate, f"Pushed {pushed.digest or '(digest unknown)'}", pushed.log_tail)
    return BuildOutcome(
        rule.name, candidate.ref, candidate.reference, BuildStatus.built, digest=pushed.digest
    )


def _failed(rule: BuildRule, candidate: BuildCandidate, exc: Exception) -> BuildOutcome:
    _log_artifact(rule, candidate, "Build failed", str(exc))
    return BuildOutcome(rule.name, candidate.ref, candidate.reference, BuildStatus.failed, error=str(exc))


def build_run_name(candidates: list[tuple[BuildRule, BuildCandidate]]) -> str:
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
    logger = get_run_logger()
    cfg = load_config(config_path(config))
    resolver = PORTS.credentials(cfg)
    outcomes: list[BuildOutcome] = []
    ignored = 0
    to_build: list[tuple[BuildRule, BuildCandidate]] = []
    with CiBuilder(cfg, resolver=resolver) as ci:
        for rule in ci.rules(rules or None):
            try:
                detection = detect_refs(ci, rule)
            except Exception as exc:  # noqa: BLE001 - one unreachable repo must not stop the others
                logger.error("build rule '%s': detection failed: %s", rule.name, exc)
                outcomes.append(BuildOutcome(rule.name, "", rule.image, BuildStatus.failed, error=str(exc)))
                continue
            ignored += len(detection.ignored)
            outcomes.extend(
                BuildOutcome(rule.name, c.ref, c.reference, BuildStatus.up_to_date)
                for c in detection.up_to_date
            )
            to_build.extend((rule, c) for c in detection.to_build)
        rename_run(build_run_name(to_build))
        # Every image of a push is built before any is pushed, so the registry's notifications
        # (and the image updater they start) see one source commit's images together.
        built = [(rule, candidate, _built(ci, rule, candidate)) for rule, candidate in to_build]
        for rule, candidate, image in built:
            outcomes.append(image if isinstance(image, BuildOutcome) else _pushed(ci, rule, candidate, image))
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
