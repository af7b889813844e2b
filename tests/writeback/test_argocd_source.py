"""The ``.argocd-source-<app>.yaml`` target: exact bytes, merge rules, and refusals."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ferry.errors import ConfigError, UnsafePathError
from ferry.writeback.argocd_source import (
    HelmParameter,
    default_target_path,
    helm_image_parameters,
    merge_kustomize_images,
    read_helm_parameters,
    read_kustomize_images,
    render_helm_override,
    render_kustomize_override,
)

SOURCE = "manifests/helm/echo-server/.argocd-source-app-helm-dev.yaml"
SEED_PARAMS = helm_image_parameters(
    image_name="127.0.0.1:5000/cidemo/echo-server",
    tag="v3-5a7147",
    name_param="image.echoServer.repository",
    tag_param="image.echoServer.tag",
)
SEED_FILE = (
    b"helm:\n"
    b"  parameters:\n"
    b"  - name: image.echoServer.repository\n"
    b"    value: 127.0.0.1:5000/cidemo/echo-server\n"
    b"    forcestring: true\n"
    b"  - name: image.echoServer.tag\n"
    b"    value: v3-5a7147\n"
    b"    forcestring: true\n"
)


def test_seed_new_file_is_byte_for_byte() -> None:
    assert render_helm_override(None, SEED_PARAMS, source=SOURCE) == SEED_FILE


def test_seed_second_image_appends_after_the_first() -> None:
    web = helm_image_parameters(
        image_name="127.0.0.1:5000/cidemo/echo-web-server",
        tag="v3-5a7147",
        name_param="image.echoWebServer.repository",
        tag_param="image.echoWebServer.tag",
    )
    assert render_helm_override(SEED_FILE, web, source=SOURCE) == SEED_FILE + (
        b"  - name: image.echoWebServer.repository\n"
        b"    value: 127.0.0.1:5000/cidemo/echo-web-server\n"
        b"    forcestring: true\n"
        b"  - name: image.echoWebServer.tag\n"
        b"    value: v3-5a7147\n"
        b"    forcestring: true\n"
    )


@pytest.mark.parametrize("app", ["app-helm-dev", "app-helm-staging", "app-helm-production"])
def test_each_seed_app_gets_its_own_file(app: str) -> None:
    assert default_target_path(app, "manifests/helm/echo-server") == (
        f"manifests/helm/echo-server/.argocd-source-{app}.yaml"
    )


def test_rendering_twice_changes_nothing() -> None:
    assert render_helm_override(SEED_FILE, SEED_PARAMS, source=SOURCE) == SEED_FILE


MERGE_CASES = [
    (
        b"helm:\n  parameters:\n  - name: replicaCount\n    value: \"3\"\n    forcestring: true\n",
        [HelmParameter("image.tag", "v2")],
        b"helm:\n  parameters:\n  - name: replicaCount\n    value: \"3\"\n    forcestring: true\n"
        b"  - name: image.tag\n    value: v2\n    forcestring: true\n",
    ),
    (
        b"helm:\n  parameters:\n  - name: image.tag\n    value: v1\n    forcestring: true\n"
        b"  - name: other\n    value: x\n    forcestring: true\n",
        [HelmParameter("image.tag", "v2")],
        b"helm:\n  parameters:\n  - name: image.tag\n    value: v2\n    forcestring: true\n"
        b"  - name: other\n    value: x\n    forcestring: true\n",
    ),
    (
        b"helm:\n  parameters:\n  - name: debug\n    value: \"true\"\n",
        [HelmParameter("image.tag", "v2")],
        b"helm:\n  parameters:\n  - name: debug\n    value: \"true\"\n    forcestring: false\n"
        b"  - name: image.tag\n    value: v2\n    forcestring: true\n",
    ),
    (
        b"# written by hand\nhelm:\n  parameters:\n"
        b"    - name: a\n      value: 1.10\n      forcestring: yes\n",
        [],
        b"helm:\n  parameters:\n  - name: a\n    value: \"1.10\"\n    forcestring: true\n",
    ),
    (
        b"# nothing yet\n",
        [HelmParameter("a", "1")],
        b'helm:\n  parameters:\n  - name: a\n    value: "1"\n    forcestring: true\n',
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("existing", "params", "expected"),
    MERGE_CASES,
    ids=[
        "merge into a file with other params",
        "replace a param in place",
        "forcestring false param kept (and written out)",
        "yaml.v3 decoding: raw scalar text, yes is a bool, comments dropped",
        "comment-only file counts as empty",
    ],
)
def test_helm_merge(existing: bytes, params: list[HelmParameter], expected: bytes) -> None:
    assert render_helm_override(existing, params, source=SOURCE) == expected


REFUSALS = [
    (b"helm: [unclosed\n", "does not parse"),
    (b"helm:\n  parameters: []\n---\nhelm: {}\n", "does not parse"),
    (b"- just a list\n", "not a mapping"),
    (b"helm:\n  parameters: []\nkustomize:\n  images: []\n", "'kustomize'"),
    (b"helm:\n  parameters:\n  - name: a\n    value: b\n    forceString: true\n", "'forceString'"),
    (b"helm:\n  values: |\n    a: b\n", "'values'"),
    (b"helm:\n  parameters:\n  - name: a\n    forcestring: maybe\n", "true or false"),
    (b"helm:\n  parameters:\n  - name: {a: b}\n", "must be a string"),
    (b"helm:\n  parameters: {a: b}\n", "must be a list"),
    (b"helm:\n  parameters: []\n  parameters: []\n", "repeated"),
    (b"\xff\xfe", "does not parse"),
]


@pytest.mark.parametrize(
    ("existing", "message"),
    REFUSALS,
    ids=[
        "unparseable",
        "two documents",
        "root not a mapping",
        "extra top-level key",
        "camelCase forceString would be dropped",
        "unknown helm key",
        "forcestring not a bool",
        "name not a string",
        "parameters not a list",
        "duplicate key",
        "not utf-8",
    ],
)
def test_existing_file_that_would_lose_data_is_refused(existing: bytes, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        render_helm_override(existing, SEED_PARAMS, source=SOURCE)
    assert caught.value.source == SOURCE
    assert message in str(caught.value)
    assert SOURCE in str(caught.value)


def test_read_helm_parameters_finds_the_current_image() -> None:
    assert read_helm_parameters(SEED_FILE, source=SOURCE) == SEED_PARAMS
    assert read_helm_parameters(None, source=SOURCE) == []


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"image_name": "r/x", "tag": "v1"}, [("image.name", "r/x"), ("image.tag", "v1")]),
        ({"image_name": "r/x", "tag": "v1", "digest": "sha256:ab"},
         [("image.name", "r/x"), ("image.tag", "v1@sha256:ab")]),
        ({"image_name": "r/x", "tag": None, "digest": "sha256:ab"},
         [("image.name", "r/x"), ("image.tag", "latest@sha256:ab")]),
        ({"image_name": "r/x", "tag": None}, [("image.name", "r/x")]),
        ({"image_name": "r/x", "tag": "v1", "spec_param": "img", "name_param": "n"}, [("img", "r/x:v1")]),
        ({"image_name": "r/x", "tag": None, "digest": "sha256:ab", "spec_param": "img"},
         [("img", "r/x@sha256:ab")]),
    ],
    ids=["defaults", "digest strategy", "digest without tag", "no tag writes no tag param",
         "image-spec wins", "image-spec with digest only"],
)  # fmt: skip
def test_helm_image_parameters(kwargs: dict[str, str | None], expected: list[tuple[str, str]]) -> None:
    params = helm_image_parameters(**kwargs)  # type: ignore[arg-type]
    assert [(p.name, p.value) for p in params] == expected
    assert all(p.forcestring for p in params)


KUSTOMIZE_MERGES = [
    (["nginx=r.io/nginx:1.0"], ["nginx=r.io/nginx:1.1"], ["nginx=r.io/nginx:1.1"]),
    (["a=r.io/nginx:1.0"], ["b=r.io/nginx:1.0"], ["a=r.io/nginx:1.0"]),
    (["r.io/nginx"], ["r.io/nginx:1.0"], ["r.io/nginx:1.0"]),
    (["r.io/nginx:1.0"], ["r.io/redis:7"], ["r.io/nginx:1.0", "r.io/redis:7"]),
    (["r.io/nginx:1.0"], ["q.io/nginx:1.0"], ["r.io/nginx:1.0", "q.io/nginx:1.0"]),
    (["nginx:1.0"], ["docker.io/library/nginx:1.1"], ["nginx:1.0", "docker.io/library/nginx:1.1"]),
    (["r.io/x:1@sha256:" + "a" * 64], ["r.io/x:1@sha256:" + "b" * 64], ["r.io/x:1@sha256:" + "b" * 64]),
    (["r.io/x:1"], ["r.io/x"], ["r.io/x:1"]),
]


@pytest.mark.parametrize(
    ("existing", "updates", "expected"),
    KUSTOMIZE_MERGES,
    ids=[
        "same name new tag replaced",
        "same tag kept as written",
        "untagged entry replaced",
        "new image appended",
        "other registry is another image",
        "docker.io spelled out is another registry",
        "digest decides",
        "update without tag keeps the tagged entry",
    ],
)
def test_kustomize_merge_by_image_name(existing: list[str], updates: list[str], expected: list[str]) -> None:
    assert merge_kustomize_images(existing, updates) == expected


def test_kustomize_file_bytes_and_merge() -> None:
    existing = b"kustomize:\n  images:\n  - nginx=r.io/nginx:1.0\n  - r.io/redis:7\n"
    out = render_kustomize_override(existing, ["nginx=r.io/nginx:1.1"], source="k/.argocd-source-a.yaml")
    assert out == b"kustomize:\n  images:\n  - nginx=r.io/nginx:1.1\n  - r.io/redis:7\n"
    assert read_kustomize_images(out, source="x") == ["nginx=r.io/nginx:1.1", "r.io/redis:7"]
    assert (
        render_kustomize_override(None, ["a=r.io/a:1.0"], source="x")
        == b"kustomize:\n  images:\n  - a=r.io/a:1.0\n"
    )


def test_kustomize_file_with_helm_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="'helm'"):
        render_kustomize_override(b"helm:\n  parameters: []\n", ["r.io/a:1"], source="x")


@pytest.mark.parametrize(
    "app",
    ["../etc", "a/b", "..", "a..b", "App", "-app", "app_1", "", "a" * 254, "x\\y"],
    ids=["parent", "slash", "dotdot", "inner dotdot", "uppercase", "leading dash", "underscore",
         "empty", "too long", "backslash"],
)  # fmt: skip
def test_unsafe_app_names_are_refused(app: str) -> None:
    with pytest.raises(UnsafePathError) as caught:
        default_target_path(app, "manifests")
    assert caught.value.application == app


@pytest.mark.parametrize(
    ("source_path", "expected"),
    [
        (".", ".argocd-source-app.yaml"),
        ("", ".argocd-source-app.yaml"),
        ("/manifests/", "manifests/.argocd-source-app.yaml"),
        ("a/./b/../c", "a/c/.argocd-source-app.yaml"),
    ],
    ids=["root", "empty", "leading slash is the repo root", "normalised"],
)
def test_default_target_path_is_normalised(source_path: str, expected: str) -> None:
    assert default_target_path("app", source_path) == expected


def test_source_path_escaping_the_repo_is_refused() -> None:
    with pytest.raises(UnsafePathError, match="outside the repository"):
        default_target_path("app", "manifests/../../etc")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=12), st.text(max_size=12), st.booleans()),
        min_size=1,
        max_size=4,
    )
)
def test_rendered_values_read_back(entries: list[tuple[str, str, bool]]) -> None:
    if any(text in {"=", "<<"} for name, value, _ in entries for text in (name, value)):
        return  # PyYAML-only tags, see test_goyaml.PYYAML_ONLY_TAGS
    params = [HelmParameter(name, value, force) for name, value, force in entries]
    rendered = render_helm_override(None, params, source=SOURCE)
    loaded = yaml.safe_load(rendered)["helm"]["parameters"]
    assert [(p["name"], p["value"], p["forcestring"]) for p in loaded] == entries
    assert read_helm_parameters(rendered, source=SOURCE) == params
