"""Does a planned write-back change what the application renders?

Image Updater writes the values its annotations name whether or not the chart
reads them, and Argo CD syncs "nothing" without a word. The seed's own deploy
repo has exactly that: its ``echo-web-server`` Deployment reads
``image.echoServerForTest``, but the annotations write ``image.echoWebServer.*``.
So before committing, Ferry renders the app at the base revision and with the
edit applied (as a commit no branch points at) and names every image change that
leaves the rendered manifests as they were. The commit is kept, as Image Updater
keeps it, unless ``commit.skip_without_effect`` asks otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ferry.argocd.application import Application
from ferry.errors import ConfigError, FerryError
from ferry.image.reference import ImageReference
from ferry.sync.render import render_application
from ferry.tools import Tools
from ferry.update.message import ImageChange
from ferry.vcs.clone import WorkingClone
from ferry.vcs.writeback import FileEdit

log = logging.getLogger("ferry.updater")


@dataclass(frozen=True, slots=True)
class EffectCheck:
    """The changes that render nothing new, or why the check could not run."""

    without_effect: tuple[ImageChange, ...] = ()
    unavailable: str | None = None


def _render(app: Application, clone: WorkingClone, sha: str, tools: Tools | None) -> tuple[object, ...]:
    return render_application(app, clone, sha, tools).manifests


def _apply(clone: WorkingClone, base: str, edit: FileEdit) -> str:
    new = edit.transform(clone.read(edit.path, revision=base))
    return base if new is None else clone.commit_tree(base, {edit.path: new})


def rendered_images(
    app: Application, clone: WorkingClone, base: str, tools: Tools | None = None
) -> tuple[ImageReference, ...]:
    """The container images ``app`` renders at ``base``: what Image Updater reads from the live app.

    Image Updater takes an image's current tag from the Application's live images;
    a chart may run an image under a value the annotations do not name (the seed's
    Staging runs ``echo-web-server`` from ``image.echoServerForTest``). A render that
    fails gives no images.
    """
    try:
        manifests = render_application(app, clone, clone.resolve(base), tools).manifests
    except FerryError as exc:
        log.warning("%s: could not render to find its images: %s", app.name, exc)
        return ()
    found = []
    for manifest in manifests:
        for text in _container_images(manifest):
            try:
                found.append(ImageReference.parse(text))
            except ConfigError:
                continue
    return tuple(found)


def _container_images(manifest: Mapping[str, Any]) -> list[str]:
    spec = manifest.get("spec") or {}
    pod = ((spec.get("jobTemplate") or {}).get("spec") or spec).get("template", {}).get("spec") or spec
    containers = [*(pod.get("initContainers") or ()), *(pod.get("containers") or ())]
    return [str(c["image"]) for c in containers if isinstance(c, Mapping) and c.get("image")]


def check_effect(
    app: Application,
    clone: WorkingClone,
    base: str,
    changes: Sequence[ImageChange],
    edit_for: Callable[[Sequence[ImageChange]], FileEdit],
    tools: Tools | None = None,
) -> EffectCheck:
    """Render before and after the write-back of ``changes`` (and of each one alone, when several).

    Args:
        app: The Application, rendered as Argo CD would (its override files included).
        clone: The deploy repo's clone.
        base: The revision the write-back starts from.
        changes: The image changes the commit writes.
        edit_for: Builds the file edit that writes a subset of ``changes``.
        tools: helm and kustomize (found on the machine when None).

    Returns:
        The changes that leave every rendered manifest as it was. A render that fails
        (no helm, a broken chart) makes the check unavailable, never the update.
    """
    try:
        sha = clone.resolve(base)
        before = _render(app, clone, sha, tools)
        after = _render(app, clone, _apply(clone, sha, edit_for(changes)), tools)
        if before == after:
            found: tuple[ImageChange, ...] = tuple(changes)
        elif len(changes) == 1:
            found = ()
        else:
            found = tuple(
                change
                for change in changes
                if _render(app, clone, _apply(clone, sha, edit_for([change])), tools) == before
            )
    except FerryError as exc:
        log.warning("%s: could not render to check the write-back's effect: %s", app.name, exc)
        return EffectCheck(unavailable=str(exc))
    for change in found:
        log.warning(
            "%s: writing %s changes nothing %s renders: no manifest reads the values the annotations name",
            app.name,
            change.new_ref,
            app.name,
        )
    return EffectCheck(found)
