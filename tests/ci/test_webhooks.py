"""Registry notification formats: Distribution, ACR and Harbor (documented payloads)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ferry.ci.events import ImagePushed
from ferry.ci.webhooks import parse_notification

DIGEST = "sha256:" + "ab" * 32


def _dist(*events: dict[str, Any]) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def _dist_event(
    action: str = "push", tag: str | None = "v3", media: str = "application/vnd.oci.image.manifest.v1+json"
) -> dict[str, Any]:
    target: dict[str, Any] = {"mediaType": media, "repository": "cidemo/echo-server", "digest": DIGEST}
    if tag is not None:
        target["tag"] = tag
    return {
        "id": "e1",
        "action": action,
        "target": target,
        "request": {"host": "127.0.0.1:5000", "method": "PUT"},
    }


ACR_PUSH = {
    "id": "cb8c3971-9adc-488b-bdd8-43cbb4974ff5",
    "timestamp": "2017-11-17T16:52:01.343145347Z",
    "action": "push",
    "target": {
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "size": 524,
        "digest": DIGEST,
        "length": 524,
        "repository": "hello-world",
        "tag": "v1",
    },
    "request": {
        "id": "3cbb6949-7549-4fa1-86cd-a6d5451dffc7",
        "host": "myregistry.azurecr.io",
        "method": "PUT",
        "useragent": "docker/17.09.0-ce",
    },
}

HARBOR_PUSH = {
    "type": "PUSH_ARTIFACT",
    "occur_at": 1680501893,
    "operator": "admin",
    "event_data": {
        "resources": [
            {"digest": DIGEST, "tag": "3.8", "resource_url": "harbor.example.com/library/alpine:3.8"}
        ],
        "repository": {
            "date_created": 1680501893,
            "name": "alpine",
            "namespace": "library",
            "repo_full_name": "library/alpine",
            "repo_type": "private",
        },
    },
}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            _dist(_dist_event()),
            [ImagePushed("127.0.0.1:5000/cidemo/echo-server", "v3", DIGEST, origin="distribution")],
        ),
        (_dist(_dist_event(action="pull")), []),
        (_dist(_dist_event(tag=None)), []),
        (_dist(_dist_event(tag=None, media="application/octet-stream")), []),
        (
            _dist(_dist_event(), _dist_event()),
            [ImagePushed("127.0.0.1:5000/cidemo/echo-server", "v3", DIGEST, origin="distribution")],
        ),
        (_dist(_dist_event(action="delete")), []),
        (
            json.dumps(ACR_PUSH).encode(),
            [ImagePushed("myregistry.azurecr.io/hello-world", "v1", DIGEST, origin="acr")],
        ),
        (json.dumps({**ACR_PUSH, "action": "chart_push"}).encode(), []),
        (
            json.dumps(HARBOR_PUSH).encode(),
            [ImagePushed("harbor.example.com/library/alpine", "3.8", DIGEST, origin="harbor")],
        ),
        (json.dumps({**HARBOR_PUSH, "type": "PULL_ARTIFACT"}).encode(), []),
        (
            json.dumps(
                {
                    **HARBOR_PUSH,
                    "event_data": {
                        **HARBOR_PUSH["event_data"],
                        "resources": [
                            {
                                "digest": DIGEST,
                                "tag": DIGEST,
                                "resource_url": f"harbor.example.com/library/alpine@{DIGEST}",
                            }
                        ],
                    },
                }
            ).encode(),
            [],
        ),
    ],
    ids=[
        "distribution manifest push by tag",
        "distribution pull is ignored",
        "distribution push by digest is ignored",
        "distribution blob push is ignored",
        "duplicate events in one envelope count once",
        "distribution delete is ignored",
        "acr push",
        "acr chart push is ignored",
        "harbor default push",
        "harbor pull is ignored",
        "harbor push by digest is ignored",
    ],
)
def test_parse(body: bytes, expected: list[ImagePushed]) -> None:
    assert parse_notification(body, "application/json") == expected


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"hello": "world"}', b"\xff\xfe"],
    ids=["not json", "a list", "unknown object", "not utf-8"],
)
def test_unknown_bodies_are_errors(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_notification(body, "application/json")


def test_event_resource_and_payload() -> None:
    pushed = ImagePushed("h:5000/a/b", "v1", DIGEST, revision="c0ffee", ref="refs/tags/release-v1")
    assert pushed.resource() == {
        "prefect.resource.id": "ferry.image.h:5000/a/b",
        "prefect.resource.name": "h:5000/a/b",
    }
    assert pushed.payload()["revision"] == "c0ffee" and pushed.reference == "h:5000/a/b:v1"
