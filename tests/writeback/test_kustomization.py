"""The ``kustomization[:path]`` target: ``images:`` edits with ``kustomize edit set image`` semantics."""

from __future__ import annotations

import pytest

from ferry.errors import ConfigError
from ferry.writeback.kustomization import (
    KustomizeImage,
    kustomize_image_from_override,
    read_kustomize_images,
    set_kustomize_images,
)

KUSTOMIZATION = b"""\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- deployment.yaml  # the app
images:
# the echo server
- name: echo-server
  newName: 127.0.0.1:5000/cidemo/echo-server
  newTag: v1.0
- name: redis
  newTag: "7"
"""

EDITS = [
    (
        [KustomizeImage("echo-server", "127.0.0.1:5000/cidemo/echo-server", "v3-5a7147")],
        KUSTOMIZATION.replace(b"newTag: v1.0", b"newTag: v3-5a7147"),
    ),
    (
        [KustomizeImage("nginx", new_tag="1.25")],
        KUSTOMIZATION + b'- name: nginx\n  newTag: "1.25"\n',
    ),
    (
        [KustomizeImage("redis", new_tag="7", digest="sha256:" + "a" * 64)],
        KUSTOMIZATION.replace(b'newTag: "7"\n', b'newTag: "7"\n  digest: sha256:' + b"a" * 64 + b"\n"),
    ),
    (
        [KustomizeImage("echo-server", new_tag="v2")],
        KUSTOMIZATION.replace(b"  newName: 127.0.0.1:5000/cidemo/echo-server\n", b"").replace(
            b"newTag: v1.0", b"newTag: v2"
        ),
    ),
]


@pytest.mark.parametrize(
    ("images", "expected"),
    EDITS,
    ids=[
        "update tag by name",
        "append new image",
        "tag with digest",
        "fields the override lacks are removed",
    ],
)
def test_set_kustomize_images(images: list[KustomizeImage], expected: bytes) -> None:
    assert set_kustomize_images(KUSTOMIZATION, images, source="overlays/dev/kustomization.yaml") == expected


def test_images_created_when_missing() -> None:
    existing = b"resources:\n- a.yaml\n"
    out = set_kustomize_images(existing, [KustomizeImage("nginx", "r.io/nginx", "1.0")], source="k.yaml")
    assert out == b'resources:\n- a.yaml\nimages:\n- name: nginx\n  newName: r.io/nginx\n  newTag: "1.0"\n'


def test_digest_replaced_by_tag_and_order_kept() -> None:
    existing = b"images:\n- digest: sha256:old\n  name: x\n  extra: kept\n"
    out = set_kustomize_images(existing, [KustomizeImage("x", new_tag="v2")], source="k.yaml")
    assert out == b"images:\n- name: x\n  newTag: v2\n  extra: kept\n"


def test_nothing_to_change_returns_the_input() -> None:
    same = [KustomizeImage("redis", new_tag="7")]
    assert set_kustomize_images(KUSTOMIZATION, same, source="k.yaml") is KUSTOMIZATION


@pytest.mark.parametrize(
    "existing",
    [b"images: [\n", b"images: nginx\n", b"images:\n- nginx\n", b"images:\n- newTag: v1\n", b"- a\n"],
    ids=[
        "unparseable",
        "images not a list",
        "entry not a mapping",
        "entry without name",
        "root not a mapping",
    ],
)
def test_malformed_kustomization_is_refused(existing: bytes) -> None:
    with pytest.raises(ConfigError, match=r"base/kustomization\.yaml"):
        set_kustomize_images(existing, [KustomizeImage("x", new_tag="1")], source="base/kustomization.yaml")


def test_read_kustomize_images() -> None:
    assert read_kustomize_images(KUSTOMIZATION) == [
        KustomizeImage("echo-server", "127.0.0.1:5000/cidemo/echo-server", "v1.0"),
        KustomizeImage("redis", new_tag="7"),
    ]
    assert read_kustomize_images(b"resources: []\n") == []


OVERRIDES = [
    (
        "echo=127.0.0.1:5000/cidemo/echo-server:v3",
        KustomizeImage("echo", "127.0.0.1:5000/cidemo/echo-server", "v3"),
    ),
    (
        "127.0.0.1:5000/cidemo/echo-server:v3",
        KustomizeImage("127.0.0.1:5000/cidemo/echo-server", new_tag="v3"),
    ),
    ("nginx:1.25", KustomizeImage("nginx", new_tag="1.25")),
    ("r.io/x@sha256:" + "c" * 64, KustomizeImage("r.io/x", digest="sha256:" + "c" * 64)),
    ("r.io/x:v1@sha256:" + "c" * 64, KustomizeImage("r.io/x", new_tag="v1", digest="sha256:" + "c" * 64)),
]


@pytest.mark.parametrize(
    ("override", "expected"),
    OVERRIDES,
    ids=["alias renames", "no alias keeps name", "docker hub short name", "digest only", "tag and digest"],
)
def test_kustomize_image_from_override(override: str, expected: KustomizeImage) -> None:
    assert kustomize_image_from_override(override) == expected
