"""Share one effect check among Applications that write the same values into the same chart.

The effect check (:mod:`ferry.update.effect`) renders twice per application: 300
Applications on one chart made 600 ``helm template`` runs, about 240 s of a cycle whose
registry and Git work take one second. Those Applications differ in their release
name, namespace and their own values file, but what the check asks — does the chart
read the values the annotations write? — is the same question for all of them.

So each application gets a key (:func:`effect_key`) that keeps everything which decides
that question and drops what only names the app: the commit and chart path, the
write-back's kind, which values each changing image writes, and the app's merged source
with its release name, parameter values and image tags blanked and each value file
replaced by its role (the write-back's target, or which written values it sets). The
answer is shared in one direction only
(:class:`EffectMemo`):

* once a member of a group has shown that **every** change has an effect, the others
  of that group are taken to have one too. If a member's own values (say
  ``enabled: false``) made its change inert, this misses that member's warning — a
  missed warning and nothing else;
* an answer of "no effect" (or an unavailable check) is never shared: each member is
  then rendered on its own, so a false warning, or a change that
  ``commit.skip_without_effect`` leaves out without cause, stays impossible.
"""

from __future__ import annotations

import json
import posixpath
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from ferry.argocd.annotations import ImageSettings, TargetKind
from ferry.argocd.application import Application, ApplicationSource
from ferry.argocd.source import RepoView, SourceType, merge_overrides, override_paths, repo_path
from ferry.errors import ConfigError
from ferry.update.current import helm_paths
from ferry.update.effect import EffectCheck
from ferry.writeback import helmvalues

_TARGET = "<write-back target>"


@dataclass(frozen=True, slots=True)
class EffectKey:
    """What decides whether a write-back can change what an application renders."""

    repo_url: str
    revision: str
    kind: SourceType
    path: str
    target_kind: TargetKind
    written: tuple[tuple[str, str | None, str | None, str | None, str | None], ...]
    source: str  # the merged source's shape, as canonical JSON


def _image_name(entry: str) -> str:
    """A kustomize ``images`` entry without its tag or digest: ``a=b:1`` -> ``a=b``."""
    entry = entry.split("@", 1)[0]
    slash = entry.rfind("/")
    colon = entry.rfind(":")
    return entry[:colon] if colon > slash else entry


def _shape(source: ApplicationSource, value_files: list[object]) -> str:
    """The merged source with what only names one app, or one tag, taken out."""
    data: dict[str, Any] = source.model_dump(by_alias=True, exclude_none=True, mode="json")
    helm = data.get("helm")
    if isinstance(helm, dict):
        # Helm's release name reaches only names and labels in the usual chart; the values
        # a write-back sets are its parameters' values and the tags in its files.
        helm.pop("releaseName", None)
        for param in helm.get("parameters", ()):
            param["value"] = ""
        helm["valueFiles"] = value_files
    kustomize = data.get("kustomize")
    if isinstance(kustomize, dict) and kustomize.get("images"):
        kustomize["images"] = [_image_name(str(i)) for i in kustomize["images"]]
    data.pop("targetRevision", None)  # the revision is in the key as a SHA
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _value_files(
    source: ApplicationSource, view: RepoView, target: str, paths: Collection[str]
) -> list[object]:
    """Each value file as what it means to the write-back, not as its name.

    Apps on one chart usually have a values file each (``values-<app>.yaml``). Which
    one it is does not matter; whether it is the write-back's target, and which of the
    written paths it sets (a later file setting ``image.tag`` overrides the write-back),
    does.
    """
    files: list[object] = []
    base = repo_path(source.path)
    for name in source.helm.value_files if source.helm else ():
        path = _inside(base, name)
        if path is None or path == target:
            files.append(name if path is None else _TARGET)
            continue
        content = view.read(path)
        try:
            sets = sorted(p for p in paths if helmvalues.get_helm_value(content, p, source=path) is not None)
        except ConfigError:
            sets = ["<unreadable>"]
        files.append([None if content is None else "file", sets])
    return files


def _inside(base: str, value_file: str) -> str | None:
    try:
        return repo_path(base, value_file)
    except ConfigError:
        return None  # a file outside the repo is the render's error to report, not the key's


def effect_key(
    app: Application,
    view: RepoView,
    revision: str,
    kind: SourceType,
    target_kind: TargetKind,
    target: str,
    images: Collection[ImageSettings],
) -> EffectKey | None:
    """The group ``app``'s effect check belongs to; None when it has to be checked on its own.

    Args:
        app: The Application.
        view: The deploy repo at ``revision``, where the override files are read.
        revision: The commit SHA the write-back starts from.
        kind: Helm or Kustomize.
        target_kind: Where the write-back goes (values file, kustomization, override file).
        target: The repo path the write-back edits.
        images: The settings of the images whose tag changes.
    """
    app_override, shared_override = override_paths(app)
    try:
        merged = merge_overrides(
            app.source,
            [(shared_override, view.read(shared_override)), (app_override, view.read(app_override))],
        )
    except ConfigError:
        return None  # the render names the broken file; no group hides it
    # Which image an app runs does not decide whether a Helm chart reads the values written for
    # it (the paths do), so apps of one chart on different images share one check: a fleet of
    # 10 images in 3 repos rendered 60 times before, 6 now. Kustomize matches images by name.
    named = kind is not SourceType.HELM
    writes = [(i.image.name if named else "", *helm_paths(i), i.kustomize_image_name) for i in images]
    written = tuple(sorted(writes, key=repr))
    paths = {p for w in writes for p in w[1:4] if p}
    target = posixpath.normpath(target)
    return EffectKey(
        repo_url=app.source.repo_url,
        revision=revision,
        kind=kind,
        path=repo_path(app.source.path),
        target_kind=target_kind,
        written=written,
        source=_shape(merged, _value_files(merged, view, target, paths)),
    )


class EffectMemo:
    """The groups of one cycle in which every change was seen to have an effect."""

    def __init__(self) -> None:
        self._effective: set[EffectKey] = set()
        self._lock = threading.Lock()  # the flow may plan applications from several threads
        self.shared = 0  # checks answered from a group, for the log and the tests

    def clear(self) -> None:
        """Forget every group: a new cycle may see new commits, charts and values."""
        with self._lock:
            self._effective.clear()
            self.shared = 0

    def check(self, key: EffectKey | None, run: Callable[[], EffectCheck]) -> EffectCheck:
        """``run``'s answer, or the group's when a member already showed every change taking effect."""
        if key is not None:
            with self._lock:
                if key in self._effective:
                    self.shared += 1
                    return EffectCheck()
        found = run()
        if key is not None and found.unavailable is None and not found.without_effect:
            with self._lock:
                self._effective.add(key)
        return found
