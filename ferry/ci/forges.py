"""Forge push webhooks (GitHub, GitLab, Gitea) → ``ferry.source.pushed``, behind a shared secret.

What each forge sends, as its documentation describes it:

* **GitHub**: ``X-GitHub-Event: push`` (``ping`` when the hook is created) and
  ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``. The body
  has ``ref``, ``before``, ``after``, ``repository.clone_url`` / ``ssh_url`` and
  ``pusher.name``.
* **GitLab**: ``X-Gitlab-Event: Push Hook`` or ``Tag Push Hook`` and
  ``X-Gitlab-Token: <the secret itself>``. The body has ``ref``, ``before``,
  ``after``, ``project.git_http_url`` / ``git_ssh_url`` and ``user_username``.
* **Gitea** (and Forgejo): ``X-Gitea-Event: push`` and ``X-Gitea-Signature:
  <hex HMAC-SHA256 of the raw body>``; it also sends GitHub's event headers,
  so it is recognised first. The body is GitHub-shaped (``pusher.login``).

The signature (or token) is checked in constant time over the exact bytes
received, before anything is parsed. Ferry's own ``post-receive`` hook
(:mod:`ferry.ci.hook`) speaks the GitHub format, so a bare repository on a
plain Git server reaches the same code. A ref deletion announces nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from ferry.ci.events import EventEmitter, SourcePushed

logger = logging.getLogger(__name__)

ZERO_SHA = "0" * 40


class Forge(StrEnum):
    GITHUB = "github"
    GITLAB = "gitlab"
    GITEA = "gitea"


#: The event header of each forge, and the event names that mean "refs were pushed".
_EVENT_HEADER = {Forge.GITEA: "x-gitea-event", Forge.GITLAB: "x-gitlab-event", Forge.GITHUB: "x-github-event"}
_PUSH_EVENTS = {Forge.GITHUB: {"push"}, Forge.GITEA: {"push"}, Forge.GITLAB: {"Push Hook", "Tag Push Hook"}}


def identify(headers: Mapping[str, str]) -> Forge | None:
    """Which forge sent a request (headers with lowercase names); Gitea also sends GitHub's headers."""
    for forge in (Forge.GITEA, Forge.GITLAB, Forge.GITHUB):
        if headers.get(_EVENT_HEADER[forge]):
            return forge
    return None


def sign(secret: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``body`` that GitHub and Gitea send.

    >>> sign("It's a Secret to Everybody", b"Hello, World!")[:16]
    '757107ea0eb2509f'
    """
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(forge: Forge, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    """Whether the request carries the right signature (GitHub, Gitea) or token (GitLab)."""
    if forge is Forge.GITLAB:
        sent, expected = headers.get("x-gitlab-token", ""), secret
    elif forge is Forge.GITEA:
        sent, expected = headers.get("x-gitea-signature", ""), sign(secret, body)
    else:
        sent, expected = headers.get("x-hub-signature-256", ""), "sha256=" + sign(secret, body)
    return hmac.compare_digest(sent.strip().encode(), expected.encode())


def _text(data: Any, *path: str) -> str | None:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data if isinstance(data, str) and data else None


def parse_push(forge: Forge, body: bytes) -> SourcePushed | None:
    """The ref update a push payload announces (None for a deleted ref).

    Raises:
        ValueError: The body is not JSON, or lacks ``ref``/``after`` or the repository URL.
    """
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{forge} push body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{forge} push body is not a JSON object")
    if forge is Forge.GITLAB:
        repo = _text(data, "project", "git_http_url") or _text(data, "repository", "git_http_url")
        repo = repo or _text(data, "project", "git_ssh_url")
        pusher = _text(data, "user_username") or _text(data, "user_name")
    else:
        repo = _text(data, "repository", "clone_url") or _text(data, "repository", "ssh_url")
        pusher = (
            _text(data, "pusher", "login")
            or _text(data, "pusher", "username")
            or _text(data, "pusher", "name")
        )
    ref, before, after = _text(data, "ref"), _text(data, "before") or ZERO_SHA, _text(data, "after")
    missing = [
        name for name, value in (("ref", ref), ("after", after), ("repository URL", repo)) if not value
    ]
    if missing:
        raise ValueError(f"{forge} push body has no {', '.join(missing)}")
    assert ref is not None and after is not None and repo is not None
    pushed = SourcePushed(repo=repo, ref=ref, before=before, after=after, pusher=pusher, origin=str(forge))
    return None if pushed.deleted else pushed


class ForgeWebhooks:
    """The receiver route for forge push webhooks: verify, parse, emit ``ferry.source.pushed``.

    Answers 200 ``{"accepted": n}`` (0 for a ping, another event or a deleted ref), 401 for a
    missing or wrong signature, 400 for a request from no known forge or a body that does not
    parse, and 503 when the emitter failed, so that the forge delivers it again.
    """

    def __init__(self, emitter: EventEmitter, secret: str) -> None:
        if not secret:
            raise ValueError("forge webhooks need a non-empty shared secret")
        self.emitter = emitter
        self._secret = secret
        self.emitted = 0

    def __call__(self, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, object]]:
        forge = identify(headers)
        if forge is None:
            return 400, {"error": "not a GitHub, GitLab or Gitea webhook (no event header)"}
        if not verify(forge, headers, body, self._secret):
            logger.warning("rejected a %s webhook with a missing or wrong signature", forge)
            return 401, {"error": f"missing or wrong {forge} signature"}
        event = headers[_EVENT_HEADER[forge]]
        if event not in _PUSH_EVENTS[forge]:
            return 200, {"accepted": 0, "ignored": event}
        try:
            pushed = parse_push(forge, body)
        except ValueError as exc:
            return 400, {"error": str(exc)}
        if pushed is None:
            return 200, {"accepted": 0, "ignored": "ref deleted"}
        try:
            self.emitter(pushed)
        except Exception as exc:  # noqa: BLE001 - any emitter failure means "deliver again later"
            logger.error("could not emit %s for %s: %s", pushed.event, pushed.reference, exc)
            return 503, {"error": "event could not be emitted; retry later"}
        self.emitted += 1
        logger.info("push of %s (%s) announced as %s", pushed.reference, forge, pushed.event)
        return 200, {"accepted": 1}
