"""A bare repository's ``post-receive`` hook that announces every pushed ref to ``ferry receive``.

A plain Git server (``git daemon``, ``http-backend``, sshd, or a ``file://``
remote) has no webhooks, so Ferry installs this hook instead. It speaks
GitHub's push-webhook format, signed with the shared secret (read from a 0600
file: never on a command line), so ``ferry receive`` needs only its forge
route. It imports nothing beyond the standard library: it runs inside every
``git push`` and must not make the pusher wait.

A failed announcement never fails the push (``post-receive`` cannot refuse it
anyway): the hook says so to the pusher, and ``ci-build`` finds the ref on its
next interval.

Install with :func:`install_post_receive`; Git runs it as::

    python -m ferry.ci.hook URL SECRET_FILE REPO_URL   # ref lines on stdin
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import os
import shlex
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

TIMEOUT_SECONDS = 5.0


def payload(repo_url: str, ref: str, before: str, after: str, pusher: str) -> bytes:
    """The GitHub push body for one ref update (the fields a push receiver reads)."""
    name = repo_url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    body = {
        "ref": ref,
        "before": before,
        "after": after,
        "created": set(before) <= {"0"},
        "deleted": set(after) <= {"0"},
        "repository": {"name": name, "full_name": name, "clone_url": repo_url},
        "pusher": {"name": pusher},
    }
    return json.dumps(body, sort_keys=True).encode()


def announce(url: str, secret: str, body: bytes) -> int:
    """POST one signed push body; return the HTTP status."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"the receiver URL must be http(s): {url!r}")
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": f"sha256={signature}",
            "User-Agent": "ferry-post-receive",
        },
    )
    # No proxy: the receiver is Ferry's own, and a pusher's http_proxy must not see the signed body.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def main(argv: list[str]) -> int:
    url, secret_file, repo_url = argv
    secret = Path(secret_file).read_text().strip()
    pusher = os.environ.get("GIT_PUSHER") or getpass.getuser()
    for line in sys.stdin:
        parts = line.split()
        if len(parts) != 3:
            continue
        before, after, ref = parts
        if set(after) <= {"0"}:
            continue  # a deleted ref builds nothing
        try:
            status = announce(url, secret, payload(repo_url, ref, before, after, pusher))
        except OSError as exc:
            status, detail = 0, str(exc)
        else:
            detail = f"HTTP {status}"
        if status == 200:
            print(f"ferry: announced {ref} ({after[:7]})", file=sys.stderr)
        else:
            print(
                f"ferry: could not announce {ref} ({detail}); ci-build finds it on its next run",
                file=sys.stderr,
            )
    return 0


def install_post_receive(bare: Path, url: str, secret: str, repo_url: str | None = None) -> Path:
    """Install the hook into bare repository ``bare``; keep ``secret`` in a 0600 file beside it."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"the receiver URL must be http(s): {url!r}")
    hooks = bare / "hooks"
    hooks.mkdir(parents=True, exist_ok=True)
    secret_file = hooks / "ferry-webhook-secret"
    fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    repo = repo_url or bare.resolve().as_uri()
    args = " ".join(
        shlex.quote(a) for a in (sys.executable, "-m", "ferry.ci.hook", url, str(secret_file), repo)
    )
    hook = hooks / "post-receive"
    hook.write_text(f"#!/bin/sh\n# Installed by Ferry: announce pushed refs to ferry receive.\nexec {args}\n")
    hook.chmod(0o755)
    return hook


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
