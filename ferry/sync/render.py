"""Render an Application at a revision into Kubernetes manifests: Helm, Kustomize or plain YAML.

The deploy repo is checked out at the revision in the cached clone, and the
tree is copied to a scratch directory so that the clone's lock is released
before the tools run and so that ``kustomize edit`` (which rewrites the
kustomization, as Argo CD does) never dirties the cache. Helm and kustomize are
the real binaries: the sandbox builds them into ``~/.cache/ferry/bin``.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ferry import safeyaml
from ferry.argocd.application import Application, ApplicationSource, HelmSource, KustomizeSource
from ferry.argocd.source import SourceType, merge_overrides, override_paths, repo_path, source_type
from ferry.errors import ConfigError, ToolError
from ferry.sync.manifests import directory_manifests, parse_manifests
from ferry.tools import Tools, find_tools
from ferry.vcs.clone import WorkingClone
from ferry.vcs.paths import check_symlinks, resolve_directory, resolve_inside
from ferry.vcs.pool import BranchView

logger = logging.getLogger(__name__)

_TOOL_TIMEOUT = 120.0
# Helm's own rule (chartutil.ValidateReleaseName): a DNS-1123 subdomain of at most 53
# characters, so that "<release>-<suffix>" still fits a 63-character object name.
_RELEASE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
MAX_RELEASE_NAME = 53


@dataclass(frozen=True, slots=True)
class Rendered:
    """Manifests of one app at one commit.

    Attributes:
        revision: The commit SHA rendered.
        source: The effective source (spec merged with the override files).
        source_type: Helm, Kustomize or a plain directory.
        manifests: The objects, in the order the tool produced them.
    """

    revision: str
    source: ApplicationSource
    source_type: SourceType
    manifests: tuple[dict[str, Any], ...]


def resolve_revision(clone: WorkingClone, revision: str) -> str:
    """A branch, tag or SHA as a full SHA; ``HEAD`` means the remote's default branch, as in Argo CD."""
    if revision in ("", "HEAD"):
        revision = clone.default_branch()
    return clone.resolve(revision)


def render_application(
    app: Application, clone: WorkingClone, revision: str | None = None, tools: Tools | None = None
) -> Rendered:
    """Check out ``revision`` (default ``targetRevision``) and render the app's manifests.

    Raises:
        NotFoundError: The revision does not exist.
        ConfigError: The source or an override file is invalid (names the file).
        ToolError: helm or kustomize failed (carries their stderr).
    """
    tools = tools or find_tools()
    sha = resolve_revision(clone, revision or app.source.target_revision)
    view = BranchView(clone, sha)
    kind = source_type(app, view)
    app_override, shared_override = override_paths(app)
    source = merge_overrides(
        app.source, [(shared_override, view.read(shared_override)), (app_override, view.read(app_override))]
    )
    if source.chart:
        raise ConfigError(
            "charts from a Helm repository are not supported; keep the chart in Git",
            application=app.name,
            key="spec.source.chart",
        )
    with tempfile.TemporaryDirectory(prefix="ferry-render-") as scratch:
        root = Path(scratch) / "repo"
        clone.checkout(sha)
        shutil.copytree(clone.path, root, ignore=shutil.ignore_patterns(".git"), symlinks=True)
        try:
            # Before any tool runs: helm, kustomize and the directory reader all follow links.
            check_symlinks(root)
        except ConfigError as exc:
            raise exc.located(application=app.name, source=f"{app.source.repo_url}@{sha[:12]}") from None
        directory = resolve_directory(root, repo_path(source.path))
        if not directory.is_dir():
            raise ConfigError(
                f"path {source.path!r} does not exist at {sha[:12]}",
                application=app.name,
                key="spec.source.path",
            )
        if kind is SourceType.HELM:
            text = _helm_template(
                app, source.helm or HelmSource(), root, directory, tools.helm, Path(scratch)
            )
            origin = "helm template"
        elif kind is SourceType.KUSTOMIZE:
            text = _kustomize_build(source.kustomize, directory, tools.kustomize)
            origin = "kustomize build"
        else:
            return Rendered(sha, source, kind, tuple(directory_manifests(app, source, directory)))
    return Rendered(sha, source, kind, tuple(parse_manifests(text, origin=f"{app.name}: {origin}")))


def check_release_name(name: str, *, application: str) -> None:
    """Refuse a release name Helm would refuse: not a DNS-1123 subdomain, or over 53 characters.

    >>> check_release_name("--set-file=x=/etc/passwd", application="app")
    Traceback (most recent call last):
    ...
    ferry.errors.ConfigError: application 'app': 'spec.source.helm.releaseName': release name \
'--set-file=x=/etc/passwd' is invalid: Helm wants a lowercase DNS-1123 name of at most 53 characters
    """
    if len(name) > MAX_RELEASE_NAME or not _RELEASE_NAME.fullmatch(name):
        raise ConfigError(
            f"release name {name!r} is invalid: Helm wants a lowercase DNS-1123 name of at most "
            f"{MAX_RELEASE_NAME} characters",
            application=application,
            key="spec.source.helm.releaseName",
        )


def escape_set_value(value: str) -> str:
    r"""Escape a ``--set``/``--set-string`` value so that Helm reads it as one literal value.

    Helm's ``strvals`` parser splits on ``,`` and treats ``\`` as an escape, so a value
    such as ``zz,image.repository=evil`` would set a second key. Argo CD escapes the
    commas; Ferry escapes backslashes too, so ``\,`` in a value cannot undo the escape.
    A value written as a Helm list (``{a,b}``, nothing after its closing brace) is left
    alone, as Argo CD does.

    >>> escape_set_value("zz,image.repository=evil.example/pwn")
    'zz\\,image.repository=evil.example/pwn'
    >>> escape_set_value("{a,b}"), escape_set_value("{a},b=c}")
    ('{a,b}', '{a}\\,b=c}')
    """
    if value.startswith("{") and value.endswith("}") and "}" not in value[1:-1]:
        return value
    return value.replace("\\", "\\\\").replace(",", "\\,")


