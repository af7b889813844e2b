"""Fuzzing the inputs a deploy repo or an operator controls (issue 10, "Also").

Hypothesis generates Image Updater annotations, ``ferry.yaml`` contents (as data and as
raw bytes) and write-back targets. Every failure must be a ``FerryError`` that names its
input, and no write-back may touch a file outside the clone: the clone holds symlinks
that lead out of it, and a directory next to it stands for the rest of the machine.
Example counts are modest, so that CI stays fast; the derandomized profile makes every
run try the same examples.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferry.argocd.annotations import PREFIX, parse_updater_settings
from ferry.argocd.application import Application, parse_application
from ferry.argocd.source import SourceType
from ferry.config import load_config, parse_config
from ferry.errors import ConfigError, FerryError
from ferry.update.current import write_target_path
from ferry.update.edits import build_edit
from ferry.update.message import ImageChange
from ferry.vcs import CommitAuthor, PlannedCommit, RepoCache, WorkingClone, write_back
from ferry.vcs.pool import BranchView
from tests.fixtures.git import IDENTITY, BareRepoFactory

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Fragments that matter to parsers of paths, references and Go templates, plus noise.
PIECES = st.sampled_from(
    [
        "..",
        ".",
        "/",
        "//",
        "\\",
        "\x00",
        ":",
        "=",
        ",",
        "~",
        "-",
        "{{",
        "}}",
        ".AppName",
        "*",
        "helmvalues",
        "kustomization",
        "values.yaml",
        "out",
        "up",
        "chart",
        "a",
        "ä",
        " ",
        "\n",
        "$HOME",
        "regexp:",
        "any",
        "semver",
        "digest",
        "latest",
        "git:secret:",
        "argocd/",
        "127.0.0.1:5000/",
        "@sha256:",
    ]
)
TEXT = st.lists(PIECES | st.text(max_size=4), max_size=6).map("".join)
KEYS = st.sampled_from(
    [
        "image-list",
        "update-strategy",
        "allow-tags",
        "ignore-tags",
        "platforms",
        "force-update",
        "write-back-method",
        "write-back-target",
        "git-branch",
        "git-repository",
        "pull-secret",
        "e.update-strategy",
        "e.allow-tags",
        "e.helm.image-name",
        "e.helm.image-tag",
        "e.helm.image-spec",
        "e.kustomize.image-name",
        "e.force-update",
        "e.platforms",
    ]
)


def _application(name: str, annotations: dict[str, str], path: str = "chart") -> Application:
    return parse_application(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"source": {"repoURL": "file:///deploy.git", "path": path, "helm": {}}},
        },
        source="fuzz.yaml",
    )


def _names_its_input(error: FerryError, *inputs: str) -> bool:
    text = str(error)
    return any(value and value.strip() and value.strip() in text for value in inputs)


@FUZZ
@given(st.dictionaries(KEYS, TEXT, max_size=6), st.sampled_from(["e=127.0.0.1:5000/cidemo/echo", ""]))
def test_annotations_fail_only_with_errors_naming_the_application(extra: dict[str, str], image: str) -> None:
    annotations = {PREFIX + key: value for key, value in extra.items()}
    if image and PREFIX + "image-list" not in annotations:
        annotations[PREFIX + "image-list"] = image
    app = _application("fuzzed", annotations)
    try:
        parse_updater_settings(app)
    except FerryError as exc:
        assert isinstance(exc, ConfigError)
        assert exc.application == "fuzzed", exc
        assert exc.key is None or exc.key.startswith(PREFIX), exc


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=12,
)
SECTIONS = st.sampled_from(
    [
        "applications",
        "registries",
        "repositories",
        "commit",
        "cache_dir",
        "push_attempts",
        "clusters",
        "builds",
        "releases",
    ]
)


@FUZZ
@given(st.dictionaries(SECTIONS, JSON, max_size=4))
def test_ferry_yaml_data_fails_only_with_config_errors(
    tmp_path_factory: pytest.TempPathFactory, data: Any
) -> None:
    base = tmp_path_factory.getbasetemp()
    try:
        parse_config(data, source="ferry.yaml", base_dir=base)
    except FerryError as exc:
        assert isinstance(exc, ConfigError), exc
        assert exc.source == "ferry.yaml", exc


@FUZZ
@given(st.binary(max_size=300) | TEXT.map(str.encode))
def test_ferry_yaml_bytes_fail_only_with_config_errors_naming_the_file(
    tmp_path_factory: pytest.TempPathFactory, content: bytes
) -> None:
    path = tmp_path_factory.mktemp("ferry-yaml") / "ferry.yaml"
    path.write_bytes(content)
    try:
        load_config(path)
    except FerryError as exc:
        assert isinstance(exc, ConfigError), exc
        assert exc.source == str(path), exc


# -- write-back targets against a real clone holding symlinks out of it ---------------------------------


@pytest.fixture(scope="module")
def clone_with_escapes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WorkingClone, Path]]:
    """A clone whose repo holds links out of it (``out``, ``up``, ``chart/link.yaml``), and the root
    directory around it that no write-back may change."""
    root = tmp_path_factory.mktemp("fuzz-writeback")
    outside = root / "outside"
    outside.mkdir()
    (outside / "values.yaml").write_text("image:\n  tag: v1\n")
    repo = BareRepoFactory(root / "remotes")(
        "deploy",
        {
            "chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
            "chart/values.yaml": "image:\n  name: r/echo\n  tag: v1\n",
            "kust/kustomization.yaml": "resources: []\nimages:\n- name: r/echo\n  newTag: v1\n",
        },
    )
    with RepoCache(root / "cache").open(repo.url) as clone:
        for name, target in (
            ("out", str(outside)),
            ("up", "../.."),
            ("chart/link.yaml", str(outside / "values.yaml")),
        ):
            link = clone.path / name
            link.symlink_to(target)
        subprocess_git(clone.path, "add", "--all")
        subprocess_git(clone.path, "commit", "--quiet", "-m", "links out of the repo")
        subprocess_git(clone.path, "push", "--quiet", "origin", "HEAD:main")
        yield clone, root


def subprocess_git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *IDENTITY, *args], cwd=cwd, check=True, capture_output=True)


def _fingerprint(root: Path) -> dict[str, str]:
    """Every file under ``root`` but the clone cache: the outside directory and the bare remote."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink() and p.relative_to(root).parts[0] != "cache"
    }


