"""The git generator, by Argo CD's git_test.go (directories and files, fasttemplate and Go templates).

Argo CD's tests mock the repo server's listing; :class:`MemoryTree` plays it. The last tests read a
real checkout on disk, and what must stay out of it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from ferry.appset.tree import DirectoryTree
from ferry.errors import ConfigError
from tests.appset.helpers import MemoryTree, params_of


def _git(**fields: Any) -> dict[str, Any]:
    return {"git": {"repoURL": "RepoURL", "revision": "Revision", **fields}}


def _dir(path: str, prefix: str = "path") -> dict[str, Any]:
    base = os.path.basename(path)
    out: dict[str, Any] = {
        prefix: path,
        f"{prefix}.basename": base,
        f"{prefix}.basenameNormalized": base.replace("_", "-"),
    }
    out.update({f"{prefix}[{i}]": s for i, s in enumerate(path.split("/"))})
    return out


# TestGitGenerateParamsFromDirectories: (name, directories, prefix, repo dirs, values, expected)
DIRECTORY_CASES: list[
    tuple[str, list[dict[str, Any]], str, list[str], dict[str, str], list[dict[str, Any]]]
] = [
    (
        "happy flow - created apps",
        [{"path": "*"}],
        "",
        ["app1", "app2", "app_3", "p1/app4"],
        {},
        [_dir("app1"), _dir("app2"), _dir("app_3")],
    ),
    (
        "It prefixes path parameters with PathParamPrefix",
        [{"path": "*"}],
        "myRepo",
        ["app1", "app2", "app_3", "p1/app4"],
        {},
        [_dir("app1", "myRepo.path"), _dir("app2", "myRepo.path"), _dir("app_3", "myRepo.path")],
    ),
    (
        "It filters application according to the paths",
        [{"path": "p1/*"}, {"path": "p1/*/*"}],
        "",
        ["app1", "p1/app2", "p1/p2/app3", "p1/p2/p3/app4"],
        {},
        [_dir("p1/app2"), _dir("p1/p2/app3")],
    ),
    (
        "It filters application according to the paths with Exclude",
        [{"path": "p1/*", "exclude": True}, {"path": "*"}, {"path": "*/*"}],
        "",
        ["app1", "app2", "p1/app2", "p1/app3", "p2/app3"],
        {},
        [_dir("app1"), _dir("app2"), _dir("p2/app3")],
    ),
    (
        "Expecting same exclude behavior with different order",
        [{"path": "*"}, {"path": "*/*"}, {"path": "p1/*", "exclude": True}],
        "",
        ["app1", "app2", "p1/app2", "p1/app3", "p2/app3"],
        {},
        [_dir("app1"), _dir("app2"), _dir("p2/app3")],
    ),
    (
        "Value variable interpolation",
        [{"path": "*"}, {"path": "*/*"}],
        "",
        ["app1", "p1/app2"],
        {"foo": "bar", "aaa": "{{ path[0] }}", "no-op": "{{ this-does-not-exist }}"},
        [
            {
                **_dir("app1"),
                "values.foo": "bar",
                "values.aaa": "app1",
                "values.no-op": "{{ this-does-not-exist }}",
            },
            {
                **_dir("p1/app2"),
                "values.foo": "bar",
                "values.aaa": "p1",
                "values.no-op": "{{ this-does-not-exist }}",
            },
        ],
    ),
    ("handles empty response from repo server", [{"path": "*"}], "", [], {}, []),
]


@pytest.mark.parametrize(
    ("name", "directories", "prefix", "dirs", "values", "expected"),
    DIRECTORY_CASES,
    ids=[c[0] for c in DIRECTORY_CASES],
)
def test_git_directories(
    name: str,
    directories: list[dict[str, Any]],
    prefix: str,
    dirs: list[str],
    values: dict[str, str],
    expected: list[dict[str, Any]],
) -> None:
    raw = _git(directories=directories, pathParamPrefix=prefix, values=values)
    assert params_of(raw, tree=MemoryTree(dirs=dirs)) == expected


def test_git_directories_go_template() -> None:
    # TestGitGenerateParamsFromDirectoriesGoTemplate "happy flow" and "PathParamPrefix"
    tree = MemoryTree(dirs=["app1", "app2", "app_3", "p1/app4"])

    def path(p: str) -> dict[str, Any]:
        return {"path": p, "basename": p, "basenameNormalized": p.replace("_", "-"), "segments": [p]}

    assert params_of(_git(directories=[{"path": "*"}]), go=True, tree=tree) == [
        {"path": path("app1")},
        {"path": path("app2")},
        {"path": path("app_3")},
    ]
    prefixed = params_of(_git(directories=[{"path": "*"}], pathParamPrefix="myRepo"), go=True, tree=tree)
    assert prefixed[0] == {"myRepo": {"path": path("app1")}}


PRODUCTION_CONFIG = {
    "cluster": {
        "owner": "john.doe@example.com",
        "name": "production",
        "address": "https://kubernetes.default.svc",
    },
    "key1": "val1",
    "key2": {"key2_1": "val2_1", "key2_2": {"key2_2_1": "val2_2_1"}},
    "key3": 123,
}
STAGING_CONFIG = {
    "cluster": {
        "owner": "foo.bar@example.com",
        "name": "staging",
        "address": "https://kubernetes.default.svc",
    }
}
CONFIGS = MemoryTree(
    contents={
        "cluster-config/production/config.json": json.dumps(PRODUCTION_CONFIG, indent=3).encode(),
        "cluster-config/staging/config.json": json.dumps(STAGING_CONFIG).encode(),
    }
)


def _file_path(directory: str, filename: str, prefix: str = "path") -> dict[str, Any]:
    out = _dir(directory, prefix)
    out[f"{prefix}.filename"] = filename
    out[f"{prefix}.filenameNormalized"] = filename.replace("_", "-")
    return out


PRODUCTION_FLAT = {
    "cluster.owner": "john.doe@example.com",
    "cluster.name": "production",
    "cluster.address": "https://kubernetes.default.svc",
    "key1": "val1",
    "key2.key2_1": "val2_1",
    "key2.key2_2.key2_2_1": "val2_2_1",
    "key3": "123",
}
STAGING_FLAT = {
    "cluster.owner": "foo.bar@example.com",
    "cluster.name": "staging",
    "cluster.address": "https://kubernetes.default.svc",
}


def test_git_files_happy_flow() -> None:
    # TestGitGenerateParamsFromFiles "happy flow: create params from git files"
    assert params_of(_git(files=[{"path": "**/config.json"}]), tree=CONFIGS) == [
        {**PRODUCTION_FLAT, **_file_path("cluster-config/production", "config.json")},
        {**STAGING_FLAT, **_file_path("cluster-config/staging", "config.json")},
    ]


def test_git_files_value_interpolation() -> None:
    # TestGitGenerateParamsFromFiles "Value variable interpolation"
    values = {"aaa": "{{ cluster.owner }}", "no-op": "{{ this-does-not-exist }}"}
    got = params_of(_git(files=[{"path": "**/config.json"}], values=values), tree=CONFIGS)
    assert [(p["values.aaa"], p["values.no-op"]) for p in got] == [
        ("john.doe@example.com", "{{ this-does-not-exist }}"),
        ("foo.bar@example.com", "{{ this-does-not-exist }}"),
    ]


def test_git_files_invalid_file_names_it() -> None:
    # "test invalid JSON file returns error"
    tree = MemoryTree(contents={"cluster-config/production/config.json": b"invalid json file"})
    with pytest.raises(
        ConfigError,
        match=re.escape("unable to process file 'cluster-config/production/config.json' from repository"),
    ):
        params_of(_git(files=[{"path": "**/config.json"}]), tree=tree)


def test_git_files_json_array() -> None:
    # "test JSON array": one parameter set per element
    content = [
        {"cluster": {"owner": "john.doe@example.com", "name": "production", "inner": {"one": "two"}}},
        {"cluster": {"owner": "john.doe@example.com", "name": "staging"}},
    ]
    tree = MemoryTree(contents={"cluster-config/production/config.json": json.dumps(content).encode()})
    got = params_of(_git(files=[{"path": "**/config.json"}]), tree=tree)
    assert [p["cluster.name"] for p in got] == ["production", "staging"]
    assert got[0]["cluster.inner.one"] == "two"
    assert got[1]["path"] == "cluster-config/production"


# Test_generateParamsFromGitFile: (name, content, values, go, prefix, expected)
DEFAULT_CONTENT = b"\nfoo:\n  bar: baz\n"
GO_FILE_PATH = {
    "path": "path/dir",
    "basename": "dir",
    "filename": "file_name.yaml",
    "basenameNormalized": "dir",
    "filenameNormalized": "file-name.yaml",
    "segments": ["path", "dir"],
}
FILE_CASES: list[tuple[str, bytes, dict[str, str], bool, str, dict[str, Any]]] = [
    ("empty file returns path parameters", b"", {}, False, "", _file_path("path/dir", "file_name.yaml")),
    (
        "file parameters are added to params",
        DEFAULT_CONTENT,
        {},
        False,
        "",
        {"foo.bar": "baz", **_file_path("path/dir", "file_name.yaml")},
    ),
    (
        "path parameter are prefixed",
        DEFAULT_CONTENT,
        {},
        False,
        "myRepo",
        {"foo.bar": "baz", **_file_path("path/dir", "file_name.yaml", "myRepo.path")},
    ),
    (
        "file parameters are added to params with go template",
        DEFAULT_CONTENT,
        {"somekey": "{{.path.basename}}"},
        True,
        "",
        {
            "values": {"somekey": "dir"},
            "foo": {"bar": "baz"},
            "path": GO_FILE_PATH,
        },
    ),
    (
        "path parameter are prefixed with go template",
        DEFAULT_CONTENT,
        {},
        True,
        "myRepo",
        {
            "foo": {"bar": "baz"},
            "myRepo": {"path": GO_FILE_PATH},
        },
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "values", "go", "prefix", "expected"), FILE_CASES, ids=[c[0] for c in FILE_CASES]
)
def test_params_from_one_git_file(
    name: str, content: bytes, values: dict[str, str], go: bool, prefix: str, expected: dict[str, Any]
) -> None:
    tree = MemoryTree(contents={"path/dir/file_name.yaml": content})
    raw = _git(files=[{"path": "path/dir/file_name.yaml"}], values=values, pathParamPrefix=prefix)
    assert params_of(raw, go=go, tree=tree) == [expected]


def test_a_file_that_is_neither_json_nor_yaml_mapping_is_an_error() -> None:
    # "invalid json/yaml file returns error"
    tree = MemoryTree(contents={"path/dir/file_name.yaml": b"this is not json or yaml"})
    with pytest.raises(ConfigError, match="unable to parse file"):
        params_of(_git(files=[{"path": "path/dir/file_name.yaml"}]), tree=tree)


def test_git_files_exclude() -> None:
    # TestGitGeneratorParamsFromFilesWithExcludeOption: an excluded pattern drops what an included one found.
    tree = MemoryTree(
        contents={
            "cluster-config/production/config.json": b'{"cluster": {"name": "production"}}',
            "cluster-config/staging/config.json": b'{"cluster": {"name": "staging"}}',
        }
    )
    files = [
        {"path": "cluster-config/**/config.json"},
        {"path": "cluster-config/staging/config.json", "exclude": True},
    ]
    assert [p["cluster.name"] for p in params_of(_git(files=files), tree=tree)] == ["production"]


@pytest.mark.parametrize("path", ["../outside/*", "/etc/*", "apps/../../x"])
def test_patterns_that_leave_the_repository_are_refused(path: str) -> None:
    with pytest.raises(ConfigError, match="is not allowed"):
        params_of(_git(directories=[{"path": path}]), tree=MemoryTree(dirs=["apps"]))


def test_directory_tree_lists_like_the_repo_server(tmp_path: Path) -> None:
    for d in ("apps/web", "apps/api", "apps/.hidden", ".git/objects", "base"):
        (tmp_path / d).mkdir(parents=True)
    (tmp_path / "apps/web/config.json").write_text("{}")
    (tmp_path / "apps/api/config.yaml").write_text("{}")
    tree = DirectoryTree(tmp_path)
    assert tree.directories() == ["apps", "apps/api", "apps/web", "base"]
    assert tree.files("apps/*/config.json") == ["apps/web/config.json"]
    assert tree.files("apps") == ["apps/api/config.yaml", "apps/web/config.json"]


def test_directory_tree_refuses_a_symlink_out_of_the_checkout(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_text('{"token": "x"}')
    repo = tmp_path / "repo"
    (repo / "apps").mkdir(parents=True)
    (repo / "apps/config.json").symlink_to(outside / "secret.json")
    (repo / "linked").symlink_to(outside, target_is_directory=True)
    tree = DirectoryTree(repo)
    assert tree.directories() == ["apps"]  # a symlinked directory is never walked into
    with pytest.raises(ConfigError, match="resolves outside the repository checkout"):
        params_of(_git(files=[{"path": "apps/*.json"}]), tree=tree)


def test_numbers_in_files_print_as_the_float64_argo_cd_decodes() -> None:
    # Argo CD reads files through JSON: 123 prints "123" (git_test.go's key3), 1000000 prints "1e+06".
    tree = MemoryTree(contents={"a/config.yaml": b"small: 123\nbig: 1000000\nratio: 0.5\nflag: true\n"})
    (got,) = params_of(_git(files=[{"path": "a/config.yaml"}]), tree=tree)
    assert (got["small"], got["big"], got["ratio"], got["flag"]) == ("123", "1e+06", "0.5", "true")
