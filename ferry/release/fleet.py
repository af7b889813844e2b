"""The fleet view of one release: every environment's Applications, wave by wave, and where each stands.

A release across clusters is many Applications at once; the operator needs one
table, wave by cluster, saying which revision each runs, its health, its canary
step and the gate's decision. The view is a frozen value the release loop
replaces as things happen (:meth:`FleetView.at`); the flow publishes its
markdown as the ``release-status-<release>`` artifact and ``ferry release
status`` prints the same table from live state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from ferry.schema.releases import WaveConfig


@dataclass(frozen=True, slots=True)
class Wave:
    """One resolved wave: its number (from 1), its display name and its Applications in order."""

    number: int
    name: str
    apps: tuple[str, ...]
    config: WaveConfig

    @property
    def label(self) -> str:
        """``wave 2 (cn-beijing, cn-shanghai)``."""
        return f"wave {self.number} ({self.name})"


#: What a row says before anything happened to its app in this release.
PENDING = "pending"


@dataclass(frozen=True, slots=True)
class FleetRow:
    """One Application of the release.

    Attributes:
        env: Its environment.
        wave: Its wave's number (0: the environment is one Application, no waves).
        app: The Application's name.
        cluster: The cluster it deploys to.
        state: ``pending``, ``syncing``, ``canary``, ``released``, ``stopped`` or ``untouched``.
        revision: The revision this release synced it to ('' before).
        health: Its health after the sync ('' before).
        canary: Its canary's step or end (``step 2/4``, ``promoted``, ``aborted``).
        gate: The last decision about it (``approved by alice``, ``rejected by bob: …``).
    """

    env: str
    wave: int
    app: str
    cluster: str
    state: str = PENDING
    revision: str = ""
    health: str = ""
    canary: str = ""
    gate: str = ""


@dataclass(frozen=True, slots=True)
class FleetView:
    """The release's rows in release order (environment, then wave, then app)."""

    release: str
    rows: tuple[FleetRow, ...]

    def at(self, app: str, **changes: str) -> FleetView:  # only the text columns change
        """The view with ``app``'s row changed (an unknown app is an error: the loop lost track).

        >>> v = FleetView("echo", (FleetRow("production", 1, "a", "c1"),))
        >>> v.at("a", state="released").rows[0].state
        'released'
        """
        if not any(r.app == app for r in self.rows):
            raise KeyError(app)
        return FleetView(
            self.release,
            tuple(replace(r, **changes) if r.app == app else r for r in self.rows),  # type: ignore[arg-type]
        )

    def each(self, apps: Iterable[str], **changes: str) -> FleetView:
        """The view with every row of ``apps`` changed alike."""
        view = self
        for app in apps:
            view = view.at(app, **changes)
        return view

    def row(self, app: str) -> FleetRow:
        for r in self.rows:
            if r.app == app:
                return r
        raise KeyError(app)

    def markdown(self) -> str:
        """The ``release-status`` artifact: one table, a row per Application."""
        lines = [
            f"# Release {self.release}",
            "",
            "| environment | wave | cluster | app | state | revision | health | canary | gate |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            cells = [c.replace("|", "\\|") for c in _cells(r, "—")]
            cells[3] = f"`{r.app}`"
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def text_rows(self) -> list[tuple[str, ...]]:
        """The same cells for a terminal table (``ferry release status``)."""
        return [_cells(r, "-") for r in self.rows]


TEXT_HEADERS = ("env", "wave", "cluster", "app", "state", "revision", "health", "canary", "gate")


def _cells(r: FleetRow, blank: str) -> tuple[str, ...]:
    revision = r.revision[:12] if r.revision else ""
    cells = (r.env, str(r.wave or ""), r.cluster, r.app, r.state, revision, r.health, r.canary, r.gate)
    return tuple(c or blank for c in cells)


def initial_view(
    release: str, singles: Sequence[tuple[str, str, str]], waves: Sequence[tuple[str, Wave, Sequence[str]]]
) -> FleetView:
    """The view before anything ran.

    Args:
        release: The release's name.
        singles: ``(env, app, cluster)`` of each environment that is one Application.
        waves: ``(env, wave, clusters of its apps in order)`` of each wave.
    """
    rows = [FleetRow(env, 0, app, cluster) for env, app, cluster in singles]
    for env, wave, clusters in waves:
        rows += [FleetRow(env, wave.number, app, c) for app, c in zip(wave.apps, clusters, strict=True)]
    return FleetView(release, tuple(rows))


def live_view(view: FleetView, live: dict[str, tuple[str, str, str]]) -> FleetView:
    """``view`` filled from the clusters: ``app → (revision it runs, sync status, health)``.

    What ``ferry release status`` prints; the gate decisions live in the release's
    Prefect runs (the ``release-status`` artifact), not in the clusters.
    """
    for app, (revision, sync, health) in live.items():
        view = view.at(app, revision=revision, state=sync, health=health)
    return view