TARGETS = st.one_of(
    st.builds(
        lambda kind, path: f"{kind}:{path}" if path else kind,
        st.sampled_from(["helmvalues", "kustomization"]),
        TEXT,
    ),
    TEXT,
)


@FUZZ
@given(target=TARGETS, source_path=TEXT | st.sampled_from(["chart", "kust", ".", "", "out", "up"]))
def test_write_back_never_writes_outside_the_clone(
    clone_with_escapes: tuple[WorkingClone, Path], target: str, source_path: str
) -> None:
    clone, root = clone_with_escapes
    before = _fingerprint(root)
    annotations = {
        PREFIX + "image-list": "e=r/echo",
        PREFIX + "e.update-strategy": "latest",
        PREFIX + "write-back-target": target,
    }
    change = ImageChange("e", "r/echo", "v1", "v2")
    try:
        app = _application("fuzzed", annotations, source_path or ".")
        updater = parse_updater_settings(app)
        assert updater is not None
        view = BranchView(clone, "refs/remotes/origin/main")
        path = write_target_path(app, updater, view)
        kind = (
            SourceType.KUSTOMIZE if updater.write_back.target.startswith("kustomization") else SourceType.HELM
        )
        (image,) = updater.images
        edit = build_edit(app, updater.write_back.target_kind, kind, path, [(image, change)])
        result = write_back(
            clone,
            base_branch="main",
            write_branch=None,
            commits=[PlannedCommit("fuzzed", "fuzz", (edit,))],
            author=CommitAuthor("Fuzz", "fuzz@example.com"),
            dry_run=True,
        )
        errors = list(result.errors.values())
    except FerryError as exc:
        errors = [exc]
    for error in errors:
        assert isinstance(error, FerryError)
        assert _names_its_input(error, target, source_path, "fuzzed", target.partition(":")[2]), error
    assert _fingerprint(root) == before, "a write-back changed a file outside the clone"
