"""Tasks of the CI build stage: thin wrappers over :class:`ferry.ci.cycle.CiBuilder`."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from ferry.ci.builder import BuiltImage
from ferry.ci.cycle import CiBuilder, Detection, PushedImage
from ferry.ci.detect import BuildCandidate
from ferry.ci.events import EventEmitter
from ferry.schema.builds import BuildRule
from tasks.retry import RETRYING


@task(
    name="detect-refs",
    **RETRYING,
    cache_policy=NO_CACHE,
    task_run_name="detect refs of {rule.name}",
)
def detect_refs(ci: CiBuilder, rule: BuildRule) -> Detection:
    """``git ls-remote`` the rule's repository and ask the registry which matching refs are built."""
    return ci.detect(rule)


@task(
    name="check-out",
    **RETRYING,
    cache_policy=NO_CACHE,
    task_run_name="check out {candidate.short_ref}",
)
def check_out(ci: CiBuilder, rule: BuildRule, candidate: BuildCandidate) -> Path:
    """Export the candidate's commit from the cached clone into a fresh build context."""
    return ci.checkout(rule, candidate)


@task(
    name="build-image",
    **RETRYING,
    cache_policy=NO_CACHE,
    task_run_name="build {candidate.tag}",
)
def build_image(ci: CiBuilder, rule: BuildRule, candidate: BuildCandidate, source: Path) -> BuiltImage:
    """Build the image; a failure raises ToolError carrying the log tail (never retried)."""
    return ci.build(rule, candidate, source)


@task(
    name="push-image",
    **RETRYING,
    cache_policy=NO_CACHE,
    task_run_name="push {candidate.tag}",
)
def push_image(ci: CiBuilder, rule: BuildRule, candidate: BuildCandidate, built: BuiltImage) -> PushedImage:
    """Push the built image with the registry's credentials; return its digest."""
    return ci.push(rule, candidate, built)


@task(
    name="emit-image-pushed",
    **RETRYING,
    cache_policy=NO_CACHE,
    task_run_name="announce {pushed.candidate.tag}",
)
def emit_pushed(ci: CiBuilder, rule: BuildRule, pushed: PushedImage, emitter: EventEmitter) -> None:
    """Emit ``ferry.image.pushed``, which triggers the ``image-updater`` deployment."""
    emitter(ci.pushed_event(rule, pushed))
