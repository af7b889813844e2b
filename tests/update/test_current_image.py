"""Image references with digests, as Image Updater v0.18 reads them (registry-scanner image_test.go)."""

from __future__ import annotations

import pytest

from ferry.update.current import CurrentImage, _spec_image
from ferry.writeback._identifier import parse_identifier

LONG = "sha256:" + "1234567890abcdef" * 4


@pytest.mark.parametrize(
    ("identifier", "registry", "name", "tag", "digest"),
    [
        ("gcr.io/jannfis/test-image@sha256:abcde", "gcr.io", "jannfis/test-image", "", "sha256:abcde"),
        (
            "gcr.io/jannfis/test-image:test-tag@sha256:abcde",
            "gcr.io",
            "jannfis/test-image",
            "test-tag",
            "sha256:abcde",
        ),
        (
            f"gcr.io/jannfis/test-image:latest-bookworm@{LONG}",
            "gcr.io",
            "jannfis/test-image",
            "latest-bookworm",
            LONG,
        ),
        (f"gcr.io/jannfis/test-image@{LONG}", "gcr.io", "jannfis/test-image", None, LONG),
    ],
    ids=["digest tag", "tag and digest", "tag and valid SHA256 digest", "only digest"],
)
def test_new_from_identifier_with_digests(
    identifier: str, registry: str, name: str, tag: str, digest: str
) -> None:
    found = parse_identifier(identifier)
    assert (found.registry, found.name, found.tag or "", found.digest) == (registry, name, tag or "", digest)


def test_a_short_digest_in_an_image_spec_reads_as_upstream_fallback() -> None:
    assert _spec_image("gcr.io/jannfis/test-image:test-tag@sha256:abcde") == CurrentImage(
        "gcr.io/jannfis/test-image", "test-tag@sha256:abcde"
    )
    assert _spec_image(f"gcr.io/x/y:v1@{LONG}") == CurrentImage("gcr.io/x/y", f"v1@{LONG}")
