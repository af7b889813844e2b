"""An ``argoproj.io/v1alpha1`` ApplicationSet, read into frozen values; what Ferry cannot expand is refused.

Field names are Argo CD's. Each error is a :class:`ConfigError` naming the field
(``spec.generators[0].git.directories[1].path``); the loader adds the file and the ApplicationSet.

Generators: ``list``, ``clusters``, ``git`` and ``matrix`` (two children, themselves any of these,
a nested ``matrix`` included). Refused: the other generators (``merge``, ``scmProvider``,
``pullRequest``, ``clusterDecisionResource``, ``plugin``), a generator's own ``template``, and
``spec.templatePatch``. A generator's ``selector`` (filtering its parameters) is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ferry.appset.render import Language, check_template
from ferry.appset.rollingsync import RollingStep, parse_strategy
from ferry.appset.selector import LabelSelector, parse_selector
from ferry.errors import ConfigError

__all__ = [
    "API_VERSION",
    "KIND",
    "ApplicationSet",
    "ClustersGenerator",
    "Generator",
    "GitGenerator",
    "GitPath",
    "ListGenerator",
    "MatrixGenerator",
    "parse_applicationset",
    "parse_generator",
]

API_VERSION = "argoproj.io/v1alpha1"
KIND = "ApplicationSet"

_SUPPORTED = ("list", "clusters", "git", "matrix")
_REFUSED = ("merge", "scmProvider", "pullRequest", "clusterDecisionResource", "plugin")


@dataclass(frozen=True, slots=True)
class ListGenerator:
    elements: tuple[Mapping[str, Any], ...]
    elements_yaml: str = ""


@dataclass(frozen=True, slots=True)
class ClustersGenerator:
    selector: LabelSelector
    values: Mapping[str, str]
    flat_list: bool = False


@dataclass(frozen=True, slots=True)
class GitPath:
    path: str
    exclude: bool = False


@dataclass(frozen=True, slots=True)
class GitGenerator:
    repo_url: str
    revision: str
    directories: tuple[GitPath, ...]
    files: tuple[GitPath, ...]
    values: Mapping[str, str]
    path_param_prefix: str = ""


@dataclass(frozen=True, slots=True)
class MatrixGenerator:
    """Two children, kept as written too: the second is rendered with each of the first's parameters."""

    children: tuple[Generator, Generator]
    raw_children: tuple[Mapping[str, Any], Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Generator:
    """One entry of ``spec.generators`` (or of a matrix): its kind and an optional parameter ``selector``."""

    spec: ListGenerator | ClustersGenerator | GitGenerator | MatrixGenerator
    selector: LabelSelector | None
    where: str


@dataclass(frozen=True, slots=True)
class ApplicationSet:
    name: str
    namespace: str | None
    generators: tuple[Generator, ...]
    template: Mapping[str, Any]
    language: Language
    steps: tuple[RollingStep, ...] | None  # None: AllAtOnce
    preserve_resources_on_deletion: bool
    labels: Mapping[str, str]


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a mapping")
    return value


def _string_map(value: Any, where: str) -> Mapping[str, str]:
    mapping = _mapping(value, where)
    for key, item in mapping.items():
        if not isinstance(item, str):
            raise ConfigError(f"{where}.{key} must be a string")
    return dict(mapping)


def _check_keys(raw: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in raw:
        if key not in allowed:
            raise ConfigError(f"{where}: unsupported field {key!r} (Ferry reads {', '.join(allowed)})")


def _list_generator(raw: Mapping[str, Any], where: str) -> ListGenerator:
    _check_keys(raw, ("elements", "elementsYaml", "template"), where)
    elements = raw.get("elements") or []
    if not isinstance(elements, list):
        raise ConfigError(f"{where}.elements must be a list")
    out: list[Mapping[str, Any]] = []
    for index, element in enumerate(elements):
        if not isinstance(element, Mapping):
            raise ConfigError(f"{where}.elements[{index}] must be a mapping")
        out.append(element)
    text = raw.get("elementsYaml") or ""
    if not isinstance(text, str):
        raise ConfigError(f"{where}.elementsYaml must be a string")
    # Parsed when generating: in a matrix's second child it is a template rendered first.
    return ListGenerator(tuple(out), text)


def _git_paths(raw: Any, where: str) -> tuple[GitPath, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{where} must be a list")
    out: list[GitPath] = []
    for index, item in enumerate(raw):
        at = f"{where}[{index}]"
        item = _mapping(item, at)
        _check_keys(item, ("path", "exclude"), at)
        path = item.get("path")
        if not isinstance(path, str) or not path:
            raise ConfigError(f"{at}.path must be a non-empty string")
        exclude = item.get("exclude", False)
        if not isinstance(exclude, bool):
            raise ConfigError(f"{at}.exclude must be true or false")
        out.append(GitPath(path, exclude))
    return tuple(out)


def _git_generator(raw: Mapping[str, Any], where: str) -> GitGenerator:
    allowed = ("repoURL", "revision", "directories", "files", "values", "pathParamPrefix", "template")
    _check_keys(raw, allowed, where)
    repo_url = raw.get("repoURL")
    if not isinstance(repo_url, str) or not repo_url:
        raise ConfigError(f"{where}.repoURL must be a non-empty string")
    revision = raw.get("revision") or "HEAD"
    if not isinstance(revision, str):
        raise ConfigError(f"{where}.revision must be a string")
    directories = _git_paths(raw.get("directories"), f"{where}.directories")
    files = _git_paths(raw.get("files"), f"{where}.files")
    if not directories and not files:
        raise ConfigError(f"{where}: one of directories or files is required")
    prefix = raw.get("pathParamPrefix") or ""
    if not isinstance(prefix, str):
        raise ConfigError(f"{where}.pathParamPrefix must be a string")
    values = _string_map(raw.get("values"), f"{where}.values")
    return GitGenerator(repo_url, revision, directories, files, values, prefix)


def parse_generator(raw: Any, where: str, *, nested: bool = False) -> Generator:
    """One generator; ``nested`` for a matrix's child (a matrix there may not nest a third level)."""
    raw = _mapping(raw, where)
    kinds = [k for k in raw if k != "selector"]
    refused = [k for k in kinds if k in _REFUSED]
    if refused:
        raise ConfigError(f"{where}.{refused[0]}: the {refused[0]} generator is not supported by Ferry")
    unknown = [k for k in kinds if k not in _SUPPORTED]
    if unknown:
        raise ConfigError(
            f"{where}: unknown generator {unknown[0]!r} (Ferry expands {', '.join(_SUPPORTED)})"
        )
    if len(kinds) != 1:
        raise ConfigError(f"{where}: exactly one generator per entry, got {len(kinds) or 'none'}")
    kind = kinds[0]
    at = f"{where}.{kind}"
    body = _mapping(raw[kind], at)
    if body.get("template"):
        raise ConfigError(f"{at}.template: a generator's own template is not supported by Ferry")
    selector = parse_selector(raw["selector"], f"{where}.selector") if "selector" in raw else None
    spec: ListGenerator | ClustersGenerator | GitGenerator | MatrixGenerator
    if kind == "list":
        spec = _list_generator(body, at)
    elif kind == "clusters":
        _check_keys(body, ("selector", "values", "flatList", "template"), at)
        spec = ClustersGenerator(
            parse_selector(body.get("selector"), f"{at}.selector"),
            _string_map(body.get("values"), f"{at}.values"),
            bool(body.get("flatList", False)),
        )
    elif kind == "git":
        spec = _git_generator(body, at)
    else:
        if nested and any("matrix" in _mapping(c, at) for c in body.get("generators") or []):
            raise ConfigError(f"{at}: a matrix nests at most two levels deep")
        _check_keys(body, ("generators", "template"), at)
        children = body.get("generators") or []
        if not isinstance(children, list) or len(children) != 2:
            count = len(children) if isinstance(children, list) else "no list of"
            raise ConfigError(f"{at}.generators: a matrix takes exactly two generators, got {count}")
        first = parse_generator(children[0], f"{at}.generators[0]", nested=True)
        second = parse_generator(children[1], f"{at}.generators[1]", nested=True)
        spec = MatrixGenerator((first, second), (_mapping(children[0], at), _mapping(children[1], at)))
    return Generator(spec, selector, where)


def parse_applicationset(document: Mapping[str, Any]) -> ApplicationSet:
    """Validate one ApplicationSet document; the error names the field.

    >>> doc = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": "guestbook"},
    ...        "spec": {"generators": [{"list": {"elements": [{"cluster": "dev"}]}}],
    ...                 "template": {"metadata": {"name": "{{cluster}}-guestbook"}, "spec": {}}}}
    >>> parse_applicationset(doc).generators[0].spec.elements
    ({'cluster': 'dev'},)
    """
    if document.get("apiVersion") != API_VERSION:
        raise ConfigError(f"apiVersion must be {API_VERSION}, got {document.get('apiVersion')!r}")
    metadata = _mapping(document.get("metadata"), "metadata")
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError("metadata.name must be a non-empty string")
    spec = _mapping(document.get("spec"), "spec")
    if spec.get("templatePatch"):
        raise ConfigError("spec.templatePatch is not supported by Ferry")
    go = spec.get("goTemplate", False)
    if not isinstance(go, bool):
        raise ConfigError("spec.goTemplate must be true or false")
    options = spec.get("goTemplateOptions") or []
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise ConfigError("spec.goTemplateOptions must be a list of strings")
    try:
        language = Language.of(go, tuple(options))
    except ConfigError as exc:
        raise ConfigError(f"spec.goTemplateOptions: {exc.message}") from exc
    raw_generators = spec.get("generators")
    if not isinstance(raw_generators, list) or not raw_generators:
        raise ConfigError("spec.generators must be a non-empty list")
    generators = tuple(parse_generator(g, f"spec.generators[{i}]") for i, g in enumerate(raw_generators))
    template = _mapping(spec.get("template"), "spec.template")
    if not template:
        raise ConfigError("spec.template is required")
    # Generators' own strings are rendered only where Argo CD renders them (values, a matrix's second
    # child); their errors name the generator when the ApplicationSet is expanded.
    check_template(template, "spec.template", language)
    sync_policy = _mapping(spec.get("syncPolicy"), "spec.syncPolicy")
    return ApplicationSet(
        name=name,
        namespace=metadata.get("namespace"),
        generators=generators,
        template=template,
        language=language,
        steps=parse_strategy(spec.get("strategy"), "spec.strategy"),
        preserve_resources_on_deletion=bool(sync_policy.get("preserveResourcesOnDeletion", False)),
        labels=_string_map(metadata.get("labels"), "metadata.labels"),
    )
