"""Source pushes become ``ferry.source.pushed``: forge webhooks and the bare repo's post-receive hook.

Payload facts are transcribed from Argo CD's webhook testdata (GitHub tag event, GitLab push
event) and from Gitea's webhook documentation; the signature test vector is GitHub's own, from
"Validating webhook deliveries". The receiver runs for real on loopback; the hook runs inside a
real ``git push``.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ferry.ci.events import FerryEvent, SourcePushed
from ferry.ci.forges import Forge, ForgeWebhooks, identify, parse_push, sign, verify
from ferry.ci.hook import install_post_receive
from ferry.ci.receiver import PushReceiver
from ferry.devenv.registry import free_port
from ferry.devenv.source import create_source_repo

ZERO = "0" * 40

# argo-cd util/webhook/testdata/github-tag-event.json (the fields a push receiver reads)
GITHUB_TAG = {
    "ref": "refs/tags/v1.0",
    "before": ZERO,
    "after": "63738bb582c8b540af7bcfc18f87c575c3ed66e0",
    "created": True,
    "deleted": False,
    "repository": {
        "name": "test-repo",
        "full_name": "jessesuen/test-repo",
        "clone_url": "https://github.com/jessesuen/test-repo.git",
        "ssh_url": "git@github.com:jessesuen/test-repo.git",
    },
    "pusher": {"name": "jessesuen", "email": "jessesuen@users.noreply.github.com"},
}
# argo-cd util/webhook/testdata/gitlab-event.json
GITLAB_PUSH = {
    "object_kind": "push",
    "event_name": "push",
    "before": "e5ba5f6c13b64670048daa88e4c053d60b0e115a",
    "after": "bb0748feaa336d841c251017e4e374c22d0c8a98",
    "ref": "refs/heads/master",
    "user_name": "name",
    "user_username": "username",
    "project": {
        "git_ssh_url": "ssh://git@gitlab:2222/group/name.git",
        "git_http_url": "https://gitlab/group/name.git",
    },
}
# docs.gitea.com/features/webhooks, the example push
GITEA_PUSH = {
    "ref": "refs/heads/develop",
    "before": "28e1879d029cb852e4844d9c718537df08844e03",
    "after": "bffeb74224043ba2feb48d137756c8a9331c449a",
    "repository": {
        "clone_url": "http://localhost:3000/gitea/webhooks.git",
        "ssh_url": "ssh://gitea@localhost:2222/gitea/webhooks.git",
    },
    "pusher": {"login": "gitea", "username": "gitea"},
}


def test_github_signature_matches_githubs_test_vector() -> None:
    assert sign("It's a Secret to Everybody", b"Hello, World!") == (
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


@pytest.mark.parametrize(
    ("headers", "forge"),
    [
        ({"x-github-event": "push"}, Forge.GITHUB),
        ({"x-gitlab-event": "Tag Push Hook"}, Forge.GITLAB),
        # Gitea also sends GitHub's and Gogs's headers
        ({"x-github-event": "push", "x-gogs-event": "push", "x-gitea-event": "push"}, Forge.GITEA),
        ({"content-type": "application/json"}, None),
    ],
    ids=["github", "gitlab", "gitea", "unknown"],
)
def test_the_forge_is_told_by_its_event_header(headers: dict[str, str], forge: Forge | None) -> None:
    assert identify(headers) is forge


@pytest.mark.parametrize(
    ("forge", "payload", "expected"),
    [
        (
            Forge.GITHUB,
            GITHUB_TAG,
            SourcePushed(
                "https://github.com/jessesuen/test-repo.git",
                "refs/tags/v1.0",
                ZERO,
                "63738bb582c8b540af7bcfc18f87c575c3ed66e0",
                "jessesuen",
                "github",
            ),
        ),
        (
            Forge.GITLAB,
            GITLAB_PUSH,
            SourcePushed(
                "https://gitlab/group/name.git",
                "refs/heads/master",
                "e5ba5f6c13b64670048daa88e4c053d60b0e115a",
                "bb0748feaa336d841c251017e4e374c22d0c8a98",
                "username",
                "gitlab",
            ),
        ),
        (
            Forge.GITEA,
            GITEA_PUSH,
            SourcePushed(
                "http://localhost:3000/gitea/webhooks.git",
                "refs/heads/develop",
                "28e1879d029cb852e4844d9c718537df08844e03",
                "bffeb74224043ba2feb48d137756c8a9331c449a",
                "gitea",
                "gitea",
            ),
        ),
        (Forge.GITHUB, {**GITHUB_TAG, "after": ZERO, "deleted": True}, None),
    ],
    ids=["github-tag", "gitlab-push", "gitea-push", "deleted-ref"],
)
def test_push_payloads_become_source_pushed(
    forge: Forge, payload: dict[str, object], expected: SourcePushed | None
) -> None:
    assert parse_push(forge, json.dumps(payload).encode()) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"not json", "is not JSON"), (b"[1]", "not a JSON object"), (b'{"ref": "refs/tags/x"}', "no after")],
)
def test_a_push_body_that_is_not_a_push_is_refused_by_name(body: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_push(Forge.GITHUB, body)


def _signed(forge: Forge, secret: str, body: bytes, *, event: str = "push") -> dict[str, str]:
    if forge is Forge.GITLAB:
        return {"X-Gitlab-Event": event, "X-Gitlab-Token": secret}
    if forge is Forge.GITEA:
        return {"X-GitHub-Event": event, "X-Gitea-Event": event, "X-Gitea-Signature": sign(secret, body)}
    return {"X-GitHub-Event": event, "X-Hub-Signature-256": "sha256=" + sign(secret, body)}


def test_a_signature_over_other_bytes_or_with_another_secret_does_not_verify() -> None:
    body = json.dumps(GITHUB_TAG).encode()
    for forge in Forge:
        headers = {k.lower(): v for k, v in _signed(forge, "s3cret", body).items()}
        assert verify(forge, headers, body, "s3cret")
        assert not verify(forge, headers, body, "other")
        if forge is not Forge.GITLAB:  # GitLab's token does not cover the body
            assert not verify(forge, headers, body + b" ", "s3cret")


class Recorder:
    """An emitter that records what it is handed, and lets a test wait for it."""

    def __init__(self) -> None:
        self.events: list[FerryEvent] = []
        self._cond = threading.Condition()

    def __call__(self, item: FerryEvent) -> None:
        with self._cond:
            self.events.append(item)
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 15) -> list[FerryEvent]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.events) >= count, timeout=timeout)
            return list(self.events)


@pytest.fixture
def forge_receiver() -> Iterator[tuple[PushReceiver, Recorder, str]]:
    recorder, secret = Recorder(), secrets.token_urlsafe(24)
    routes = {"/source": ForgeWebhooks(recorder, secret)}
    with PushReceiver(recorder, secrets.token_urlsafe(24), routes=routes) as running:
        yield running, recorder, secret


@pytest.mark.parametrize("forge", list(Forge))
def test_each_forges_push_webhook_reaches_the_emitter_only_with_the_secret(
    forge_receiver: tuple[PushReceiver, Recorder, str], forge: Forge
) -> None:
    server, recorder, secret = forge_receiver
    url = f"http://127.0.0.1:{server.port}/source"
    payload = {Forge.GITHUB: GITHUB_TAG, Forge.GITLAB: GITLAB_PUSH, Forge.GITEA: GITEA_PUSH}[forge]
    body = json.dumps(payload).encode()
    event = "Tag Push Hook" if forge is Forge.GITLAB else "push"
    wrong = httpx.post(url, content=body, headers=_signed(forge, "not-the-secret", body, event=event))
    assert wrong.status_code == 401 and recorder.events == []
    ping = httpx.post(url, content=b"{}", headers=_signed(forge, secret, b"{}", event="ping"))
    assert ping.json() == {"accepted": 0, "ignored": "ping"}
    good = httpx.post(url, content=body, headers=_signed(forge, secret, body, event=event))
    assert good.status_code == 200 and good.json() == {"accepted": 1}
    (pushed,) = recorder.events
    assert isinstance(pushed, SourcePushed) and pushed.origin == forge.value
    assert pushed.after == payload["after"]
    bad = httpx.post(url, content=b"{}", headers=_signed(forge, secret, b"{}", event=event))
    assert bad.status_code == 400 and "has no ref" in bad.json()["error"]


def test_the_post_receive_hook_announces_a_pushed_release_tag(
    forge_receiver: tuple[PushReceiver, Recorder, str], tmp_path: Path
) -> None:
    server, recorder, secret = forge_receiver
    source = create_source_repo(tmp_path / "echo-server.git")
    hook = install_post_receive(source.bare, f"http://127.0.0.1:{server.port}/source", secret)
    assert secret not in hook.read_text(), "the secret stays in its 0600 file, not in the hook"
    assert (hook.parent / "ferry-webhook-secret").stat().st_mode & 0o077 == 0
    sha = source.release("v3")
    (pushed,) = recorder.wait_for(1)
    assert pushed == SourcePushed(source.url, "refs/tags/release-v3", ZERO, sha, pushed.pusher, "github")
    assert pushed.event_id() == SourcePushed(source.url, "refs/tags/release-v3", ZERO, sha).event_id(), (
        "the hook and a forge reporting the same ref update are one event"
    )


def test_a_push_still_succeeds_when_the_receiver_is_down(tmp_path: Path) -> None:
    source = create_source_repo(tmp_path / "echo-server.git")
    install_post_receive(source.bare, f"http://127.0.0.1:{free_port()}/source", "s3cret")
    sha = source.release("v4")  # raises if the push failed
    assert sha == source.head()


def test_the_hook_ignores_the_pushers_proxy_settings(
    forge_receiver: tuple[PushReceiver, Recorder, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pusher's proxy must never see the signed body: the receiver is on loopback.
    dead = f"http://127.0.0.1:{free_port()}"
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, dead)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    server, recorder, secret = forge_receiver
    source = create_source_repo(tmp_path / "echo-server.git")
    install_post_receive(source.bare, f"http://127.0.0.1:{server.port}/source", secret)
    sha = source.release("v5")
    (pushed,) = recorder.wait_for(1)
    assert pushed.after == sha
