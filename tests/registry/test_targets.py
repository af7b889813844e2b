"""Which registry serves an image: longest prefix, default only for host-less names, own host otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry.config import parse_config
from ferry.image.reference import ImageReference
from ferry.registry.targets import registry_target

CONFIG = parse_config(
    {
        "registries": [
            {
                "name": "acr",
                "prefix": "reg.example.com",
                "api_url": "https://reg.example.com",
                "default": True,
                "defaultns": "library",
                "credentials": "env:ACR",
            },
            {"name": "team", "prefix": "reg.example.com/team", "api_url": "https://team.example.com"},
            {
                "name": "local",
                "prefix": "127.0.0.1:5000",
                "api_url": "http://127.0.0.1:5000",
                "insecure": True,
            },
        ]
    },
    source="ferry.yaml",
    base_dir=Path("."),
)


@pytest.mark.parametrize(
    ("image", "api_url", "repository", "plain_http"),
    [
        ("reg.example.com/cidemo/echo", "https://reg.example.com", "cidemo/echo", False),
        ("reg.example.com/team/app", "https://team.example.com", "app", False),
        ("127.0.0.1:5000/cidemo/echo", "http://127.0.0.1:5000", "cidemo/echo", True),
        ("nginx", "https://reg.example.com", "library/nginx", False),
        ("ghcr.io/org/app", "https://ghcr.io", "org/app", False),
        ("localhost:5001/x", "http://localhost:5001", "x", True),
    ],
    ids=[
        "prefix",
        "longest-prefix",
        "loopback-entry",
        "default-for-hostless",
        "foreign-host-not-default",
        "unlisted-loopback",
    ],
)
def test_registry_target(image: str, api_url: str, repository: str, plain_http: bool) -> None:
    target = registry_target(CONFIG, ImageReference.parse(image))
    assert (target.api_url, target.repository, target.plain_http) == (api_url, repository, plain_http)


def test_hostless_image_without_default_goes_to_docker_hub() -> None:
    config = parse_config({}, source="ferry.yaml", base_dir=Path("."))
    target = registry_target(config, ImageReference.parse("nginx"))
    assert (target.api_url, target.repository, target.credentials) == (
        "https://registry-1.docker.io",
        "library/nginx",
        None,
    )
