"""Build and push an image with a pluggable builder: buildah by default, docker or kaniko by template.

A builder is two command templates, ``build`` and ``push``, split like a shell
line (``shlex``) and filled in per build. Placeholders:

================== ===================================================================
``{context}``      the build context directory (an export of the commit)
``{dockerfile}``   the Dockerfile, as an absolute path
``{image}``        the full reference being built, ``host/repo:tag``
``{build_args}``   expands to ``--build-arg K=V`` pairs (must be a whole argument)
``{labels}``       expands to ``--label k=v`` pairs, the OCI labels (a whole argument)
``{annotations}``  expands to ``--annotation k=v`` pairs, the manifest annotations (a whole
                   argument): ``org.opencontainers.image.created``, so a registry scan reads the
                   build time from the manifest without fetching the config blob
``{storage}``      a scratch directory for this build, removed afterwards
``{authfile}``     a 0600 ``auth.json`` with the push credentials (containers/docker format)
``{docker_config}`` a directory holding the same file as ``config.json`` (``DOCKER_CONFIG``)
``{tls_verify}``   ``true``, or ``false`` for loopback and ``insecure`` registries
``{digestfile}``   a file the push may write the pushed manifest digest into
================== ===================================================================

Both commands also get ``REGISTRY_AUTH_FILE`` and ``DOCKER_CONFIG`` in their
environment, so credentials never appear on a command line (which the log and
``ps`` show). For docker, for example::

    build: docker build -f {dockerfile} {build_args} {labels} -t {image} {context}
    push: docker --config {docker_config} push {image}

When the push leaves ``{digestfile}`` empty, the digest is read from the registry.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ferry.ci.commands import BUILDAH, BuilderCommands, expand
from ferry.credential import Credential
from ferry.errors import ToolError

__all__ = ["BUILDAH", "BuildRequest", "BuilderCommands", "BuiltImage", "ImageBuilder", "log_tail"]

logger = logging.getLogger(__name__)

TAIL_LINES = 40


def log_tail(text: str, secrets: Sequence[str] = (), lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of a build log, with every secret replaced by ``***``.

    >>> log_tail("a\\nb\\ntoken=hunter2\\n", ["hunter2"], lines=2)
    'b\\ntoken=***'
    """
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


@dataclass(frozen=True, slots=True)
class BuildRequest:
    """Everything one build needs. ``labels``, ``annotations``, ``build_args``: ``(key, value)`` pairs."""

    image: str
    context: Path
    dockerfile: Path
    registry_host: str
    tls_verify: bool
    build_args: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class BuiltImage:
    """A built, not yet pushed image: where it is stored and its build log."""

    request: BuildRequest
    storage: Path
    log_path: Path
    log_tail: str


