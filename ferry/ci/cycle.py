"""The CI build stage: detect release refs, check them out, build, push, announce.

:class:`CiBuilder` holds the steps; the Prefect flow (``flows/ci_build.py``)
wraps each in a task, and :meth:`CiBuilder.run` chains them for ``ferry build``.
A ref whose tag already holds an image of the same commit is never built again,
and nothing is cloned unless something is to be built.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import IO

from ferry.ci.builder import BuildRequest, BuiltImage, ImageBuilder
from ferry.ci.detect import (
    CREATED_LABEL,
    REVISION_LABEL,
    SOURCE_LABEL,
    BuildCandidate,
    already_built,
    ls_remote,
    match_refs,
)
from ferry.ci.events import EventEmitter, ImagePushed
from ferry.config import FerryConfig
from ferry.credentials import Credential, CredentialResolver
from ferry.errors import ConfigError, FerryError, GitError, ToolError
from ferry.registry.client import RegistryClient
from ferry.registry.targets import registry_target
from ferry.schema.builds import BuildRule
from ferry.vcs.cache import RepoCache
from ferry.vcs.credentials import GitCredentials, scrub

__all__ = ["BuildOutcome", "BuildStatus", "CiBuilder", "Detection", "PushedImage"]

logger = logging.getLogger(__name__)


class BuildStatus(StrEnum):
    """What happened to one candidate ref."""

    built = "built"
    up_to_date = "up-to-date"
    failed = "failed"


@dataclass(frozen=True, slots=True)
class Detection:
    """One rule's detection: refs to build, refs already built, refs ignored."""

    rule: str
    to_build: tuple[BuildCandidate, ...]
    up_to_date: tuple[BuildCandidate, ...]
    ignored: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PushedImage:
    """A pushed build: the candidate, the digest the registry holds, the log tail."""

    candidate: BuildCandidate
    digest: str | None
    log_tail: str
    log_path: Path


@dataclass(frozen=True, slots=True)
class BuildOutcome:
    """The result of one candidate in a cycle."""

    rule: str
    ref: str
    reference: str
    status: BuildStatus
    digest: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """A JSON-ready view."""
        return {
            "rule": self.rule,
            "ref": self.ref,
            "image": self.reference,
            "status": self.status.value,
            "digest": self.digest,
            "error": self.error,
        }


@dataclass
class CycleResult:
    """Every outcome of a cycle, plus the refs the rules ignored."""

    outcomes: list[BuildOutcome] = field(default_factory=list)
    ignored: int = 0

    @property
    def failed(self) -> int:
        """How many candidates failed."""
        return sum(1 for o in self.outcomes if o.status is BuildStatus.failed)


def _extract(archive: IO[bytes], target: Path, rule: BuildRule, what: str) -> None:
    """Unpack a ``git archive`` tar with the ``data`` filter; what it refuses is this rule's error."""
    with tarfile.open(fileobj=archive) as tar:
        try:
            tar.extractall(target, filter="data")
        except tarfile.FilterError as exc:  # an absolute or climbing symlink, a device file...
            raise ConfigError(
                f"{what} holds {exc.tarinfo.name!r}, which points outside the source tree "
                "(a symlink, a hard link or a special file); refusing to build it",
                source=scrub(rule.repo),
                key=f"builds.{rule.name}",
            ) from None


