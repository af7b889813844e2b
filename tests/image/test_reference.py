"""Image references: Docker's grammar, kept as written, compared canonically."""

from __future__ import annotations

import pytest

from ferry.errors import ConfigError
from ferry.image.reference import ImageReference

DIGEST = "sha256:" + "ab" * 32

VALID = [
    # (scenario, text, registry, repository, tag, digest, canonical name)
    ("official image", "nginx", None, "nginx", None, None, "docker.io/library/nginx"),
    ("official image with tag", "nginx:1.25", None, "nginx", "1.25", None, "docker.io/library/nginx"),
    (
        "explicit library",
        "library/nginx:1.25",
        None,
        "library/nginx",
        "1.25",
        None,
        "docker.io/library/nginx",
    ),
    (
        "explicit docker.io kept",
        "docker.io/nginx",
        "docker.io",
        "nginx",
        None,
        None,
        "docker.io/library/nginx",
    ),
    (
        "legacy index host",
        "index.docker.io/library/nginx",
        "index.docker.io",
        "library/nginx",
        None,
        None,
        "docker.io/library/nginx",
    ),
    (
        "hub user image",
        "cidemo/echo-server:v3-5a7147",
        None,
        "cidemo/echo-server",
        "v3-5a7147",
        None,
        "docker.io/cidemo/echo-server",
    ),
    (
        "localhost with port",
        "localhost:5000/cidemo/echo-server:v1",
        "localhost:5000",
        "cidemo/echo-server",
        "v1",
        None,
        "localhost:5000/cidemo/echo-server",
    ),
    ("bare localhost", "localhost/foo", "localhost", "foo", None, None, "localhost/foo"),
    (
        "ACR",
        "myregistry.azurecr.io/cidemo/echo-web-server",
        "myregistry.azurecr.io",
        "cidemo/echo-web-server",
        None,
        None,
        "myregistry.azurecr.io/cidemo/echo-web-server",
    ),
    ("IPv4 and port", "127.0.0.1:5000/a/b", "127.0.0.1:5000", "a/b", None, None, "127.0.0.1:5000/a/b"),
    ("IPv6 and port", "[::1]:5000/a", "[::1]:5000", "a", None, None, "[::1]:5000/a"),
    ("digest only", f"ghcr.io/org/app@{DIGEST}", "ghcr.io", "org/app", None, DIGEST, "ghcr.io/org/app"),
    ("tag and digest", f"ghcr.io/org/app:v1@{DIGEST}", "ghcr.io", "org/app", "v1", DIGEST, "ghcr.io/org/app"),
    (
        "all separators",
        "a__b/c-d.e_f---g",
        None,
        "a__b/c-d.e_f---g",
        None,
        None,
        "docker.io/a__b/c-d.e_f---g",
    ),
    (
        "host:port without path is name:tag",
        "localhost:5000",
        None,
        "localhost",
        "5000",
        None,
        "docker.io/library/localhost",
    ),
    (
        "uppercase registry host",
        "My.Registry.io/app",
        "My.Registry.io",
        "app",
        None,
        None,
        "My.Registry.io/app",
    ),
    ("longest tag", "app:" + "t" * 128, None, "app", "t" * 128, None, "docker.io/library/app"),
]


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest", "canonical"),
    [c[1:] for c in VALID],
    ids=[c[0] for c in VALID],
)
def test_parse_valid_references(
    text: str, registry: str | None, repository: str, tag: str | None, digest: str | None, canonical: str
) -> None:
    ref = ImageReference.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)
    assert ref.canonical_name == canonical
    assert str(ref) == text
    assert ImageReference.parse(str(ref)) == ref


MALFORMED = [
    ("empty", ""),
    ("surrounding whitespace", " nginx"),
    ("uppercase repository", "Nginx"),
    ("uppercase in a path component", "cidemo/Echo-Server"),
    ("empty tag", "nginx:"),
    ("space in tag", "nginx:bad tag"),
    ("tag starting with dash", "nginx:-bad"),
    ("tag too long", "nginx:" + "a" * 129),
    ("short digest", "nginx@sha256:abc"),
    ("unknown digest algorithm", "nginx@md5:" + "a" * 32),
    ("uppercase digest hex", "nginx@sha256:" + "A" * 64),
    ("two @", f"nginx@{DIGEST}@x"),
    ("dot-dot path component", "cidemo/../echo"),
    ("empty path component", "cidemo//echo"),
    ("trailing slash", "cidemo/"),
    ("leading separator", "-nginx"),
    ("trailing separator", "nginx-"),
    ("non-numeric port", "localhost:abc/foo"),
    ("bad registry host", "-bad.io/foo"),
    ("name too long", "a" * 256),
    ("bare image id", "a" * 64),
    ("no repository", ":tag"),
    ("triple underscore", "a___b"),
]


@pytest.mark.parametrize("text", [c[1] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_malformed_references_raise_config_error_naming_them(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ImageReference.parse(text)
    assert f"'{text}'" in str(caught.value)


SAME_IMAGE = [
    ("short and canonical official image", "nginx", "docker.io/library/nginx:1.25", True),
    ("library prefix", "nginx", "library/nginx", True),
    ("legacy index host", "index.docker.io/cidemo/app", "cidemo/app:v2", True),
    ("tags differ only", "ghcr.io/a/b:1", f"ghcr.io/a/b:2@{DIGEST}", True),
    ("other port", "localhost:5000/a", "localhost:5001/a", False),
    ("hub versus ghcr", "a/b", "ghcr.io/a/b", False),
    ("other repository", "cidemo/echo-server", "cidemo/echo-web-server", False),
]


@pytest.mark.parametrize(
    ("left", "right", "same"), [c[1:] for c in SAME_IMAGE], ids=[c[0] for c in SAME_IMAGE]
)
def test_same_image(left: str, right: str, same: bool) -> None:
    a, b = ImageReference.parse(left), ImageReference.parse(right)
    assert a.same_image(b) is same
    assert b.same_image(a) is same


def test_name_keeps_what_the_user_wrote() -> None:
    assert ImageReference.parse("nginx:1").name == "nginx"
    assert ImageReference.parse("docker.io/nginx:1").name == "docker.io/nginx"
    assert ImageReference.parse(f"localhost:5000/cidemo/echo-server:v1@{DIGEST}").name == (
        "localhost:5000/cidemo/echo-server"
    )


def test_with_tag_replaces_tag_and_drops_old_digest() -> None:
    ref = ImageReference.parse(f"ghcr.io/a/b:1@{DIGEST}")
    assert str(ref.with_tag("2")) == "ghcr.io/a/b:2"
    other = "sha256:" + "cd" * 32
    assert str(ref.with_tag("2", other)) == f"ghcr.io/a/b:2@{other}"
    assert ref.tag == "1"  # the original is untouched


@pytest.mark.parametrize(
    ("tag", "digest"),
    [("bad tag", None), ("", None), ("ok", "sha256:short")],
    ids=["space in tag", "empty tag", "bad digest"],
)
def test_with_tag_validates(tag: str, digest: str | None) -> None:
    with pytest.raises(ConfigError):
        ImageReference.parse("a/b").with_tag(tag, digest)
