"""Value types shared by the sync engine: resource keys, sync and health status, results.

The vocabulary is Argo CD's (``Synced``/``OutOfSync``, ``Healthy``/``Progressing``/…)
so that an operator who knows ``argocd app get`` reads Ferry's output without a
glossary.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class SyncStatus(StrEnum):
    """Whether the live state matches what Git renders."""

    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    UNKNOWN = "Unknown"


class HealthStatus(StrEnum):
    """Argo CD's health codes."""

    HEALTHY = "Healthy"
    SUSPENDED = "Suspended"
    PROGRESSING = "Progressing"
    MISSING = "Missing"
    DEGRADED = "Degraded"
    UNKNOWN = "Unknown"

    @property
    def rank(self) -> int:
        """Badness, as gitops-engine orders it: an app is as healthy as its worst resource."""
        return _HEALTH_ORDER.index(self)


_HEALTH_ORDER = (
    HealthStatus.HEALTHY,
    HealthStatus.SUSPENDED,
    HealthStatus.PROGRESSING,
    HealthStatus.MISSING,
    HealthStatus.DEGRADED,
    HealthStatus.UNKNOWN,
)


@dataclass(frozen=True, slots=True, order=True)
class ResourceKey:
    """Identity of one Kubernetes object: API group, kind, namespace ('' when cluster-scoped), name."""

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, manifest: dict[str, Any]) -> ResourceKey:
        """The key of a manifest (its namespace as written; the caller fills defaults)."""
        api_version = str(manifest.get("apiVersion", ""))
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        metadata = manifest.get("metadata") or {}
        return cls(
            group,
            str(manifest.get("kind", "")),
            str(metadata.get("namespace") or ""),
            str(metadata.get("name", "")),
        )

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{kind} {where}{self.name}"

    @property
    def tracking_id(self) -> str:
        """Argo CD's annotation-tracking format without the app: ``<group>/<kind>:<ns>/<name>``."""
        return f"{self.group}/{self.kind}:{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Health:
    """A health verdict and the reason for it."""

    status: HealthStatus
    message: str = ""


@dataclass(frozen=True, slots=True)
class ResourceDiff:
    """Desired against live for one resource.

    Attributes:
        key: Which resource.
        status: Synced or OutOfSync.
        desired: The normalized object the sync would leave behind (None when it is to be pruned).
        live: The normalized live object (None when missing).
        diff: A unified diff of the two as YAML ('' when Synced).
        requires_pruning: Live, tracked by this app, no longer rendered.
        error: Why the server-side dry run refused it ('' when it did not).
        marked: The live object carries the applied hash of the desired one, so a sync need not
            apply it again when it is Synced (without the mark it is applied, to write it).
    """

    key: ResourceKey
    status: SyncStatus
    desired: dict[str, Any] | None
    live: dict[str, Any] | None
    diff: str = ""
    requires_pruning: bool = False
    error: str = ""
    marked: bool = False

    @property
    def action(self) -> str:
        """What a sync does to it: ``prune``, ``create``, ``update`` or ``none``."""
        if self.status is not SyncStatus.OUT_OF_SYNC:
            return "none"
        if self.requires_pruning:
            return "prune"
        return "create" if self.live is None else "update"


@dataclass(frozen=True, slots=True)
class AppDiff:
    """Every resource of one app compared; the app is OutOfSync when any resource is."""

    app: str
    revision: str
    resources: tuple[ResourceDiff, ...]

    @property
    def status(self) -> SyncStatus:
        if any(r.status is SyncStatus.OUT_OF_SYNC for r in self.resources):
            return SyncStatus.OUT_OF_SYNC
        return SyncStatus.SYNCED

    @property
    def errors(self) -> tuple[ResourceDiff, ...]:
        """Resources the server-side dry run refused."""
        return tuple(r for r in self.resources if r.error)

    @property
    def out_of_sync(self) -> tuple[ResourceDiff, ...]:
        return tuple(r for r in self.resources if r.status is SyncStatus.OUT_OF_SYNC)

    def unified(self) -> str:
        """All resource diffs, one after the other (what ``ferry diff`` prints)."""
        parts = []
        for resource in self.resources:
            if resource.error:
                parts.append(
                    f"===== {resource.key} ======\nrejected by the server-side dry run: {resource.error}\n"
                )
            if resource.diff:
                parts.append(resource.diff)
        return "".join(parts)


@dataclass(frozen=True, slots=True)
class ResourceOutcome:
    """What a sync did to one resource: ``created``, ``configured``, ``unchanged``, ``pruned``,
    ``prune-skipped`` or ``failed``."""

    key: ResourceKey
    action: str
    message: str = ""


@dataclass(frozen=True, slots=True)
class Initiator:
    """Who started a sync: the user and, under Prefect, the flow run id."""

    user: str
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One successful sync, as ``argocd app history`` shows it."""

    id: int
    revision: str
    images: tuple[str, ...]
    deployed_at: str
    initiated_by: str
    run_id: str | None = None
    source: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "revision": self.revision,
            "images": list(self.images),
            "deployedAt": self.deployed_at,
            "initiatedBy": self.initiated_by,
            "runId": self.run_id,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HistoryEntry:
        return cls(
            id=int(data["id"]),
            revision=str(data["revision"]),
            images=tuple(str(i) for i in data.get("images", ())),
            deployed_at=str(data.get("deployedAt", "")),
            initiated_by=str(data.get("initiatedBy", "")),
            run_id=data.get("runId"),
            source=dict(data.get("source") or {}),
        )


@dataclass(frozen=True, slots=True)
class SyncResult:
    """The outcome of syncing one app.

    Attributes:
        app: Application name.
        revision: The commit SHA that was rendered.
        dry_run: Nothing was changed for real.
        resources: One outcome per resource touched or considered.
        health: App health after the sync (None for a dry run or when not waited for).
        history_id: The history entry recorded (None for a dry run).
        diff: The diff taken before applying.
    """

    app: str
    revision: str
    dry_run: bool
    resources: tuple[ResourceOutcome, ...]
    health: Health | None
    history_id: int | None
    diff: AppDiff

    def slim(self) -> SyncResult:
        """This result without the objects: what may be stored (Prefect persists task results).

        The diff keeps each resource's key, verdict, masked unified diff and error; the
        desired and live objects (a Secret's data among them) are dropped.
        """
        resources = tuple(
            ResourceDiff(r.key, r.status, None, None, r.diff, r.requires_pruning, r.error, r.marked)
            for r in self.diff.resources
        )
        return replace(self, diff=AppDiff(self.diff.app, self.diff.revision, resources))

    def as_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "revision": self.revision,
            "dry_run": self.dry_run,
            "sync_status": self.diff.status.value,
            "health": self.health.status.value if self.health else None,
            "history_id": self.history_id,
            "resources": [
                {"resource": str(r.key), "action": r.action, "message": r.message} for r in self.resources
            ],
        }
