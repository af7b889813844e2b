"""One error hierarchy for all of Ferry.

Every error says whether trying again can help. Prefect tasks retry only
:class:`TransientError` (see ``tasks._retry``); everything else fails the task at
once, because retrying a bad annotation or a wrong password only delays the
message the operator needs to see.

Adapters wrap the exceptions of the libraries they use (httpx, GitPython, the
Kubernetes client) with ``raise ... from`` so that callers only ever handle
these types.
"""

from __future__ import annotations

from typing import ClassVar


class FerryError(Exception):
    """Base class of every error Ferry raises on purpose."""

    retryable: ClassVar[bool] = False


class TransientError(FerryError):
    """The same call may succeed later: an overloaded registry, a rejected push, a restarting API.

    ``retry_after`` carries the server's hint in seconds, when it gave one.
    """

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(FerryError):
    """Retrying cannot help until someone changes the input, the credentials or the world."""


class ConfigError(PermanentError):
    """Invalid configuration. The message names where it came from.

    ``source`` is the file, ``application`` the Argo CD Application and ``key`` the
    annotation or setting at fault; each is optional, and the string form puts
    the known ones in front of the message so that one log line is enough to
    find the mistake.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        application: str | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.source = source
        self.application = application
        self.key = key

    def located(
        self, *, source: str | None = None, application: str | None = None, key: str | None = None
    ) -> ConfigError:
        """Return a copy with missing location parts filled in (existing parts win)."""
        clone = type(self).__new__(type(self))
        ConfigError.__init__(
            clone,
            self.message,
            source=self.source or source,
            application=self.application or application,
            key=self.key or key,
        )
        clone.__cause__ = self.__cause__
        return clone

    def __str__(self) -> str:
        parts = []
        if self.source:
            parts.append(self.source)
        if self.application:
            parts.append(f"application '{self.application}'")
        if self.key:
            parts.append(f"'{self.key}'")
        return ": ".join([*parts, self.message])


class UnsafePathError(ConfigError):
    """A name or path would reach outside the directory it must stay in."""


class AuthenticationError(PermanentError):
    """Credentials are missing, wrong, or not allowed to do this."""


class NotFoundError(PermanentError):
    """The thing asked for does not exist (an image, a tag, a ref, a resource)."""


class RegistryUnavailable(TransientError):
    """The registry answered 429 or 5xx, or did not answer in time."""


class RegistryError(PermanentError):
    """The registry answered in a way no retry will change (4xx other than 401/404/429, bad JSON)."""


class GitPushRejected(TransientError):
    """The remote refused a push that a fetch and rebase may fix (non-fast-forward, lock contention)."""


class GitUnavailable(TransientError):
    """The Git remote could not be reached (network, DNS, a restarting server)."""


class GitTimeout(GitUnavailable):
    """The Git remote stopped answering: waiting again at once would cost the same timeout."""


class GitError(PermanentError):
    """A Git operation failed for a reason a retry will not fix."""


class ClusterUnavailable(TransientError):
    """The Kubernetes API server could not be reached or answered 5xx/429."""


class ClusterError(PermanentError):
    """The Kubernetes API refused a request (validation, forbidden, conflict that needs a human)."""


class CanaryAborted(ClusterError):
    """A canary's controller aborted the rollout itself (a failed analysis step, or someone else's abort)."""


class ClusterNotFound(ClusterError, NotFoundError):
    """The Kubernetes API answered 404: the object, or the subresource asked for, does not exist.

    Both a :class:`ClusterError` (callers that handle any refusal keep working) and a
    :class:`NotFoundError` (callers that expect absence catch it by type, not by message).
    """


class ToolError(PermanentError):
    """An external program (helm, kustomize, buildah, go) failed."""


class PortTaken(TransientError):
    """A local server could not bind its port: another process took it first."""


class PrometheusUnavailable(TransientError):
    """Prometheus did not answer, timed out, or answered 429/5xx."""


class PrometheusQueryError(PermanentError):
    """Prometheus refused the query (bad PromQL, or an expression it cannot execute), or answered nonsense."""


class DevNotReady(PermanentError):
    """A release's Dev did not become Synced and Healthy in time, or is on hold."""


class GateStopped(PermanentError):
    """A human gate ended the release: it was rejected, or nobody answered in time.

    ``decision`` is the gate's recorded decision (a ``ferry.release.gates.GateDecision``);
    it is typed loosely because this module imports nothing of Ferry.
    """

    def __init__(self, message: str, *, decision: object = None) -> None:
        super().__init__(message)
        self.decision = decision


class Rejected(GateStopped):
    """An operator rejected the gate (the release ends Cancelled, not Failed)."""


class GateTimedOut(GateStopped):
    """Nobody answered the gate in time (the release ends Failed)."""


def is_transient(exc: BaseException) -> bool:
    """Return True when retrying the operation that raised ``exc`` can help.

    >>> is_transient(RegistryUnavailable("503"))
    True
    >>> is_transient(ConfigError("bad"))
    False
    >>> is_transient(ValueError("not ours"))
    False
    """
    return isinstance(exc, FerryError) and exc.retryable
