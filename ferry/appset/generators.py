"""The parameter sets each generator yields, as Argo CD's ``GenerateParams`` builds them.

With fasttemplate (``goTemplate: false``) parameters are flat string maps (``path.basename``,
``metadata.labels.env``, ``values.x``); with Go templates they nest (``.path.basename``,
``.metadata.labels.env``, ``.values.x``). :func:`generate` applies a generator's own ``selector``
to its flattened parameters, as Argo CD's ``Transform`` does.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from ferry import safeyaml
from ferry.appset.gofuncs import GoTemplateError, go_print, json_numbers, sanitize_name
from ferry.appset.model import (
    ClustersGenerator,
    Generator,
    GitGenerator,
    ListGenerator,
    MatrixGenerator,
    parse_generator,
)
from ferry.appset.render import Language, render_string, render_value
from ferry.appset.tree import Tree, check_pattern
from ferry.errors import ConfigError

__all__ = ["IN_CLUSTER_SERVER", "Cluster", "Context", "flatten", "generate"]

IN_CLUSTER_SERVER = "https://kubernetes.default.svc"
CLUSTER_KIND_LABEL = "argocd.argoproj.io/secret-type"

Params = dict[str, Any]
# A matrix multiplies: the product is bounded, as the deploy repo that writes it is not trusted.
MAX_PARAMETER_SETS = 10_000


@dataclass(frozen=True, slots=True)
class Cluster:
    """A cluster as the ``clusters`` generator sees it: Argo CD's cluster Secret, from ``ferry.yaml``."""

    name: str
    server: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    project: str = ""


@dataclass(frozen=True, slots=True)
class Context:
    """What generators read besides the ApplicationSet.

    ``in_cluster``: add Argo CD's local cluster (``in-cluster``) when no selector is given and no
    cluster has its server URL, as Argo CD does; Ferry's loader turns it off, having no such cluster.
    ``trees`` gives the checkout of a ``git`` generator's ``repoURL`` and ``revision``.
    """

    clusters: tuple[Cluster, ...] = ()
    trees: Callable[[str, str], Tree] | None = None
    in_cluster: bool = True


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Dotted keys, values printed as Go's ``%v`` (jeremywohl/flatten in DotStyle)."""
    out: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name + "."))
        elif isinstance(value, (list, tuple)) and value:
            out.update(flatten({str(i): v for i, v in enumerate(value)}, name + "."))
        else:
            out[name] = value if isinstance(value, str) else go_print(value, top=False)
    return out


def _with_values(params: Params, values: Mapping[str, str], language: Language) -> Params:
    # Values see the generator's own parameters, never each other (Argo CD's billion-laughs guard).
    try:
        rendered = {key: render_string(value, params, language) for key, value in values.items()}
    except GoTemplateError as exc:
        raise GoTemplateError(f"values: {exc.message}") from exc
    if not rendered:
        return params
    if language.go:
        return {**params, "values": rendered}
    return {**params, **{f"values.{k}": v for k, v in rendered.items()}}


def _elements_yaml(text: str, where: str) -> list[Params]:
    if not text:
        return []
    try:
        loaded = safeyaml.load(text.encode(), source=f"{where}.elementsYaml")
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}.elementsYaml: error unmarshling decoded ElementsYaml: {exc}") from exc
    if not isinstance(loaded, list) or not all(isinstance(e, Mapping) for e in loaded):
        raise ConfigError(f"{where}.elementsYaml must be a YAML list of mappings")
    # Appended as decoded, in either template language, as Argo CD does.
    return [json_numbers(dict(e)) for e in loaded]


def _list(spec: ListGenerator, language: Language, where: str) -> list[Params]:
    if language.go:
        return [json_numbers(dict(e)) for e in spec.elements] + _elements_yaml(spec.elements_yaml, where)
    out: list[Params] = []
    for index, element in enumerate(spec.elements):
        params: Params = {}
        for key, value in element.items():
            if key == "values" and isinstance(value, Mapping):
                for name, item in value.items():
                    if not isinstance(item, str):
                        raise ConfigError(
                            f"{where}.elements[{index}].values.{name}: error parsing value as string"
                        )
                    params[f"values.{name}"] = item
            elif isinstance(value, str):
                params[key] = value
            else:
                raise ConfigError(
                    f"{where}.elements[{index}].{key}: error parsing value as string "
                    "(without goTemplate every element value must be a string)"
                )
        out.append(params)
    return out + _elements_yaml(spec.elements_yaml, where)


