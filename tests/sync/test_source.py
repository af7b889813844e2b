"""Override files merged into the source as Argo CD's repo-server merges them (JSON merge patch)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ferry.argocd.application import ApplicationSource
from ferry.argocd.source import merge_overrides, merge_patch
from ferry.errors import ConfigError

BASE = ApplicationSource.model_validate(
    {
        "repoURL": "file:///deploy.git",
        "path": "manifests/helm/echo-server",
        "targetRevision": "main",
        "helm": {"valueFiles": ["values-dev.yaml"], "parameters": [{"name": "replicaCount", "value": "2"}]},
    }
)
UPDATER_FILE = b"""helm:
  parameters:
  - name: image.echoServer.tag
    value: v3-5a7147
    forcestring: true
"""


@pytest.mark.parametrize(
    ("files", "check"),
    [
        ([], lambda s: s == BASE),
        ([("shared", None), ("app", None)], lambda s: s == BASE),
        # Lists are replaced, not merged: the updater's parameters replace the spec's.
        (
            [("app", UPDATER_FILE)],
            lambda s: (
                [(p.name, p.value, p.force_string) for p in s.helm.parameters]
                == [("image.echoServer.tag", "v3-5a7147", True)]
            ),
        ),
        ([("app", UPDATER_FILE)], lambda s: s.helm.value_files == ("values-dev.yaml",)),
        (
            [("shared", b"helm:\n  releaseName: shared\n"), ("app", b"helm:\n  releaseName: mine\n")],
            lambda s: s.helm.release_name == "mine",
        ),
        ([("shared", b"helm:\n  valueFiles: null\n")], lambda s: s.helm.value_files == ()),
        (
            [("app", b"repoURL: file:///evil.git\npath: /etc\ntargetRevision: evil\n")],
            lambda s: (s.repo_url, s.path, s.target_revision) == (BASE.repo_url, BASE.path, "main"),
        ),
        ([("app", b"kustomize:\n  images: [nginx:1.27]\n")], lambda s: s.kustomize.images == ("nginx:1.27",)),
        ([("app", b"HELM:\n  ReleaseName: folded\n")], lambda s: s.helm.release_name == "folded"),
        (
            [("app", b"helm:\n  valuesObject:\n    MixedCase: 1\n")],
            lambda s: s.helm.values_object == {"MixedCase": 1},
        ),
        ([("app", b"")], lambda s: s == BASE),
    ],
    ids=[
        "no files",
        "absent files",
        "updater parameters replace the spec's list",
        "value files survive",
        "app file wins over shared file",
        "null deletes a key",
        "repoURL, path and revision are pinned",
        "kustomize images",
        "struct keys match case-insensitively like encoding/json",
        "user-data map keys keep their case",
        "empty file",
    ],
)
def test_merge_overrides(files, check) -> None:
    assert check(merge_overrides(BASE, files))


@pytest.mark.parametrize(
    "content",
    [b"- a list\n", b"helm: [unclosed\n", b"helm:\n  parameters: 3\n"],
    ids=["not a mapping", "not YAML", "invalid field type"],
)
def test_bad_override_names_the_file(content: bytes) -> None:
    with pytest.raises(ConfigError) as raised:
        merge_overrides(BASE, [("manifests/.argocd-source-app.yaml", content)])
    assert "manifests/.argocd-source-app.yaml" in str(raised.value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(st.text(max_size=2), json_values, max_size=4)


@given(json_objects, json_objects)
def test_merge_patch_is_idempotent(target: dict, patch: dict) -> None:
    once = merge_patch(target, patch)
    assert merge_patch(once, patch) == once


@given(json_objects)
def test_empty_patch_changes_nothing_but_nulls(target: dict) -> None:
    assert merge_patch(target, {}) == target
