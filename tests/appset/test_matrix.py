"""The matrix generator, by Argo CD's matrix_test.go.

Where Argo CD mocks a child generator's parameters, a real list or git generator over a
:class:`MemoryTree` yields the same ones (the git generator adds its ``path[n]`` parameters).
"""

from __future__ import annotations

from typing import Any

import pytest

from ferry.appset.generators import Cluster, Context, generate
from ferry.appset.model import parse_generator
from ferry.appset.render import Language
from ferry.errors import ConfigError
from tests.appset.helpers import MemoryTree, params_of

GIT = {"git": {"repoURL": "RepoURL", "revision": "Revision", "directories": [{"path": "*"}]}}
APPS = MemoryTree(dirs=["app1", "app2"])


def _matrix(*children: dict[str, Any]) -> dict[str, Any]:
    return {"matrix": {"generators": list(children)}}


def _list(*elements: dict[str, Any]) -> dict[str, Any]:
    return {"list": {"elements": list(elements)}}


def test_happy_flow_git_by_list_renders_the_second_with_the_first() -> None:
    # TestMatrixGenerate "happy flow - generate params": the list's "templated" sees the git path.
    element = {"cluster": "Cluster", "url": "Url", "templated": "test-{{path.basenameNormalized}}"}
    got = params_of(_matrix(GIT, _list(element)), tree=APPS)
    assert got == [
        {"path": "app1", "path.basename": "app1", "path.basenameNormalized": "app1", "path[0]": "app1",
         "cluster": "Cluster", "url": "Url", "templated": "test-app1"},
        {"path": "app2", "path.basename": "app2", "path.basenameNormalized": "app2", "path[0]": "app2",
         "cluster": "Cluster", "url": "Url", "templated": "test-app2"},
    ]  # fmt: skip


@pytest.mark.parametrize("go", [False, True], ids=["fasttemplate", "gotemplate"])
def test_two_lists(go: bool) -> None:
    # "happy flow - generate params from two lists", in both TestMatrixGenerate and its GoTemplate twin
    got = params_of(_matrix(_list({"a": "1"}, {"a": "2"}), _list({"b": "1"}, {"b": "2"})), go=go)
    assert got == [{"a": "1", "b": "1"}, {"a": "1", "b": "2"}, {"a": "2", "b": "1"}, {"a": "2", "b": "2"}]


def test_go_template_git_by_list() -> None:
    # TestMatrixGenerateGoTemplate "happy flow - generate params"
    got = params_of(_matrix(GIT, _list({"cluster": "Cluster", "url": "Url"})), go=True, tree=APPS)
    assert got == [
        {"path": {"path": "app1", "basename": "app1", "basenameNormalized": "app1", "segments": ["app1"]},
         "cluster": "Cluster", "url": "Url"},
        {"path": {"path": "app2", "basename": "app2", "basenameNormalized": "app2", "segments": ["app2"]},
         "cluster": "Cluster", "url": "Url"},
    ]  # fmt: skip


def test_first_generator_takes_precedence() -> None:
    # "parameter override: first list elements take precedence"
    first = {"booleanFalse": False, "booleanTrue": True, "stringFalse": "false", "stringTrue": "true"}
    second = {"booleanFalse": True, "booleanTrue": False, "stringFalse": "true", "stringTrue": "false"}
    assert params_of(_matrix(_list(first), _list(second)), go=True) == [first]


def test_fasttemplate_conflicting_keys_are_an_error() -> None:
    # utils.CombineStringMaps: the same key with two values
    with pytest.raises(ConfigError, match="found duplicate key a with different value"):
        params_of(_matrix(_list({"a": "1"}), _list({"a": "2"})))


@pytest.mark.parametrize(
    ("children", "message"),
    [
        ([GIT], "a matrix takes exactly two generators, got 1"),
        ([_list({"a": "1"})] * 3, "a matrix takes exactly two generators, got 3"),
        ([{**GIT, **_list({"a": "1"})}, GIT], "exactly one generator per entry, got 2"),
        ([_list({"a": "1"}), {**GIT, **_list({"a": "1"})}], "exactly one generator per entry, got 2"),
    ],
    ids=["less than two", "more than two", "two in the first", "two in the second"],
)
def test_matrix_shape_errors(children: list[dict[str, Any]], message: str) -> None:
    # ErrLessThanTwoGenerators, ErrMoreThanTwoGenerators, ErrMoreThenOneInnerGenerators
    with pytest.raises(ConfigError, match=message):
        params_of(_matrix(*children), tree=APPS)