def _cluster_params(cluster: Cluster, language: Language) -> Params:
    params: Params = {
        "name": cluster.name,
        "nameNormalized": sanitize_name(cluster.name),
        "server": cluster.server,
        "project": cluster.project,
    }
    labels = {CLUSTER_KIND_LABEL: "cluster", **cluster.labels}
    if language.go:
        metadata: Params = {}
        if cluster.annotations:
            metadata["annotations"] = dict(cluster.annotations)
        metadata["labels"] = labels
        params["metadata"] = metadata
    else:
        params.update({f"metadata.annotations.{k}": v for k, v in cluster.annotations.items()})
        params.update({f"metadata.labels.{k}": v for k, v in labels.items()})
    return params


def _clusters(spec: ClustersGenerator, language: Language, context: Context) -> list[Params]:
    out: list[Params] = []
    for cluster in context.clusters:
        labels = {CLUSTER_KIND_LABEL: "cluster", **cluster.labels}
        if spec.selector.matches(labels):
            out.append(_with_values(_cluster_params(cluster, language), spec.values, language))
    local_known = any(c.server == IN_CLUSTER_SERVER for c in context.clusters)
    if context.in_cluster and spec.selector.empty and not local_known:
        local: Params = {"name": "in-cluster", "nameNormalized": "in-cluster", "server": IN_CLUSTER_SERVER}
        out.append(_with_values({**local, "project": ""}, spec.values, language))
    if spec.flat_list:
        return [{"clusters": out}]
    return out


def _path_params(directory: str, language: Language, prefix: str, filename: str | None) -> Params:
    if language.go:
        path: Params = {"path": directory, "basename": posixpath.basename(directory)}
        if filename is not None:
            path["filename"] = filename
            path["filenameNormalized"] = sanitize_name(filename)
        path["basenameNormalized"] = sanitize_name(posixpath.basename(directory))
        path["segments"] = directory.split("/")
        return {prefix: {"path": path}} if prefix else {"path": path}
    name = f"{prefix}.path" if prefix else "path"
    params: Params = {
        name: directory,
        f"{name}.basename": posixpath.basename(directory),
        f"{name}.basenameNormalized": sanitize_name(posixpath.basename(directory)),
    }
    if filename is not None:
        params[f"{name}.filename"] = filename
        params[f"{name}.filenameNormalized"] = sanitize_name(filename)
    for index, segment in enumerate(directory.split("/")):
        if segment:
            params[f"{name}[{index}]"] = segment
    return params


def _match_directory(pattern: str, path: str) -> bool:
    """Go's ``path.Match``: ``*`` and ``?`` never cross ``/``."""
    parts, names = pattern.split("/"), path.split("/")
    return len(parts) == len(names) and all(_segment_match(p, n) for p, n in zip(parts, names, strict=True))


def _segment_match(pattern: str, name: str) -> bool:
    return fnmatch.fnmatchcase(name, pattern.replace("[^", "[!"))


def git_directories(spec: GitGenerator, tree: Tree, language: Language) -> list[Params]:
    """Directories that an included path matches and no excluded path does, in the tree's order."""
    chosen = [
        path
        for path in tree.directories()
        if any(_match_directory(d.path, path) for d in spec.directories if not d.exclude)
        and not any(_match_directory(d.path, path) for d in spec.directories if d.exclude)
    ]
    return [
        _with_values(_path_params(p, language, spec.path_param_prefix, None), spec.values, language)
        for p in chosen
    ]


def _file_objects(content: bytes, source: str) -> list[Mapping[str, Any]]:
    try:
        loaded = safeyaml.load(content, source=source)
    except yaml.YAMLError as exc:
        raise ConfigError(f"unable to parse file: {exc}") from exc
    if loaded is None:
        return [{}]
    if isinstance(loaded, Mapping):
        return [loaded]
    if isinstance(loaded, list) and all(isinstance(o, Mapping) for o in loaded):
        return list(loaded)
    raise ConfigError("unable to parse file: neither a mapping nor a list of mappings")


