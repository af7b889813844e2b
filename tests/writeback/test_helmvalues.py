"""The ``helmvalues[:path]`` target: in-place edits and target path resolution."""

from __future__ import annotations

import pytest

from ferry.errors import ConfigError, UnsafePathError
from ferry.writeback.helmvalues import get_helm_value, resolve_target_path, set_helm_values

VALUES = b"""\
# Default values for echo-server.
replicaCount: 1

image:
  echoServer:
    repository: registry.cn-hangzhou.aliyuncs.com/haoshuwei24/echo-server
    pullPolicy: IfNotPresent
    # Overrides the image tag whose default is the chart appVersion.
    tag: "v1.0"

ingress:
  hosts:
    - host: chart-example.local
      paths:
        - path: /
resources: {}
"""


def test_seed_update_keeps_comments_order_and_quotes() -> None:
    out = set_helm_values(
        VALUES,
        [
            ("image.echoServer.tag", "v3-5a7147"),
            ("image.echoServer.repository", "127.0.0.1:5000/cidemo/echo-server"),
        ],
        source="values-dev.yaml",
    )
    assert out == VALUES.replace(b'tag: "v1.0"', b'tag: "v3-5a7147"').replace(
        b"registry.cn-hangzhou.aliyuncs.com/haoshuwei24/echo-server", b"127.0.0.1:5000/cidemo/echo-server"
    )


def test_value_already_set_returns_the_input_unchanged() -> None:
    assert set_helm_values(VALUES, [("image.echoServer.tag", "v1.0")], source="v") is VALUES


EDITS = [
    (b"image:\n  tag: v1  # pinned\n", [("image.tag", "v2")], b"image:\n  tag: v2  # pinned\n"),
    (b"image:\n  tag: v1\n", [("image.tag", "1.0")], b'image:\n  tag: "1.0"\n'),
    (b"image:\n  tag: 'v1'\n", [("image.tag", "v2")], b"image:\n  tag: 'v2'\n"),
    (b"image:\n  tag: 1.5\n", [("image.tag", "v2")], b"image:\n  tag: v2\n"),
    (b"image.tag: v1\nimage:\n  tag: v1\n", [("image.tag", "v2")], b"image.tag: v2\nimage:\n  tag: v1\n"),
    (b"a: 1\n", [("image.echoServer.tag", "v2")], b"a: 1\nimage:\n  echoServer:\n    tag: v2\n"),
    (b"image:\n  repo: r\n", [("image.tag", "v2")], b"image:\n  repo: r\n  tag: v2\n"),
    (b"", [("image.tag", "v2")], b"image:\n  tag: v2\n"),
    (b"image:\n    tag: v1\nlist:\n  - a\n", [("image.tag", "v2")], b"image:\n    tag: v2\nlist:\n  - a\n"),
    (b"---\nimage:\n  tag: v1\n", [("image.tag", "v2")], b"---\nimage:\n  tag: v2\n"),
    (b"image:\n  tag:\n", [("image.tag", "v2")], b"image:\n  tag: v2\n"),
]


@pytest.mark.parametrize(
    ("existing", "assignments", "expected"),
    EDITS,
    ids=[
        "line comment kept",
        "value that would be a float gets quoted",
        "single quotes kept",
        "number replaced by plain string",
        "literal dotted key at top level wins",
        "missing maps created",
        "new key appended to existing map",
        "empty file",
        "four-space indent and indented lists kept",
        "document start kept",
        "null value replaced",
    ],
)
def test_edits(existing: bytes, assignments: list[tuple[str, str]], expected: bytes) -> None:
    assert set_helm_values(existing, assignments, source="values.yaml") == expected


