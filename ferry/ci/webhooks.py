"""Read registry push notifications: CNCF Distribution, Azure Container Registry and Harbor.

Formats, as their documentation describes them:

* **Distribution** ``notifications.endpoints`` (media type
  ``application/vnd.docker.distribution.events.v1+json``): an envelope
  ``{"events": [...]}``; each event has ``action``, ``target.repository``,
  ``target.tag`` (for pushes by tag), ``target.digest`` and ``request.host``.
  Blob pushes and pushes by digest carry no tag and are ignored.
* **ACR webhooks** (``application/json``): one event at the top level, with the
  same ``action``/``target``/``request`` fields; ``request.host`` is
  ``<registry>.azurecr.io``. ``chart_push`` and deletes are ignored.
* **Harbor webhooks**, "Default" payload format: ``{"type": "PUSH_ARTIFACT",
  "event_data": {"resources": [{"tag", "digest", "resource_url"}],
  "repository": {"repo_full_name"}}}``. A resource whose ``tag`` is a digest
  (a push by digest) is ignored. Harbor's CloudEvents format is not read: its
  push event type was not confirmed from Harbor's documentation.

Every reader returns :class:`~ferry.ci.events.ImagePushed` values; anything
else that is not one of these shapes is a ``ValueError`` (the receiver answers 400).
"""

from __future__ import annotations

import json
from typing import Any

from ferry.ci.events import ImagePushed
from ferry.registry.model import is_valid_tag

DISTRIBUTION_MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json"


def parse_notification(body: bytes, content_type: str = "") -> list[ImagePushed]:
    """Turn one notification body into the pushed tags it announces (possibly none).

    >>> parse_notification(b'{"events":[{"action":"push","target":{"repository":"cidemo/echo",'
    ...                    b'"tag":"v3","digest":"sha256:ab"},"request":{"host":"127.0.0.1:5000"}}]}')
    [ImagePushed(image='127.0.0.1:5000/cidemo/echo', tag='v3', digest='sha256:ab', revision=None, \
ref=None, source_repo=None, origin='distribution')]

    Raises:
        ValueError: the body is not JSON, or is in none of the known formats.
    """
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"notification body is not JSON: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("events"), list):
        return _dedupe(_distribution_event(e, "distribution") for e in data["events"])
    if isinstance(data, dict) and "event_data" in data and "type" in data:
        return _dedupe(_harbor(data))
    if isinstance(data, dict) and "action" in data and isinstance(data.get("target"), dict):
        return _dedupe([_distribution_event(data, "acr")])
    kind = "application/json" if not content_type else content_type.split(";")[0].strip()
    raise ValueError(f"{kind} body is not a Distribution, ACR or Harbor push notification")


def _dedupe(found: Any) -> list[ImagePushed]:
    seen: dict[tuple[str, str], ImagePushed] = {}
    for item in found:
        if item is not None:
            seen.setdefault((item.image, item.tag), item)
    return list(seen.values())


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _distribution_event(event: Any, origin: str) -> ImagePushed | None:
    if not isinstance(event, dict) or event.get("action") != "push":
        return None
    target = event.get("target")
    request = event.get("request")
    if not isinstance(target, dict):
        return None
    repository, tag = _text(target.get("repository")), _text(target.get("tag"))
    host = _text(request.get("host")) if isinstance(request, dict) else None
    if repository is None or tag is None or not is_valid_tag(tag):
        return None  # a blob upload, or a manifest pushed by digest
    image = f"{host}/{repository}" if host else repository
    return ImagePushed(image=image, tag=tag, digest=_text(target.get("digest")), origin=origin)


def _harbor(data: dict[str, Any]) -> list[ImagePushed | None]:
    if data.get("type") != "PUSH_ARTIFACT":
        return []
    event_data = data.get("event_data")
    if not isinstance(event_data, dict):
        raise ValueError("Harbor notification has no event_data object")
    repository = event_data.get("repository")
    full_name = _text(repository.get("repo_full_name")) if isinstance(repository, dict) else None
    resources = event_data.get("resources")
    found: list[ImagePushed | None] = []
    for resource in resources if isinstance(resources, list) else []:
        if not isinstance(resource, dict):
            continue
        tag, url = _text(resource.get("tag")), _text(resource.get("resource_url"))
        if tag is None or not is_valid_tag(tag):
            continue  # pushed by digest: Harbor repeats the digest in "tag"
        image = _harbor_image(url, tag) or full_name
        if image is None:
            continue
        found.append(ImagePushed(image=image, tag=tag, digest=_text(resource.get("digest")), origin="harbor"))
    return found


def _harbor_image(resource_url: str | None, tag: str) -> str | None:
    """``harbor.example.com/library/nginx:v1`` → ``harbor.example.com/library/nginx``."""
    if resource_url is None:
        return None
    url = resource_url.split("://", 1)[-1]
    url = url.split("@", 1)[0]
    if url.endswith(f":{tag}"):
        url = url[: -len(tag) - 1]
    return url or None
