"""An ApplicationSet's generated Applications, as Argo CD's ``GenerateApplications`` makes them.

For every parameter set of every generator, in order, the template's ``metadata`` (``name``,
``namespace``, ``labels``, ``annotations``, ``finalizers``) and ``spec`` are rendered; the
Application's namespace is then the ApplicationSet's, as Argo CD enforces. The result is the plain
Application document: the loader validates it as any other Application.

Where Argo CD adds the ``resources-finalizer.argocd.argoproj.io`` finalizer (no
``preserveResourcesOnDeletion``), so does :func:`expand`. Under ``RollingSync`` Argo CD turns the
generated Applications' automated sync off, the ApplicationSet syncing them step by step; Ferry
drops ``spec.syncPolicy.automated`` for the same reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ferry.appset.generators import Context, generate
from ferry.appset.model import API_VERSION, ApplicationSet
from ferry.appset.render import render_value
from ferry.appset.rollingsync import Waves, waves
from ferry.errors import ConfigError

__all__ = ["MAX_APPLICATIONS", "RESOURCES_FINALIZER", "Expansion", "expand"]

RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
# The deploy repo is not trusted: a matrix of two long lists must not exhaust the loader.
MAX_APPLICATIONS = 10_000
_METADATA_FIELDS = ("name", "namespace", "labels", "annotations", "finalizers")


@dataclass(frozen=True, slots=True)
class Expansion:
    """The generated Application documents and, under RollingSync, their waves."""

    applications: tuple[Mapping[str, Any], ...]
    waves: Waves | None


def _application(appset: ApplicationSet, params: Mapping[str, Any], where: str) -> dict[str, Any]:
    template = appset.template
    metadata = template.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise ConfigError("spec.template.metadata must be a mapping")
    kept = {k: metadata[k] for k in _METADATA_FIELDS if metadata.get(k) is not None}
    try:
        rendered_metadata = render_value(kept, params, appset.language)
        rendered_spec = render_value(template.get("spec") or {}, params, appset.language)
    except ConfigError as exc:
        raise ConfigError(f"spec.template ({where}): {exc.message}") from exc
    if not rendered_metadata.get("finalizers") and not appset.preserve_resources_on_deletion:
        rendered_metadata["finalizers"] = [RESOURCES_FINALIZER]
    if appset.namespace is not None:
        rendered_metadata["namespace"] = appset.namespace
    else:
        rendered_metadata.pop("namespace", None)
    if appset.steps is not None:
        policy = rendered_spec.get("syncPolicy")
        if isinstance(policy, Mapping) and "automated" in policy:
            rendered_spec = {
                **rendered_spec,
                "syncPolicy": {k: v for k, v in policy.items() if k != "automated"},
            }
    return {
        "apiVersion": API_VERSION,
        "kind": "Application",
        "metadata": rendered_metadata,
        "spec": rendered_spec,
    }


def expand(appset: ApplicationSet, context: Context) -> Expansion:
    """Every Application ``appset`` generates, in generator and parameter order; errors name the field.

    Two parameter sets that render the same Application name are an error, as Argo CD refuses
    duplicate names.
    """
    documents: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, generator in enumerate(appset.generators):
        generated = generate(generator, appset.language, context)
        if len(documents) + len(generated) > MAX_APPLICATIONS:
            raise ConfigError(
                f"spec.generators[{index}]: more than {MAX_APPLICATIONS} Applications would be generated"
            )
        for number, params in enumerate(generated):
            document = _application(appset, params, f"spec.generators[{index}], parameter set {number}")
            name = document["metadata"].get("name")
            if not isinstance(name, str) or not name:
                raise ConfigError(f"spec.template.metadata.name renders empty for spec.generators[{index}]")
            if name in seen:
                raise ConfigError(
                    f"spec.template.metadata.name: two parameter sets generate the Application {name!r}"
                )
            seen[name] = index
            documents.append(document)
    plan = None
    if appset.steps is not None:
        plan = waves(
            appset.steps, [(d["metadata"]["name"], d["metadata"].get("labels") or {}) for d in documents]
        )
    return Expansion(tuple(documents), plan)