@pytest.mark.parametrize(
    ("existing", "path", "message"),
    [
        (b"image: nginx\n", "image.tag", "'image' is not a mapping"),
        (b"image:\n  tags: [a]\n", "image.tags.x", "'image.tags' is not a mapping"),
        (b"image:\n  tag:\n    v: 1\n", "image.tag", "is a mapping or list"),
    ],
    ids=["through a string", "through a list", "onto a mapping"],
)
def test_path_through_a_non_map_names_path_and_file(existing: bytes, path: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        set_helm_values(existing, [(path, "v2")], source="charts/values-dev.yaml")
    assert message in str(caught.value)
    assert caught.value.key == path
    assert "charts/values-dev.yaml" in str(caught.value)


@pytest.mark.parametrize(
    "existing",
    [b"a: [\n", b"a: 1\n---\nb: 2\n", b"- a\n", b"\xff"],
    ids=["unparseable", "two documents", "root is a list", "not utf-8"],
)
def test_bad_values_file_is_refused(existing: bytes) -> None:
    with pytest.raises(ConfigError, match=r"values-dev\.yaml"):
        set_helm_values(existing, [("image.tag", "v2")], source="values-dev.yaml")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("image.echoServer.tag", "v1.0"),
        ("image.echoServer.repository", "registry.cn-hangzhou.aliyuncs.com/haoshuwei24/echo-server"),
        ("image.echoWebServer.tag", None),
        ("replicaCount", "1"),
    ],
    ids=["quoted tag", "repository", "absent", "number as written"],
)
def test_get_helm_value(path: str, expected: str | None) -> None:
    assert get_helm_value(VALUES, path) == expected


def test_get_helm_value_through_a_scalar_is_an_error() -> None:
    with pytest.raises(ConfigError, match="not a mapping"):
        get_helm_value(b"image: nginx\n", "image.tag", source="v.yaml")


TARGETS = [
    ("helmvalues", "manifests/helm/echo-server", "manifests/helm/echo-server/values.yaml"),
    (
        "helmvalues:values-dev.yaml",
        "manifests/helm/echo-server",
        "manifests/helm/echo-server/values-dev.yaml",
    ),
    ("helmvalues:/env/dev/values.yaml", "manifests/helm/echo-server", "env/dev/values.yaml"),
    ("helmvalues:../common/values.yaml", "manifests/helm/echo-server", "manifests/helm/common/values.yaml"),
    ("helmvalues", ".", "values.yaml"),
    ("kustomization", "overlays/dev", "overlays/dev"),
    ("kustomization:", "overlays/dev", "overlays/dev"),
    ("kustomization:../../base", "overlays/dev", "base"),
    ("kustomization:/base", "overlays/dev", "base"),
    ("kustomization:/", "overlays/dev", "."),
]


@pytest.mark.parametrize(
    ("annotation", "source_path", "expected"),
    TARGETS,
    ids=[
        "helmvalues default file",
        "relative file",
        "repo-root file",
        "relative parent inside repo",
        "source at repo root",
        "kustomization default",
        "kustomization empty path",
        "kustomization relative",
        "kustomization repo-root",
        "kustomization repo root itself",
    ],
)
def test_resolve_target_path(annotation: str, source_path: str, expected: str) -> None:
    assert resolve_target_path(annotation, source_path) == expected


@pytest.mark.parametrize(
    ("annotation", "source_path", "error"),
    [
        ("helmvalues:../../../x.yaml", "a/b", UnsafePathError),
        ("kustomization:../..", "a", UnsafePathError),
        ("helmvalues:/../x.yaml", "a", UnsafePathError),
        ("helmvalues", "../outside", UnsafePathError),
        ("helmvalues:", "a", ConfigError),
        ("helmvaluesx", "a", ConfigError),
        ("argocd", "a", ConfigError),
    ],
    ids=["relative escape", "kustomization escape", "root-relative escape", "source path escape",
         "helmvalues without file", "prefix only", "unknown target"],
)  # fmt: skip
def test_resolve_target_path_refusals(annotation: str, source_path: str, error: type[ConfigError]) -> None:
    with pytest.raises(error) as caught:
        resolve_target_path(annotation, source_path)
    assert type(caught.value) is error