DEV = Cluster("dev-01", "https://dev-01.example.com", labels={"environment": "dev"})
PROD = Cluster("prod-01", "https://prod-01.example.com", labels={"environment": "prod"})
FILES = MemoryTree(
    contents={
        "examples/git-generator-files-discovery/cluster-config/dev/config.json": b"{}",
        "examples/git-generator-files-discovery/cluster-config/prod/config.json": b"{}",
    }
)


def test_interpolated_cluster_selector() -> None:
    # TestInterpolatedMatrixGenerate: the second generator's selector names the first's parameter.
    git = {
        "git": {
            "repoURL": "RepoURL",
            "revision": "Revision",
            "files": [
                {"path": "examples/git-generator-files-discovery/cluster-config/dev/config.json"},
                {"path": "examples/git-generator-files-discovery/cluster-config/prod/config.json"},
            ],
        }
    }
    clusters = {"clusters": {"selector": {"matchLabels": {"environment": "{{path.basename}}"}}}}
    got = params_of(_matrix(git, clusters), clusters=(DEV, PROD), tree=FILES)
    assert [(p["path.basename"], p["name"], p["server"]) for p in got] == [
        ("dev", "dev-01", "https://dev-01.example.com"),
        ("prod", "prod-01", "https://prod-01.example.com"),
    ]
    assert got[0]["metadata.labels.argocd.argoproj.io/secret-type"] == "cluster"


def test_interpolated_cluster_values_from_first_generator_with_missingkey_error() -> None:
    # TestInterpolatedMatrixGenerateGoTemplate_ClusterValuesFromFirstGenerator
    guestbook = Cluster(
        "guestbook-cluster", "https://guestbook.example.com", labels={"environment": "guestbook"}
    )
    git = {
        "git": {
            "repoURL": "https://github.com/argoproj/argocd-example-apps.git",
            "directories": [{"path": "guestbook"}],
        }
    }
    clusters = {
        "clusters": {
            "selector": {"matchLabels": {"environment": "{{.path.basename}}"}},
            "values": {"env": "{{.path.basename}}"},
        }
    }
    got = params_of(
        _matrix(git, clusters),
        go=True,
        strict=True,
        clusters=(guestbook,),
        tree=MemoryTree(dirs=["guestbook"]),
    )
    assert len(got) == 1
    assert got[0]["path"]["basename"] == "guestbook"
    assert got[0]["values"] == {"env": "guestbook"}
    assert (got[0]["name"], got[0]["server"]) == ("guestbook-cluster", "https://guestbook.example.com")


def test_values_naming_the_second_generators_own_params_resolve_later() -> None:
    # RenderGeneratorParams: a value whose key is missing now stays as written for the child to render.
    clusters = {"clusters": {"values": {"who": "{{.name}}"}}}
    got = params_of(_matrix(_list({"flavour": "blue"}), clusters), go=True, strict=True, clusters=(DEV,))
    assert [(p["flavour"], p["values"]["who"]) for p in got] == [("blue", "dev-01"), ("blue", "in-cluster")]


def test_nested_matrix() -> None:
    inner = _matrix(_list({"a": "1"}, {"a": "2"}), _list({"b": "x"}))
    got = params_of(_matrix(inner, _list({"c": "{{a}}"})))
    assert got == [{"a": "1", "b": "x", "c": "1"}, {"a": "2", "b": "x", "c": "2"}]


def test_a_generator_selector_filters_its_parameters() -> None:
    # Transform's post-generation selector, on the flattened parameters
    raw = {
        "list": {"elements": [{"env": "dev"}, {"env": "prod"}]},
        "selector": {"matchLabels": {"env": "prod"}},
    }
    assert params_of(raw) == [{"env": "prod"}]


def test_an_interpolation_error_names_the_second_generator() -> None:
    raw = _matrix(_list({"a": "1"}), _list({"b": "{{ .missing }}"}))
    with pytest.raises(ConfigError, match=r"matrix\.generators\[1\]: .*map has no entry for key \"missing\""):
        params_of(raw, go=True, strict=True)


