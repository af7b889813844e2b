"""One image update cycle over many Applications.

The cycle is split so the Prefect layer can make each step a retrying task:
:meth:`Updater.plan` detects one application's updates (registry reads, repo
reads), :meth:`Updater.write` commits every planned change of one repository
and pushes once. :meth:`Updater.run_cycle` composes them for the CLI. One
application's failure is recorded in its outcome and never stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ferry.argocd.annotations import (
    DEFAULT_COMMIT_MESSAGE,
    ImageSettings,
    TargetKind,
    parse_updater_settings,
)
from ferry.argocd.application import Application, load_config_applications
from ferry.argocd.source import SourceType, source_type
from ferry.config import FerryConfig
from ferry.credentials import CredentialResolver
from ferry.errors import ConfigError, FerryError
from ferry.image.reference import ImageReference
from ferry.registry.cache import MetadataCache
from ferry.registry.ratelimit import SharedPacer
from ferry.tools import Tools
from ferry.update.current import CurrentImage, current_image, write_target_path
from ferry.update.detect import detect_image
from ferry.update.edits import build_edit
from ferry.update.effect import check_effect, rendered_images
from ferry.update.effect_groups import EffectMemo, effect_key
from ferry.update.message import ImageChange, render_branch_name, render_template
from ferry.update.outcomes import (
    AppOutcome,
    AppPlan,
    CycleReport,
    PlanResult,
    UpdateStatus,
    WriteGroup,
    attempt_each,
    error_text,
    group_plans,
    unchanged_outcomes,
)
from ferry.update.registries import RegistryPool
from ferry.vcs.pool import RepoPool, TreeView
from ferry.vcs.writeback import CommitAuthor, FileEdit, PlannedCommit, write_back

log = logging.getLogger("ferry.updater")


@dataclass
class Updater:
    """Holds the per-cycle pools (registry clients, repository clones) for one config."""

    config: FerryConfig
    resolver: CredentialResolver = field(default_factory=CredentialResolver)
    refresh: bool = False
    tools: Tools | None = None  # helm and kustomize for the effect check (found on the machine when None)
    shared_rate: SharedPacer | None = None  # registries' limit: shared by every worker (the Prefect layer's)

    def __post_init__(self) -> None:
        if self.resolver.base_dir == Path("."):
            self.resolver.base_dir = Path(self.config.base_dir)
        cache = self.config.cache_path
        self.registries = RegistryPool(
            self.config, self.resolver, MetadataCache(cache / "registry"), shared_rate=self.shared_rate
        )
        self.repos = RepoPool(self.config, self.resolver, cache / "repos")
        self.effects = EffectMemo()

    def close(self) -> None:
        self.registries.close()
        self.repos.close()

    def __enter__(self) -> Updater:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- loading ---------------------------------------------------------------------------------
    def applications(self, names: Sequence[str] | None = None) -> tuple[list[Application], list[ConfigError]]:
        apps, errors = load_config_applications(self.config)
        if names:
            missing = sorted(set(names) - {a.name for a in apps})
            errors.extend(ConfigError("no such Application", application=n) for n in missing)
            apps = [a for a in apps if a.name in names]
        return apps, errors

    # -- detection -------------------------------------------------------------------------------
    def plan(self, app: Application, held: frozenset[str] = frozenset()) -> AppPlan | None:
        """Detect one application's updates, never to a ``held`` ``name:tag``; None without image-list."""
        try:
            settings = parse_updater_settings(app)
        except ConfigError as exc:
            raise exc.located(source=app.source_file) from exc
        if settings is None:
            return None
        wb = settings.write_back
        base = wb.base_branch or (
            None if app.source.target_revision == "HEAD" else app.source.target_revision
        )
        view = self.repos.view(wb.repository, base, wb.credentials)
        kind = source_type(app, view)
        if kind is SourceType.DIRECTORY:
            raise ConfigError("only Helm and Kustomize applications can be updated", application=app.name)
        target = write_target_path(app, settings, view)
        changed: list[tuple[ImageSettings, ImageChange]] = []
        # Images already current are written too, as Image Updater writes every live image's
        # parameters once it writes any (gitops-demo a3d65e3 keeps echoWebServer at v1.0).
        written: list[tuple[ImageSettings, ImageChange]] = []
        rendered: list[tuple[ImageReference, ...]] = []
        for image in settings.images:
            try:
                current = current_image(app, view, image, kind, target, wb.target_kind)
                if current.tag is None and kind is SourceType.HELM:
                    current = self._rendered_current(app, view.revision, image, rendered) or current
                change = detect_image(
                    self.registries, image, current, kind=kind, refresh=self.refresh, held=held
                )
            except ConfigError as exc:
                raise exc.located(application=app.name, source=app.source_file) from exc
            if change is not None:
                changed.append((image, change))
                written.append((image, change))
            elif current.tag is not None:
                written.append((image, ImageChange(image.alias, image.image.name, current.tag, current.tag)))
        if changed:
            changed = self._mark_without_effect(app, view, wb.target_kind, kind, target, changed, written)
        if self.config.commit.skip_without_effect:
            changed = [(i, c) for i, c in changed if not c.renders_unchanged]
        if not changed:
            return AppPlan(app.name, wb.repository, base, None, target, (), None, wb.credentials)
        changes = [c for _, c in changed]
        kept = {i for i, _ in changed}
        written = [(i, c) for i, c in written if i in kept or c.old_tag == c.new_tag]
        message = render_template(
            self.config.commit.message or DEFAULT_COMMIT_MESSAGE, app_name=app.name, changes=changes
        )
        commit = PlannedCommit(
            key=app.name, message=message, edits=(build_edit(app, wb.target_kind, kind, target, written),)
        )
        write_branch = None
        if wb.write_branch:
            write_branch = render_branch_name(wb.write_branch, app_name=app.name, changes=changes)
        return AppPlan(
            app.name, wb.repository, base, write_branch, target, tuple(changes), commit, wb.credentials
        )

    def _rendered_current(
        self, app: Application, base: str, image: ImageSettings, cache: list[tuple[ImageReference, ...]]
    ) -> CurrentImage | None:
        """The image as the app renders it, when no value in the repo names its tag (rendered once)."""
        if not cache:
            cache.append(rendered_images(app, self.repos.clone(app.source.repo_url), base, self.tools))
        for ref in cache[0]:
            if ref.same_image(image.image) and ref.tag:
                tag = ref.tag + (f"@{ref.digest}" if ref.digest else "")
                log.debug("image %s: current tag %s read from the rendered manifests", image.label, tag)
                return CurrentImage(ref.name, tag)
        return None

    def _mark_without_effect(
        self,
        app: Application,
        view: TreeView,
        target_kind: TargetKind,
        kind: SourceType,
        target: str,
        changed: list[tuple[ImageSettings, ImageChange]],
        written: list[tuple[ImageSettings, ImageChange]],
    ) -> list[tuple[ImageSettings, ImageChange]]:
        """``changed`` with each change that leaves the rendered manifests as they were marked."""
        mode = self.config.commit.effect_check
        if mode == "off":
            return changed
        moving = {i for i, _ in changed}
        unchanged = [(i, c) for i, c in written if i not in moving]
        settings_of = {c: i for i, c in changed}

        def edit_for(subset: Sequence[ImageChange]) -> FileEdit:
            pairs = [*((settings_of[c], c) for c in subset), *unchanged]
            return build_edit(app, target_kind, kind, target, pairs)

        base, clone = view.revision, self.repos.clone(app.source.repo_url)
        key = effect_key(app, view, base, kind, target_kind, target, moving) if mode == "grouped" else None
        check = self.effects.check(
            key, lambda: check_effect(app, clone, base, [c for _, c in changed], edit_for, self.tools)
        )
        flagged = set(check.without_effect)
        return [(i, replace(c, renders_unchanged=True) if c in flagged else c) for i, c in changed]

    # -- write-back ------------------------------------------------------------------------------
    def write_group(self, group: WriteGroup, *, dry_run: bool = False) -> list[AppOutcome]:
        """Commit one group's plans and push once; raises when the whole push fails."""
        author = CommitAuthor(self.config.commit.author_name, self.config.commit.author_email)
        clone = self.repos.clone(group.repo_url, group.plans[0].credentials)
        commits = [p.commit for p in group.plans if p.commit is not None]
        result = write_back(
            clone,
            base_branch=group.base_branch,
            write_branch=group.write_branch,
            commits=commits,
            author=author,
            max_attempts=self.config.push_attempts,
            dry_run=dry_run,
        )
        outcomes = []
        for plan in group.plans:
            common = {"repo": group.repo_url, "branch": result.branch, "target": plan.target}
            if plan.app in result.errors:
                outcomes.append(
                    AppOutcome(
                        plan.app,
                        UpdateStatus.ERROR,
                        plan.changes,
                        error=error_text(result.errors[plan.app]),
                        **common,
                    )
                )
                continue
            sha = result.commits.get(plan.app)
            if dry_run:
                status = UpdateStatus.DRY_RUN
            else:
                status = UpdateStatus.UPDATED if sha else UpdateStatus.UNCHANGED
            if sha:
                log.info("Committing %d parameter update(s) for application %s", len(plan.changes), plan.app)
            outcomes.append(AppOutcome(plan.app, status, plan.changes, commit=sha, **common))
        return outcomes

    # -- whole cycle -----------------------------------------------------------------------------
    def run_cycle(
        self,
        names: Sequence[str] | None = None,
        *,
        dry_run: bool = False,
        plan_all: Callable[[Sequence[Application]], Sequence[PlanResult]] | None = None,
        write_step: Callable[[WriteGroup], list[AppOutcome]] | None = None,
        held: Callable[[Application], frozenset[str]] | None = None,
    ) -> CycleReport:
        """Plan every application, then write each repository's plans in one push.

        The Prefect flow passes its tasks as ``plan_all``/``write_step`` so each
        step shows and retries on its own; the CLI uses the methods directly, with
        ``held`` reading each app's held tags. Any exception of one application, even
        an unexpected one, becomes that application's error outcome and the cycle goes on.
        """
        self.effects.clear()
        plan_all = plan_all or (
            lambda batch: attempt_each(lambda app: self.plan(app, held(app) if held else frozenset()), batch)
        )
        write_step = write_step or (lambda group: self.write_group(group, dry_run=dry_run))
        apps, load_errors = self.applications(names)
        outcomes = [
            AppOutcome(e.application or e.source or "?", UpdateStatus.ERROR, error=str(e))
            for e in load_errors
        ]
        plans: list[AppPlan] = []
        for app, plan in zip(apps, plan_all(apps), strict=True):
            if isinstance(plan, Exception):
                self._log_failure(f"application {app.name}", plan)
                outcomes.append(AppOutcome(app.name, UpdateStatus.ERROR, error=error_text(plan)))
            elif plan is None:
                outcomes.append(AppOutcome(app.name, UpdateStatus.SKIPPED, error="no image-list annotation"))
            else:
                plans.append(plan)
        outcomes.extend(unchanged_outcomes(plans))
        for group in group_plans(plans):
            try:
                outcomes.extend(write_step(group))
            except Exception as exc:  # noqa: BLE001 - a failed push fails only its repository's applications
                self._log_failure(f"write-back to {group.repo_url}", exc)
                outcomes.extend(group.failed(exc))
        if self.effects.shared:
            log.info("effect check: %d application(s) answered by their group's render", self.effects.shared)
        order = {a.name: i for i, a in enumerate(apps)}
        return CycleReport(tuple(sorted(outcomes, key=lambda o: order.get(o.app, -1))))

    @staticmethod
    def _log_failure(what: str, exc: BaseException) -> None:
        if isinstance(exc, FerryError):
            log.error("%s: %s", what, exc)
        else:
            log.exception("%s failed unexpectedly", what, exc_info=exc)
