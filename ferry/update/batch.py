"""Detection in batches: the applications that read one repository revision, planned in one step.

The Prefect flow used to run one ``detect_updates`` task per application. For a no-op
cycle over 300 applications that cost about 8.8 s against the CLI's 0.95 s, and half of
it was Prefect's task engine starting, initialising and finishing 300 runs, not the
planning (issue 14). The work that is shared is per repository and revision anyway: the
tree view, the registry's tag list, the effect check's render. So the flow now runs one
task per batch, and each application's result is kept apart inside it:

- a batch is the applications of one source repository and ``targetRevision``, in the
  order they were loaded;
- one application's exception never stops its batch; it becomes that application's
  result (:func:`~ferry.update.outcomes.attempt_each`), as its own task's failure was;
- an application whose error is transient is planned again in a task of its own, with
  the one retry policy, so retries stay transient-only and retry nothing that worked.

Everything here is pure over the ``plan`` callable it is given; the flow wraps it in tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ferry.argocd.annotations import PREFIX
from ferry.argocd.application import Application
from ferry.errors import is_transient
from ferry.update.outcomes import AppPlan, PlanResult
from ferry.vcs.credentials import scrub

IMAGE_LIST = PREFIX + "image-list"

#: Planning one application: its plan, or None without an image-list annotation; raises its error.
PlanStep = Callable[[Application], AppPlan | None]


@dataclass(frozen=True, slots=True)
class Batch:
    """The applications whose detection reads one repository revision."""

    repo_url: str
    revision: str
    apps: tuple[Application, ...]

    @property
    def label(self) -> str:
        """How the batch's task is named in the UI: ``12 apps in <repo>@<revision>``.

        The URL comes from an Application and is named before planning could refuse a
        ``user:pass@`` in it, so any password is masked here.
        """
        count = len(self.apps)
        return f"{count} app{'s' if count != 1 else ''} in {scrub(self.repo_url)}@{self.revision}"


def batches(apps: Iterable[Application]) -> list[Batch]:
    """``apps`` grouped by source repository and revision, batches and members in load order.

    The key is the Application's own source, which is what detection reads; an app whose
    write-back goes to another repository still lands in its source's batch, which only
    decides which task plans it, not where anything is written.
    """
    grouped: dict[tuple[str, str], list[Application]] = {}
    for app in apps:
        grouped.setdefault((app.source.repo_url, app.source.target_revision), []).append(app)
    return [Batch(repo, rev, tuple(members)) for (repo, rev), members in grouped.items()]


def repo_shards(
    apps: Iterable[Application], names: Sequence[str] | None = None
) -> list[tuple[str, list[str]]]:
    """The names of the updatable apps of each source repository, for one run per repository.

    A cycle spread over workers gives each run one repository's apps, so no two runs push to one
    repository (whose pushes would race and be refused) and each repository's tree is read by one
    run. Apps without an ``image-list`` annotation are left out: no run would do anything for them.
    ``names`` keeps only those apps, as the cycle's own ``apps`` parameter does.

    >>> from ferry.argocd.application import parse_application
    >>> def app(name, repo, listed=True):
    ...     notes = {"argocd-image-updater.argoproj.io/image-list": "a=r/a"} if listed else {}
    ...     return parse_application({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
    ...         "metadata": {"name": name, "annotations": notes},
    ...         "spec": {"source": {"repoURL": repo}, "destination": {}}}, source="t")
    >>> repo_shards([app("a", "r1"), app("b", "r2"), app("c", "r1"), app("d", "r2", listed=False)])
    [('r1', ['a', 'c']), ('r2', ['b'])]
    >>> repo_shards([app("a", "r1"), app("b", "r2")], names=["b"])
    [('r2', ['b'])]
    """
    wanted = set(names) if names else None
    grouped: dict[str, list[str]] = {}
    for app in apps:
        if wanted is not None and app.name not in wanted:
            continue
        if IMAGE_LIST not in app.annotations:
            continue
        grouped.setdefault(app.source.repo_url, []).append(app.name)
    return list(grouped.items())


def transient(result: PlanResult) -> bool:
    """True when planning again later may succeed (a registry 503, a cluster that did not answer)."""
    return isinstance(result, Exception) and is_transient(result)


def plan_in_batches(
    apps: Sequence[Application],
    run_batch: Callable[[Batch], Sequence[PlanResult]],
    retry_one: PlanStep,
) -> list[PlanResult]:
    """Each app's result, in ``apps`` order: batches by ``run_batch``, transient failures by ``retry_one``.

    ``run_batch`` returns one result per member, in the batch's order. ``retry_one`` is the
    flow's retrying per-application task; whatever it raises in the end is the
    application's result, as a per-application task's final failure was.
    """
    # Keyed by the object, not the name: two Applications may share a name across namespaces.
    results: dict[int, PlanResult] = {}
    for batch in batches(apps):
        got = run_batch(batch)
        if len(got) != len(batch.apps):
            raise ValueError(f"{batch.label}: {len(got)} result(s) for {len(batch.apps)} application(s)")
        for app, result in zip(batch.apps, got, strict=True):
            if transient(result):
                try:
                    result = retry_one(app)
                except Exception as exc:  # noqa: BLE001 - the retried app's final error is its result
                    result = exc
            results[id(app)] = result
    return [results[id(app)] for app in apps]
