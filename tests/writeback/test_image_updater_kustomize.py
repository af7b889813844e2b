"""Image Updater v0.18's own kustomization write-back cases (pkg/argocd/git_test.go).

``Test_parseImageOverride``, ``Test_imagesFilter`` (compared as YAML, as upstream's
``assert.YAMLEq``) and ``Test_updateKustomizeFile`` (byte for byte).
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from ferry.writeback.kustomization import KustomizeImage, kustomize_image_from_override, set_kustomize_images

DIGEST = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("ghcr.io:1234/foo/foo:123", KustomizeImage("ghcr.io:1234/foo/foo", new_tag="123")),
        ("ghcr.io:1234/foo/foo=ghcr.io:1234/bar", KustomizeImage("ghcr.io:1234/foo/foo", "ghcr.io:1234/bar")),
        (
            "ghcr.io:1234/foo/foo=1234.foo.com:9876/bar:123",
            KustomizeImage("ghcr.io:1234/foo/foo", "1234.foo.com:9876/bar", "123"),
        ),
        (
            "ghcr.io:1234/foo/foo=1234.dkr.ecr.us-east-1.amazonaws.com/bar:123",
            KustomizeImage("ghcr.io:1234/foo/foo", "1234.dkr.ecr.us-east-1.amazonaws.com/bar", "123"),
        ),
        (
            "0001.dkr.ecr.us-east-1.amazonaws.com/bar=1234.dkr.ecr.us-east-1.amazonaws.com/bar",
            KustomizeImage(
                "0001.dkr.ecr.us-east-1.amazonaws.com/bar", "1234.dkr.ecr.us-east-1.amazonaws.com/bar"
            ),
        ),
        (f"foo=acme/app@{DIGEST}", KustomizeImage("foo", "acme/app", digest=DIGEST)),
        (f"acme/app@{DIGEST}", KustomizeImage("acme/app", digest=DIGEST)),
    ],
    ids=[
        "tag update",
        "image update",
        "update everything",
        "change registry and tag",
        "change only registry",
        "change image and set digest",
        "set digest",
    ],
)
def test_parse_image_override(override: str, expected: KustomizeImage) -> None:
    assert kustomize_image_from_override(override) == expected


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["foo"], [{"name": "foo"}]),
        (["foo:bar"], [{"name": "foo", "newTag": "bar"}]),
        (["baz=foo:bar"], [{"name": "baz", "newName": "foo", "newTag": "bar"}]),
        (["baz=foo@sha12345"], [{"name": "baz", "newName": "foo", "digest": "sha12345"}]),
        (["foo@sha12345"], [{"name": "foo", "digest": "sha12345"}]),
        (
            ["foo", "foo=bar", "baz@sha12345", "bar:123", "foo=bar:123"],
            [
                {"name": "foo", "newName": "bar", "newTag": "123"},
                {"name": "baz", "digest": "sha12345"},
                {"name": "bar", "newTag": "123"},
            ],
        ),
    ],
    ids=["simple", "tagged", "rename", "digest", "digest simple", "all"],
)
def test_images_filter(overrides: list[str], expected: list[dict[str, Any]]) -> None:
    images = [kustomize_image_from_override(o) for o in overrides]
    written = set_kustomize_images(b"", images, source="kustomization.yaml")
    assert yaml.safe_load(written) == {"images": expected}


@pytest.mark.parametrize(
    ("content", "want"),
    [
        ("images:\n- digest: sha12345\n  name: foo\n", "images:\n- digest: sha23456\n  name: foo\n"),
        ("images:\n- name: foo\n  digest: sha12345\n", "images:\n- name: foo\n  digest: sha23456\n"),
        ("images:\n  - name: foo\n    digest: sha12345\n", "images:\n  - name: foo\n    digest: sha23456\n"),
        ("images:\n- name: foo\n  digest: sha23456\n", None),
    ],
    ids=["sorted", "not-sorted", "indented", "no-change"],
)
def test_update_kustomize_file(content: str, want: str | None) -> None:
    image = kustomize_image_from_override("foo@sha23456")
    written = set_kustomize_images(content.encode(), [image], source="kustomization.yaml")
    assert written.decode() == (content if want is None else want)
