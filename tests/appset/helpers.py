"""Helpers of the ApplicationSet tests: a repository revision in memory, and Argo CD's test clusters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ferry.appset.generators import Cluster, Context, generate
from ferry.appset.model import parse_generator
from ferry.appset.render import Language
from ferry.appset.tree import Tree, pathspec_matches


@dataclass
class MemoryTree:
    """What Argo CD's tests mock the repo server with: a list of directories and files' contents."""

    dirs: list[str] = field(default_factory=list)
    contents: dict[str, bytes] = field(default_factory=dict)
    asked: list[tuple[str, str]] = field(default_factory=list)

    def directories(self) -> list[str]:
        return list(self.dirs)

    def files(self, pattern: str) -> list[str]:
        return sorted(p for p in self.contents if pathspec_matches(pattern, p))

    def read(self, path: str) -> bytes:
        return self.contents[path]


# cluster_test.go's two cluster Secrets (TestGenerateParams; its GoTemplate twin has no project).
STAGING = Cluster(
    "staging-01",
    "https://staging-01.example.com",
    labels={"argocd.argoproj.io/secret-type": "cluster", "environment": "staging", "org": "foo"},
    annotations={"foo.argoproj.io": "staging"},
)
PRODUCTION = Cluster(
    "production_01/west",
    "https://production-01.example.com",
    labels={"argocd.argoproj.io/secret-type": "cluster", "environment": "production", "org": "bar"},
    annotations={"foo.argoproj.io": "production"},
    project="prod-project",
)


def params_of(
    raw: Mapping[str, Any],
    *,
    go: bool = False,
    strict: bool = False,
    clusters: tuple[Cluster, ...] = (),
    tree: Tree | None = None,
) -> list[dict[str, Any]]:
    """The parameter sets of one generator written as in a manifest."""
    context = Context(clusters=clusters, trees=(lambda url, rev: tree) if tree is not None else None)
    return generate(parse_generator(raw, "spec.generators[0]"), Language(go, strict), context)


def unordered(items: list[dict[str, Any]]) -> list[str]:
    """Argo CD's tests compare with ElementsMatch: order does not count."""
    return sorted(repr(sorted(i.items())) for i in items)