def rfc3339_now() -> str:
    """The current UTC time as OCI's ``created`` label writes it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CiBuilder:
    """The steps of the build stage for one ``ferry.yaml``.

    Args:
        config: the loaded configuration (its ``builds:`` rules).
        resolver: resolves the rules' and registries' credential references.
    """

    def __init__(self, config: FerryConfig, resolver: CredentialResolver | None = None) -> None:
        self.config = config
        self.resolver = resolver or CredentialResolver(base_dir=Path(config.base_dir))
        self.work_root = config.cache_path / "ci"
        self.sources = RepoCache(config.cache_path / "ci-sources")
        self._clients: dict[str, RegistryClient] = {}

    def close(self) -> None:
        """Close registry clients."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def __enter__(self) -> CiBuilder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def rules(self, names: list[str] | None = None) -> list[BuildRule]:
        """The configured rules, or only ``names`` (an unknown name is a ConfigError)."""
        if not names:
            return list(self.config.builds)
        by_name = {rule.name: rule for rule in self.config.builds}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise ConfigError(f"no build rule named {', '.join(unknown)}", key="builds")
        return [by_name[n] for n in names]

    def rule(self, name: str) -> BuildRule:
        """One rule by name."""
        return self.rules([name])[0]

    # -- steps ------------------------------------------------------------------------

    def detect(self, rule: BuildRule) -> Detection:
        """``ls-remote`` the source repo and keep the refs whose image is not in the registry yet."""
        refs = ls_remote(
            rule.repo, rule.ref_type, self._git_credentials(rule), known_hosts=self.sources.known_hosts
        )
        candidates, ignored = match_refs(rule, refs)
        client, repository = self._registry(rule)
        to_build: list[BuildCandidate] = []
        done: list[BuildCandidate] = []
        for candidate in candidates:
            (done if already_built(client, repository, candidate) else to_build).append(candidate)
        logger.info(
            "build rule '%s': %d ref(s) to build, %d already built, %d ignored",
            rule.name,
            len(to_build),
            len(done),
            len(ignored),
        )
        return Detection(rule.name, tuple(to_build), tuple(done), tuple(ignored))

    def checkout(self, rule: BuildRule, candidate: BuildCandidate) -> Path:
        """Export the candidate's commit from the cached clone into a fresh directory; return it.

        The export (``git archive``) holds no ``.git``, so the build context never
        sees the repository's history or its remote URL.
        """
        contexts = self.work_root / "contexts"
        contexts.mkdir(parents=True, exist_ok=True)
        target = Path(tempfile.mkdtemp(prefix=f"{rule.name}-{candidate.sha[:12]}-", dir=contexts))
        try:
            with self.sources.open(rule.repo, self._git_credentials(rule)) as clone:
                sha = clone.resolve(candidate.sha)
                with tempfile.TemporaryFile() as archive:
                    done = subprocess.run(
                        ["git", "-C", str(clone.path), "archive", "--format=tar", sha],
                        stdout=archive,
                        stderr=subprocess.PIPE,
                        check=False,
                    )
                    if done.returncode != 0:
                        raise GitError(
                            f"git archive {sha[:12]} failed: {done.stderr.decode(errors='replace')}"
                        )
                    archive.seek(0)
                    _extract(archive, target, rule, f"{candidate.short_ref} ({sha[:12]})")
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        logger.info("checked out %s (%s) of %s", candidate.short_ref, candidate.sha[:12], scrub(rule.repo))
        return target

    def build(self, rule: BuildRule, candidate: BuildCandidate, source: Path) -> BuiltImage:
        """Build the image from an exported commit (the export is removed afterwards).

        Raises:
            ToolError: the Dockerfile is missing, or the build failed (the message holds the log tail).
        """
        try:
            context = source if rule.context in (".", "./", "") else source / rule.context
            dockerfile = context / rule.dockerfile
            if not dockerfile.is_file():
                raise ToolError(
                    f"build rule '{rule.name}': {candidate.short_ref} has no {rule.dockerfile} in "
                    f"context '{rule.context}'"
                )
            values = dict(candidate.values)
            request = BuildRequest(
                image=candidate.reference,
                context=context,
                dockerfile=dockerfile,
                registry_host=rule.image_reference.registry or "",
                tls_verify=not self._insecure(rule),
                build_args=rule.build_arg_values({**values}),
                labels=(
                    (SOURCE_LABEL, scrub(rule.repo)),
                    (REVISION_LABEL, candidate.sha),
                    (CREATED_LABEL, rfc3339_now()),
                ),
            )
            builder = ImageBuilder(self.work_root, rule.commands, timeout=rule.timeout)
            return builder.build(request, log_name=f"{rule.name}-{candidate.tag}")
        finally:
            shutil.rmtree(source, ignore_errors=True)

    def push(self, rule: BuildRule, candidate: BuildCandidate, built: BuiltImage) -> PushedImage:
        """Push a built image with the registry's credentials; read the digest back if the builder did not."""
        builder = ImageBuilder(self.work_root, rule.commands, timeout=rule.timeout)
        digest, tail = builder.push(built, self._registry_credential(rule))
        if digest is None:
            digest = self._registry_digest(rule, candidate)
        logger.info("pushed %s@%s", candidate.reference, digest or "(digest unknown)")
        return PushedImage(candidate, digest, tail, built.log_path)

    def _registry_digest(self, rule: BuildRule, candidate: BuildCandidate) -> str | None:
        # The image is pushed and its storage gone: a registry hiccup here must not fail
        # (and retry) the push, so the digest is best-effort.
        client, repository = self._registry(rule)
        try:
            found = client.tag_metadata(
                repository, [candidate.tag], platforms=(), need_created=False, need_digest=True, refresh=True
            )
        except FerryError as exc:
            logger.warning("pushed %s but could not read its digest back: %s", candidate.reference, exc)
            return None
        return found[candidate.tag].digest if candidate.tag in found else None

    def pushed_event(self, rule: BuildRule, pushed: PushedImage) -> ImagePushed:
        """The ``ferry.image.pushed`` event for a pushed build."""
        candidate = pushed.candidate
        return ImagePushed(
            image=candidate.image,
            tag=candidate.tag,
            digest=pushed.digest,
            revision=candidate.sha,
            ref=candidate.ref,
            source_repo=scrub(rule.repo),
            origin="ferry-build",
        )

    def run(self, names: list[str] | None = None, emitter: EventEmitter | None = None) -> CycleResult:
        """One detection and build cycle over the rules (``ferry build``). Failures are collected."""
        result = CycleResult()
        for rule in self.rules(names):
            try:
                detection = self.detect(rule)
            except FerryError as exc:
                result.outcomes.append(
                    BuildOutcome(rule.name, "", rule.image, BuildStatus.failed, error=str(exc))
                )
                continue
            result.ignored += len(detection.ignored)
            for candidate in detection.up_to_date:
                result.outcomes.append(
                    BuildOutcome(rule.name, candidate.ref, candidate.reference, BuildStatus.up_to_date)
                )
            for candidate in detection.to_build:
                try:
                    pushed = self.push(
                        rule, candidate, self.build(rule, candidate, self.checkout(rule, candidate))
                    )
                    if emitter is not None:
                        self._announce(emitter, rule, pushed)
                except FerryError as exc:
                    result.outcomes.append(
                        BuildOutcome(
                            rule.name, candidate.ref, candidate.reference, BuildStatus.failed, error=str(exc)
                        )
                    )
                    continue
                result.outcomes.append(
                    BuildOutcome(
                        rule.name, candidate.ref, candidate.reference, BuildStatus.built, digest=pushed.digest
                    )
                )
        return result

    def _announce(self, emitter: EventEmitter, rule: BuildRule, pushed: PushedImage) -> None:
        # The image is in the registry either way; a lost event only means the image updater
        # finds it on its next interval instead of now, so it must not turn the build red.
        try:
            emitter(self.pushed_event(rule, pushed))
        except Exception as exc:  # noqa: BLE001 - emitters are plug-ins; any failure is reported the same way
            logger.warning("pushed %s but could not announce it: %s", pushed.candidate.reference, exc)

    # -- credentials and registries ----------------------------------------------------

    def _git_credentials(self, rule: BuildRule) -> GitCredentials | None:
        return self.resolver.git_credentials(
            rule.repo, rule.credentials, self.config.repositories, key=f"builds.{rule.name}.credentials"
        )

    def _registry_config(self, rule: BuildRule) -> tuple[str, str, bool, str | None]:
        """``(api_url, repository, plain HTTP, credentials ref)`` for the rule's image."""
        target = registry_target(self.config, rule.image_reference)
        return target.api_url, target.repository, target.plain_http, target.credentials

    def _insecure(self, rule: BuildRule) -> bool:
        return self._registry_config(rule)[2]

    def _registry_credential(self, rule: BuildRule) -> Credential | None:
        cred_ref = self._registry_config(rule)[3]
        if cred_ref is None:
            return None
        try:
            return self.resolver.resolve(cred_ref, registry_host=rule.image_reference.registry)
        except ConfigError as exc:
            raise exc.located(key="registries.credentials") from exc

    def _registry(self, rule: BuildRule) -> tuple[RegistryClient, str]:
        api_url, repository, insecure, _ = self._registry_config(rule)
        if api_url not in self._clients:
            cred = self._registry_credential(rule)
            self._clients[api_url] = RegistryClient(
                api_url,
                username=cred.username if cred else None,
                password=cred.password if cred else None,
                insecure=insecure,
            )
        return self._clients[api_url], repository
