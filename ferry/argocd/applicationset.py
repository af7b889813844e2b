"""ApplicationSet documents found beside the Applications, expanded with :mod:`ferry.appset`.

The loader of :mod:`ferry.argocd.application` hands every ``kind: ApplicationSet`` document here
and validates the generated Application documents as it validates written ones. A bad
ApplicationSet is one :class:`ConfigError` naming the file, the ApplicationSet and the field; it
does not hide the other files.

The clusters generator runs over ``ferry.yaml``'s ``clusters:`` (their ``labels`` and
``annotations`` play the cluster Secret's); the git generator reads the checkout that holds the
ApplicationSet file (see :func:`checkout_trees`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferry.appset.expand import Expansion, expand
from ferry.appset.generators import Cluster, Context
from ferry.appset.model import KIND, parse_applicationset
from ferry.appset.tree import DirectoryTree, Tree
from ferry.config import FerryConfig
from ferry.errors import ConfigError

__all__ = [
    "KIND",
    "LoadedApplicationSet",
    "TreeResolver",
    "checkout_trees",
    "config_clusters",
    "expand_document",
]

TreeResolver = Callable[[Path, str, str], Tree]  # (the ApplicationSet file, repoURL, revision)


@dataclass(frozen=True, slots=True)
class LoadedApplicationSet:
    name: str
    source: str
    expansion: Expansion


def config_clusters(config: FerryConfig) -> tuple[Cluster, ...]:
    """``ferry.yaml``'s clusters as the clusters generator sees Argo CD's cluster Secrets."""
    return tuple(
        Cluster(c.name, c.server or "", dict(c.labels), dict(c.annotations), c.project)
        for c in config.clusters
    )


def _checkout_root(path: Path) -> Path | None:
    for candidate in (path.parent, *path.parent.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def checkout_trees(path: Path, repo_url: str, revision: str) -> Tree:
    """The work tree holding ``path``: the deploy repo as checked out, whatever ``revision`` says."""
    root = _checkout_root(path.resolve())
    if root is None:
        raise ConfigError(
            f"the git generator of {repo_url} needs the ApplicationSet to sit in a git checkout of it"
        )
    return DirectoryTree(root)


def expand_document(
    document: Mapping[str, Any],
    *,
    path: Path,
    where: str,
    clusters: Sequence[Cluster],
    trees: TreeResolver | None,
) -> LoadedApplicationSet:
    """Expand one ApplicationSet document read from ``path``; errors name ``where`` and the ApplicationSet."""
    metadata = document.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    resolver = trees or checkout_trees
    context = Context(
        clusters=tuple(clusters),
        trees=lambda url, revision: resolver(path, url, revision),
        in_cluster=False,
    )
    try:
        appset = parse_applicationset(document)
        expansion = expand(appset, context)
    except ConfigError as exc:
        label = f"ApplicationSet {name!r}" if isinstance(name, str) else "ApplicationSet"
        raise ConfigError(f"invalid {label}: {exc.message}", source=where) from exc
    return LoadedApplicationSet(appset.name, where, expansion)