def test_list_elements_yaml_rendered_from_the_first_generator() -> None:
    # TestMatrixGenerateListElementsYaml: elementsYaml "{{ .foo.bar | toJson }}" over a git file's list.
    content = b"foo:\n  bar:\n    - {chart: a, version: '1'}\n    - {chart: b, version: '2'}\n"
    git = {
        "git": {"repoURL": "RepoURL", "revision": "Revision", "files": [{"path": "path/dir/file_name.yaml"}]}
    }
    listing = {"list": {"elements": [], "elementsYaml": "{{ .foo.bar | toJson }}"}}
    got = params_of(
        _matrix(git, listing), go=True, tree=MemoryTree(contents={"path/dir/file_name.yaml": content})
    )
    bar = [{"chart": "a", "version": "1"}, {"chart": "b", "version": "2"}]
    path = {
        "basename": "dir",
        "basenameNormalized": "dir",
        "filename": "file_name.yaml",
        "filenameNormalized": "file-name.yaml",
        "path": "path/dir",
        "segments": ["path", "dir"],
    }
    assert got == [
        {"chart": "a", "version": "1", "foo": {"bar": bar}, "path": path},
        {"chart": "b", "version": "2", "foo": {"bar": bar}, "path": path},
    ]


def _repo(tree: MemoryTree, seen: list[str]) -> Any:
    def trees(url: str, revision: str) -> MemoryTree:
        seen.append(url)
        return tree

    return trees


def test_list_by_git_files() -> None:
    # TestGitGenerator_GenerateParams_list_x_git_matrix_generator: the nested git generator is a files one.
    git = {"git": {"repoURL": "https://git.example.com", "files": [{"path": "some/path.json"}]}}
    tree = MemoryTree(contents={"some/path.json": b"test: content"})
    assert params_of(_matrix(_list({"some": "value"}), git), tree=tree) == [
        {
            "path": "some",
            "path.basename": "some",
            "path.basenameNormalized": "some",
            "path.filename": "path.json",
            "path.filenameNormalized": "path.json",
            "path[0]": "some",
            "some": "value",
            "test": "content",
        }
    ]


def test_list_by_git_error_names_the_interpolated_repo_and_file() -> None:
    # TestGitGenerator_GenerateParams_list_x_git_matrix_generator_error_includes_repo
    seen: list[str] = []
    git = {"git": {"repoURL": "{{url}}", "revision": "HEAD", "files": [{"path": "ste1/values.yaml"}]}}
    raw = _matrix(_list({"url": "https://git.example.com/repo-a.git"}), git)
    context = Context(trees=_repo(MemoryTree(contents={"ste1/values.yaml": b"invalid: ["}), seen))
    with pytest.raises(ConfigError) as caught:
        generate(parse_generator(raw, "spec.generators[0]"), Language(), context)
    assert "https://git.example.com/repo-a.git" in str(caught.value)
    assert "ste1/values.yaml" in str(caught.value)
    assert seen == ["https://git.example.com/repo-a.git"]


def test_list_by_git_go_template_values() -> None:
    # TestGitGenerator_GenerateParams_list_x_git_matrix_generator_go_templates_values
    git = {
        "git": {
            "repoURL": "https://git.example.com",
            "files": [{"path": "some/path.json"}],
            "values": {"foo": "{{.path.basename}}"},
        }
    }
    tree = MemoryTree(contents={"some/path.json": b"test: content"})
    assert params_of(_matrix(_list({"some": "value"}), git), go=True, tree=tree) == [
        {
            "path": {
                "basename": "some",
                "basenameNormalized": "some",
                "filename": "path.json",
                "filenameNormalized": "path.json",
                "path": "some",
                "segments": ["some"],
            },
            "some": "value",
            "test": "content",
            "values": {"foo": "some"},
        }
    ]


def test_a_matrix_product_is_bounded() -> None:
    many = [{"a": str(i)} for i in range(101)]
    with pytest.raises(ConfigError, match="more than 10000 parameter sets"):
        params_of(
            _matrix({"list": {"elements": many}}, {"list": {"elements": [{"b": str(i)} for i in range(100)]}})
        )