class ImageBuilder:
    """Runs the build and push commands, keeping one log file per build.

    Args:
        work_root: where scratch storage and logs live (logs are kept, storage is not).
        commands: the builder templates; buildah with vfs storage and chroot isolation by default.
        timeout: seconds each command may take.
    """

    def __init__(self, work_root: Path, commands: BuilderCommands = BUILDAH, *, timeout: float = 1800.0):
        self.work_root = Path(work_root)
        self.commands = commands
        self.timeout = timeout

    def build(self, request: BuildRequest, *, log_name: str) -> BuiltImage:
        """Build ``request.image``; the log goes to ``work_root/logs/<log_name>.log``.

        Raises:
            ToolError: the builder is missing, failed or timed out; the message holds the log tail.
        """
        logs = self.work_root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"{log_name}.log"
        log_path.write_text("")
        storage = Path(tempfile.mkdtemp(prefix="build-", dir=self._scratch()))
        built = BuiltImage(request, storage, log_path, "")
        try:
            with self._auth_files(storage, request.registry_host, None) as files:
                self._run("build", self.commands.build, built, files, ())
        except BaseException:
            self.discard(built)
            raise
        return BuiltImage(request, storage, log_path, log_tail(log_path.read_text(errors="replace")))

    def push(self, built: BuiltImage, credential: Credential | None) -> tuple[str | None, str]:
        """Push a built image; return ``(digest or None, log tail)``. The scratch storage is removed.

        Raises:
            ToolError: the push failed; the message holds the log tail, secrets scrubbed.
        """
        secrets = _secrets(credential)
        try:
            with self._auth_files(built.storage, built.request.registry_host, credential) as files:
                self._run("push", self.commands.push, built, files, secrets)
                digest = files["digestfile"].read_text().strip() if files["digestfile"].exists() else ""
        finally:
            self.discard(built)
        tail = log_tail(built.log_path.read_text(errors="replace"), secrets)
        return (digest if digest.startswith("sha256:") else None), tail

    def discard(self, built: BuiltImage) -> None:
        """Remove the scratch storage of a build (the log stays)."""
        shutil.rmtree(built.storage, ignore_errors=True)

    # -- internals ------------------------------------------------------------------

    def _scratch(self) -> Path:
        scratch = self.work_root / "scratch"
        scratch.mkdir(parents=True, exist_ok=True)
        return scratch

    def _auth_files(self, storage: Path, host: str, credential: Credential | None) -> _AuthFiles:
        return _AuthFiles(storage, host, credential)

    def _run(
        self,
        step: str,
        template: Sequence[str],
        built: BuiltImage,
        files: Mapping[str, Path],
        secrets: Sequence[str],
    ) -> None:
        request = built.request
        scalars = {
            "context": str(request.context),
            "dockerfile": str(request.dockerfile),
            "image": request.image,
            "storage": str(built.storage),
            "authfile": str(files["authfile"]),
            "docker_config": str(files["docker_config"]),
            "tls_verify": "true" if request.tls_verify else "false",
            "digestfile": str(files["digestfile"]),
        }
        lists = {
            "{build_args}": [f"{k}={v}" for k, v in request.build_args],
            "{labels}": [f"{k}={v}" for k, v in request.labels],
            "{annotations}": [f"{k}={v}" for k, v in request.annotations],
        }
        try:
            argv = expand(template, scalars, lists)
        except ValueError as exc:
            raise ToolError(f"{step} of {request.image}: {exc}") from None
        env = {
            **os.environ,
            "REGISTRY_AUTH_FILE": str(files["authfile"]),
            "DOCKER_CONFIG": str(files["docker_config"]),
        }
        started = time.monotonic()
        with built.log_path.open("a", encoding="utf-8") as log:
            log.write(f"$ {shlex.join(argv)}\n")
            log.flush()
            try:
                done = subprocess.run(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=built.storage,  # the context may be gone by push time
                    timeout=self.timeout,
                    check=False,
                )
                status: str | None = None if done.returncode == 0 else f"exited {done.returncode}"
            except FileNotFoundError:
                status = f"could not start {argv[0]!r} (is it installed?)"
            except subprocess.TimeoutExpired:
                status = f"timed out after {self.timeout:.0f}s"
            log.write(f"# {step} {'ok' if status is None else status} in {time.monotonic() - started:.1f}s\n")
        if status is not None:
            tail = log_tail(built.log_path.read_text(errors="replace"), secrets)
            raise ToolError(
                f"{step} of {request.image} failed: {status}. Last lines of {built.log_path}:\n{tail}"
            )
        logger.info("%s of %s took %.1fs", step, request.image, time.monotonic() - started)


def _secrets(credential: Credential | None) -> tuple[str, ...]:
    if credential is None or not credential.password:
        return ()
    pair = f"{credential.username or ''}:{credential.password}"
    return (credential.password, base64.b64encode(pair.encode()).decode())


class _AuthFiles:
    """A private directory with ``auth.json`` (and ``config.json``) for one command, removed afterwards."""

    def __init__(self, storage: Path, host: str, credential: Credential | None) -> None:
        self._storage = storage
        self._host = host
        self._credential = credential
        self._dir: Path | None = None

    def __enter__(self) -> dict[str, Path]:
        self._dir = Path(tempfile.mkdtemp(prefix="auth-", dir=self._storage))
        os.chmod(self._dir, 0o700)
        auths: dict[str, dict[str, str]] = {}
        if self._credential is not None and self._credential.password:
            pair = f"{self._credential.username or ''}:{self._credential.password}"
            auths[self._host] = {"auth": base64.b64encode(pair.encode()).decode()}
        text = json.dumps({"auths": auths})
        for name in ("auth.json", "config.json"):
            descriptor = os.open(self._dir / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(text)
        return {
            "authfile": self._dir / "auth.json",
            "docker_config": self._dir,
            "digestfile": self._storage / "digest",
        }

    def __exit__(self, *exc: object) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
