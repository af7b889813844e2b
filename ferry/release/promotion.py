"""The release loop: Dev verified → each environment's gate, sync and canary steps, in order.

The core owns the loop and the Prefect flow passes its steps in (:class:`ReleaseSteps`),
the way the image updater's and the CI stage's flows do. A step is a retrying task
or a gate in the flow; here it is only a call. So the order of the gates, what each
one is asked and what happens on a rejection are decided in one place, without
Prefect, and a re-execution after a suspension walks the same path (each step is
safe to repeat and the flow's tasks return their first result).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ferry.errors import FerryError, GateStopped, PermanentError
from ferry.release.canary_gates import canary_gates
from ferry.release.gates import (
    ImageMove,
    WriteBack,
    new_tags,
)
from ferry.release.pipeline import ResolvedRelease
from ferry.release.questions import (
    dev_verified_question,
    head_moved,
    sync_question,
)
from ferry.release.steps import Promoted, ReleaseSteps, diff_digest
from ferry.release.waves import promote_waves
from ferry.release.waves import said as _said

__all__ = [
    "PROMOTION_ORDER",
    "Promoted",
    "ReleaseSteps",
    "ValidationFailed",
    "diff_digest",
    "promote_environment",
    "run_release",
]

logger = logging.getLogger(__name__)

PROMOTION_ORDER = ("staging", "production")


class ValidationFailed(PermanentError):
    """A validation check of Dev failed: nothing is promoted."""


def promote_environment(
    steps: ReleaseSteps,
    resolved: ResolvedRelease,
    env: str,
    images: Sequence[ImageMove],
    *,
    revision: str | None = None,
    note: str = "",
) -> Promoted:
    """Gate "Sync <env>?" on one pinned commit, sync exactly that commit, then a gate per canary step.

    Raises:
        GateStopped: A gate was rejected (``Rejected``) or timed out.
    """
    app = resolved.apps[env]
    # Resolved once: every step of this environment acts on the same Application and cluster.
    target = steps.target(app)
    canary = resolved.canary(env)
    pinned = steps.pin(target, revision)
    diff = steps.diff(target, pinned.sha)
    digest = diff_digest(diff, steps.publish_diff(env, target, pinned.sha, diff))
    question = sync_question(env, app, pinned, list(images), digest, note)
    decision = steps.ask(question)
    moved = head_moved(question.title, target.source.target_revision, pinned.sha, steps.head(target))
    if moved:
        logger.warning("%s: %s", app, moved)
    provider = steps.canary_provider(target, pinned.sha, canary)
    # The native canary syncs only once its steps are approved; a controller's canary is the sync.
    native = canary.provider == "native"
    if not native:
        steps.sync(target, pinned.sha, wait=provider is None)
    if provider is not None:
        canary_gates(steps, resolved, env, target, pinned.sha, provider, note=moved)
        if native:
            steps.sync(target, pinned.sha, wait=True)
        steps.canary_finish(provider, app)
    if steps.release_hold(target):
        logger.info("%s: hold released by this approved release", app)
    logger.info("%s (%s) released at %s", app, env, pinned.sha[:12])
    (status,) = steps.statuses([target])
    health = status.health.status.value if status.health else ""
    return Promoted(env, app, pinned.sha, moved, _said(decision), health, "promoted" if provider else "")


def run_release(
    steps: ReleaseSteps,
    resolved: ResolvedRelease,
    dev_app: str,
    *,
    commit: str = "",
    images: Sequence[ImageMove] = (),
    update_link: str | None = None,
    done: list[Promoted] | None = None,
) -> list[Promoted]:
    """Wait for Dev, validate it, ask "Dev verified?", then promote each environment in order.

    ``done`` collects each environment as it is released, so a caller that catches a
    stop still knows how far the release got.

    Raises:
        ValidationFailed: A validation check failed; nothing was promoted.
        GateStopped: A gate was rejected or timed out.
        FerryError: Dev never became ready, or a step failed.
    """
    done = [] if done is None else done
    # Dev's target is held for the whole run; each environment resolves its own once.
    dev = steps.target(dev_app)
    status = steps.wait_dev_ready(dev, resolved.config.dev_timeout)
    moves = list(images) or ImageMove.between(*steps.history_images(dev))
    steps.renamed(f"release {resolved.name} {new_tags(moves) or status.revision[:7]}")
    checks = steps.validate(dev, resolved.config.validation)
    failed = [c.name for c in checks if not c.passed]
    if failed:
        raise ValidationFailed(f"validation of {dev_app} failed: {', '.join(failed)}; nothing was promoted")
    pinned = steps.pin(dev, commit or status.revision)
    written = WriteBack(pinned.sha, pinned.message, update_link)
    view = resolved.view()
    steps.publish_status(view)  # the fleet as it stands is on the run from its first gate on
    decision = steps.ask(dev_verified_question(resolved.name, dev_app, written, moves, checks))
    if dev_app in {r.app for r in view.rows}:
        health = status.health.status.value if status.health else ""
        view = view.at(dev_app, state="released", revision=pinned.sha, health=health, gate=_said(decision))
    steps.publish_status(view)
    note = ""
    for env in PROMOTION_ORDER:
        if env in resolved.waves:
            released, view = promote_waves(steps, resolved, env, moves, view, note=note)
            done += released
        elif env in resolved.apps:
            try:
                result = promote_environment(steps, resolved, env, moves, note=note)
            except (GateStopped, FerryError):
                steps.publish_status(view.at(resolved.apps[env], state="stopped"))
                raise
            done.append(result)
            note = result.note
            view = view.at(
                result.app,
                state="released",
                revision=result.revision,
                gate=result.gate,
                health=result.health,
                canary=result.canary,
            )
            steps.publish_status(view)
    return done