def git_files(spec: GitGenerator, tree: Tree, language: Language) -> list[Params]:
    """Parameters from each JSON/YAML file included and not excluded, files in path order."""
    chosen: set[str] = set()
    for item in spec.files:
        if not item.exclude:
            chosen.update(tree.files(item.path))
    for item in spec.files:
        if item.exclude:
            chosen.difference_update(tree.files(item.path))
    out: list[Params] = []
    for path in sorted(chosen):
        try:
            objects = _file_objects(tree.read(path), path)
        except ConfigError as exc:
            raise ConfigError(
                f"unable to process file '{path}' from repository '{spec.repo_url}': {exc}"
            ) from exc
        directory = posixpath.dirname(path) or "."
        for found in objects:
            # Argo CD decodes files through JSON: every number is a float64 there.
            own = json_numbers(dict(found)) if language.go else flatten(json_numbers(found))
            params = {
                **own,
                **_path_params(directory, language, spec.path_param_prefix, posixpath.basename(path)),
            }
            out.append(_with_values(params, spec.values, language))
    return out


def _git(spec: GitGenerator, language: Language, context: Context, where: str) -> list[Params]:
    for item in (*spec.directories, *spec.files):
        check_pattern(item.path, f"{where}.path")
    if context.trees is None:
        raise ConfigError(f"{where}: no checkout of {spec.repo_url} to read (the git generator needs one)")
    tree = context.trees(spec.repo_url, spec.revision)
    if spec.directories:
        return git_directories(spec, tree, language)
    return git_files(spec, tree, language)


def _merge(first: Mapping[str, Any], second: Mapping[str, Any]) -> Params:
    """The first child's parameters win, nested maps merged (mergo.WithOverride, first applied last)."""
    merged: Params = dict(second)
    for key, value in first.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(value, merged[key])
        else:
            merged[key] = value
    return merged


def _combine(first: Mapping[str, Any], second: Mapping[str, Any], where: str) -> Params:
    for key, value in second.items():
        if key in first and first[key] != value:
            raise ConfigError(
                f"{where}: found duplicate key {key} with different value, a: {first[key]} ,b: {value}"
            )
    return {**first, **second}


def _interpolate(raw: Mapping[str, Any], params: Params, language: Language) -> Any:
    """The matrix's second child rendered with one parameter set of the first."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, Mapping) and "values" in value and isinstance(value["values"], Mapping):
            # Values may name the second child's own parameters: a key missing now stays to be resolved later.
            strict = Language(go=language.go, missingkey_error=True)
            values: dict[str, Any] = {}
            for name, item in value["values"].items():
                try:
                    values[name] = render_string(item, params, strict) if isinstance(item, str) else item
                except GoTemplateError:
                    values[name] = item
            rest = render_value({k: v for k, v in value.items() if k != "values"}, params, language)
            out[key] = {**rest, "values": values}
        else:
            out[key] = render_value(value, params, language)
    return out


def _matrix(spec: MatrixGenerator, language: Language, context: Context, where: str) -> list[Params]:
    out: list[Params] = []
    for first in generate(spec.children[0], language, context):
        try:
            raw = _interpolate(spec.raw_children[1], first, language)
        except GoTemplateError as exc:
            raise ConfigError(f"{where}.generators[1]: {exc.message}") from exc
        second = parse_generator(raw, f"{where}.generators[1]", nested=True)
        for other in generate(second, language, context):
            out.append(_merge(first, other) if language.go else _combine(first, other, where))
        if len(out) > MAX_PARAMETER_SETS:
            raise ConfigError(f"{where}: more than {MAX_PARAMETER_SETS} parameter sets")
    return out


def generate(generator: Generator, language: Language, context: Context) -> list[Params]:
    """The parameter sets of one generator, after its ``selector``."""
    spec = generator.spec
    where = generator.where
    try:
        if isinstance(spec, ListGenerator):
            params = _list(spec, language, f"{where}.list")
        elif isinstance(spec, ClustersGenerator):
            params = _clusters(spec, language, context)
        elif isinstance(spec, GitGenerator):
            params = _git(spec, language, context, f"{where}.git")
        else:
            params = _matrix(spec, language, context, f"{where}.matrix")
    except GoTemplateError as exc:
        # A failed render of the generator's values: name the generator.
        kind = {ListGenerator: "list", ClustersGenerator: "clusters", GitGenerator: "git"}.get(
            type(spec), "matrix"
        )
        raise ConfigError(f"{where}.{kind}.{exc.message}") from exc
    if generator.selector is None:
        return params
    selector = generator.selector
    return [p for p in params if selector.matches(flatten(p))]


def generate_all(generators: Sequence[Generator], language: Language, context: Context) -> list[Params]:
    """Every generator's parameter sets, in order."""
    return [p for g in generators for p in generate(g, language, context)]