def helm_arguments(
    release: str, namespace: str, helm: HelmSource, chart: Path, extra_values_file: Path | None
) -> list[str]:
    """The ``helm template`` argument list Argo CD builds: value files, inline values, then parameters.

    No value can be read as a flag: every flag is joined to its value (``--values=…``),
    parameter values are escaped for Helm's ``--set`` parser, and the release name and
    chart come after ``--``.

    >>> from ferry.argocd.application import HelmParameterSpec
    >>> helm = HelmSource(valueFiles=("values-dev.yaml",), parameters=(
    ...     HelmParameterSpec(name="image.tag", value="v3", forceString=True),
    ...     HelmParameterSpec(name="replicas", value="2")))
    >>> helm_arguments("app", "ns", helm, Path("/c"), None)  # doctest: +NORMALIZE_WHITESPACE
    ['template', '--namespace=ns', '--include-crds', '--values=/c/values-dev.yaml',
     '--set-string=image.tag=v3', '--set=replicas=2', '--', 'app', '/c']
    """
    args = ["template", f"--namespace={namespace}", "--include-crds"]
    for value_file in helm.value_files:
        args.append(f"--values={chart / value_file}")
    if extra_values_file is not None:
        args.append(f"--values={extra_values_file}")
    for parameter in helm.parameters:
        flag = "--set-string" if parameter.force_string else "--set"
        args.append(f"{flag}={parameter.name}={escape_set_value(parameter.value)}")
    return [*args, "--", release, str(chart)]


def _helm_template(
    app: Application, helm: HelmSource, root: Path, chart: Path, binary: Path, scratch: Path
) -> str:
    kept: list[str] = []
    for value_file in helm.value_files:
        path = resolve_inside(root, repo_path(str(chart.relative_to(root)), value_file))
        if path.is_file():
            kept.append(str(path))  # absolute: helm_arguments' chart / value_file keeps it as is
        elif not helm.ignore_missing_value_files:
            raise ConfigError(
                f"value file {value_file!r} does not exist",
                application=app.name,
                key="spec.source.helm.valueFiles",
            )
    helm = helm.model_copy(update={"value_files": tuple(kept)})
    inline: Path | None = None
    values = (
        helm.values_object
        if helm.values_object is not None
        else (
            safeyaml.load(helm.values, source=f"{app.name}: spec.source.helm.values") if helm.values else None
        )
    )
    if values:
        inline = scratch / "inline-values.yaml"
        inline.write_text(yaml.safe_dump(values), encoding="utf-8")
    home = scratch / "helm-home"
    env = {
        **os.environ,
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    release = helm.release_name or app.name
    check_release_name(release, application=app.name)
    namespace = app.spec.destination.namespace or "default"
    return _run(
        [str(binary), *helm_arguments(release, namespace, helm, chart, inline)],
        cwd=chart,
        env=env,
        what=f"template {release}",
    )


def kustomize_edits(options: KustomizeSource) -> list[list[str]]:
    """The ``kustomize edit`` commands Argo CD runs for the Application's kustomize options.

    >>> kustomize_edits(KustomizeSource(namePrefix="dev-", images=("nginx=nginx:1.27",),
    ...                                 commonLabels={"team": "a"}))  # doctest: +NORMALIZE_WHITESPACE
    [['edit', 'set', 'nameprefix', '--', 'dev-'], ['edit', 'set', 'image', '--', 'nginx=nginx:1.27'],
     ['edit', 'add', 'label', '--force', '--', 'team:a']]
    """
    edits: list[list[str]] = []
    if options.name_prefix:
        edits.append(["edit", "set", "nameprefix", "--", options.name_prefix])
    if options.name_suffix:
        edits.append(["edit", "set", "namesuffix", "--", options.name_suffix])
    if options.namespace:
        edits.append(["edit", "set", "namespace", "--", options.namespace])
    if options.images:
        edits.append(["edit", "set", "image", "--", *options.images])
    if options.common_labels:
        edits.append(
            [
                "edit",
                "add",
                "label",
                "--force",
                "--",
                ",".join(f"{k}:{v}" for k, v in sorted(options.common_labels.items())),
            ]
        )
    if options.common_annotations:
        edits.append(
            [
                "edit",
                "add",
                "annotation",
                "--force",
                "--",
                ",".join(f"{k}:{v}" for k, v in sorted(options.common_annotations.items())),
            ]
        )
    return edits


def _kustomize_build(options: KustomizeSource | None, directory: Path, binary: Path) -> str:
    for edit in kustomize_edits(options or KustomizeSource()):
        _run([str(binary), *edit], cwd=directory)
    return _run([str(binary), "build", "."], cwd=directory)


def _run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None, what: str | None = None) -> str:
    # The sandbox caches binaries as <name>-<version>; messages name the tool.
    tool = re.sub(r"-v\d[\w.]*$", "", Path(command[0]).name)
    action = f"{tool} {what or ' '.join(command[1:3])}"
    try:
        done = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=_TOOL_TIMEOUT
        )
    except FileNotFoundError as exc:
        raise ToolError(f"{tool} is not installed at {command[0]} (run `ferry sandbox build`)") from exc
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"{action} timed out after {_TOOL_TIMEOUT:.0f} s") from exc
    if done.returncode != 0:
        raise ToolError(f"{action} failed (exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout
