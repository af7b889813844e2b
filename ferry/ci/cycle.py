"""The CI build stage: detect release refs, check them out, build, push, announce.

:class:`CiBuilder` holds the steps and :func:`run_cycle` owns the loop over them.
``ferry build`` runs the loop with the builder's own methods (:meth:`CiSteps.of`);
the Prefect flow (``flows/ci_build.py``) passes its tasks in as the steps, the way
the image updater's flow does, so both run one loop.
A ref whose tag already holds an image of the same commit is never built again,
and nothing is cloned unless something is to be built.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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
from ferry.ci.results import BuildOutcome, BuildStatus, CycleResult, Detection, PushedImage
from ferry.config import FerryConfig
from ferry.credentials import Credential, CredentialResolver
from ferry.errors import ConfigError, FerryError, GitError, ToolError
from ferry.registry.client import RegistryClient
from ferry.registry.pool import RegistryPool
from ferry.schema.builds import BuildRule
from ferry.vcs.cache import RepoCache
from ferry.vcs.credentials import GitCredentials, scrub

__all__ = [
    "BuildOutcome",
    "BuildStatus",
    "CiBuilder",
    "CiSteps",
    "CycleResult",
    "Detection",
    "PushedImage",
    "run_cycle",
]

logger = logging.getLogger(__name__)


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
        self.registries = RegistryPool(config, self.resolver)

    def close(self) -> None:
        """Close registry clients."""
        self.registries.close()

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
            created = rfc3339_now()
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
                    (CREATED_LABEL, created),
                ),
                # The same time on the manifest, where a newest-build scan reads it without the
                # config blob. Ferry formats it itself, so it is always RFC 3339 and never a flag.
                annotations=((CREATED_LABEL, created),),
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
        """One detection and build cycle over the rules (``ferry build``), with these methods as steps."""
        return run_cycle(self, CiSteps.of(self, emitter), names)

    # -- credentials and registries ----------------------------------------------------

    def _git_credentials(self, rule: BuildRule) -> GitCredentials | None:
        return self.resolver.git_credentials(
            rule.repo, rule.credentials, self.config.repositories, key=f"builds.{rule.name}.credentials"
        )

    def _insecure(self, rule: BuildRule) -> bool:
        return self.registries.target(rule.image_reference).plain_http

    def _registry_credential(self, rule: BuildRule) -> Credential | None:
        cred_ref = self.registries.target(rule.image_reference).credentials
        if cred_ref is None:
            return None
        try:
            return self.resolver.resolve(cred_ref, registry_host=rule.image_reference.registry)
        except ConfigError as exc:
            raise exc.located(key="registries.credentials") from exc

    def _registry(self, rule: BuildRule) -> tuple[RegistryClient, str]:
        # The image's own host, as buildah logs in to it, finds a Docker config's entry.
        return self.registries.client(rule.image_reference, registry_host=rule.image_reference.registry)


@dataclass(frozen=True, slots=True)
class CiSteps:
    """The steps :func:`run_cycle` chains. Any may be a Prefect task wrapping the builder's method.

    ``failures`` are the exceptions that make one ref (or one rule's detection) fail
    while the others go on: Ferry's own errors for ``ferry build``, where anything
    else is a bug; every exception in the flow, whose tasks have already retried.
    """

    detect: Callable[[BuildRule], Detection]
    checkout: Callable[[BuildRule, BuildCandidate], Path]
    build: Callable[[BuildRule, BuildCandidate, Path], BuiltImage]
    push: Callable[[BuildRule, BuildCandidate, BuiltImage], PushedImage]
    announce: Callable[[BuildRule, PushedImage], None] | None = None
    planned: Callable[[Sequence[tuple[BuildRule, BuildCandidate]]], None] | None = None
    logged: Callable[[BuildRule, BuildCandidate, str, str], None] | None = None
    failures: tuple[type[Exception], ...] = (FerryError,)

    @classmethod
    def of(cls, ci: CiBuilder, emitter: EventEmitter | None = None) -> CiSteps:
        """The builder's own methods as the steps; pushed images are announced to ``emitter``."""

        def announce(rule: BuildRule, pushed: PushedImage) -> None:
            assert emitter is not None
            emitter(ci.pushed_event(rule, pushed))

        return cls(ci.detect, ci.checkout, ci.build, ci.push, announce if emitter else None)


def run_cycle(ci: CiBuilder, steps: CiSteps, names: list[str] | None = None) -> CycleResult:
    """One detection and build cycle over the rules ``names`` (all when None). Failures are collected.

    Every image of the cycle is built before any is pushed, so the registry's
    notifications (and the image updater they start) see one source commit's
    images together rather than one at a time.
    """
    result = CycleResult()
    queue: list[tuple[BuildRule, BuildCandidate]] = []
    for rule in ci.rules(names):
        try:
            detection = steps.detect(rule)
        except steps.failures as exc:  # one unreachable repository must not stop the others
            logger.error("build rule '%s': detection failed: %s", rule.name, exc)
            result.outcomes.append(
                BuildOutcome(rule.name, "", rule.image, BuildStatus.failed, error=str(exc))
            )
            continue
        result.ignored += len(detection.ignored)
        result.outcomes.extend(
            BuildOutcome(rule.name, c.ref, c.reference, BuildStatus.up_to_date) for c in detection.up_to_date
        )
        queue.extend((rule, candidate) for candidate in detection.to_build)
    if steps.planned is not None:
        steps.planned(queue)
    built: list[tuple[BuildRule, BuildCandidate, BuiltImage | None]] = []
    for rule, candidate in queue:
        try:
            built.append((rule, candidate, steps.build(rule, candidate, steps.checkout(rule, candidate))))
        except steps.failures as exc:
            result.outcomes.append(_failed(steps, rule, candidate, exc))
            built.append((rule, candidate, None))
    for rule, candidate, image in built:
        if image is not None:
            result.outcomes.append(_pushed(steps, rule, candidate, image))
    # Outcomes in the order the refs were detected, whatever step each one ended at.
    order = {(rule.name, candidate.ref): i for i, (rule, candidate) in enumerate(queue)}
    result.outcomes.sort(key=lambda o: order.get((o.rule, o.ref), -1))
    return result


def _pushed(steps: CiSteps, rule: BuildRule, candidate: BuildCandidate, built: BuiltImage) -> BuildOutcome:
    try:
        pushed = steps.push(rule, candidate, built)
    except steps.failures as exc:
        return _failed(steps, rule, candidate, exc)
    if steps.announce is not None:
        # The image is in the registry either way; a lost event only means the image updater
        # finds it on its next interval instead of now, so it must not turn the build red.
        try:
            steps.announce(rule, pushed)
        except Exception as exc:  # noqa: BLE001 - emitters are plug-ins; any failure is reported the same way
            logger.warning("pushed %s but could not announce it: %s", candidate.reference, exc)
    if steps.logged is not None:
        steps.logged(rule, candidate, f"Pushed {pushed.digest or '(digest unknown)'}", pushed.log_tail)
    return BuildOutcome(
        rule.name, candidate.ref, candidate.reference, BuildStatus.built, digest=pushed.digest
    )


def _failed(steps: CiSteps, rule: BuildRule, candidate: BuildCandidate, exc: Exception) -> BuildOutcome:
    if steps.logged is not None:
        steps.logged(rule, candidate, "Build failed", str(exc))
    return BuildOutcome(rule.name, candidate.ref, candidate.reference, BuildStatus.failed, error=str(exc))
