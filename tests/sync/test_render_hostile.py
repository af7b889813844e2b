"""A hostile deploy repo against the real helm and kustomize: nothing of the host may be rendered.

Issue 10, findings 1, 2, 3 and 8. A stand-in for the worker's kubeconfig lives outside the
repo; every attack tries to get its key into a rendered manifest (which the diff would
print). Each must end in an error naming the repo's offending value or link, and the
key must appear nowhere.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ferry.argocd.application import Application, parse_application
from ferry.errors import ConfigError, ToolError, UnsafePathError
from ferry.sync.render import Rendered, render_application
from ferry.tools import Tools
from ferry.vcs import RepoCache
from tests.fixtures.git import IDENTITY, BareRepo, BareRepoFactory

SECRET = "client-key-data: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2Zz09"
CHART = {
    "chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
    "chart/values.yaml": "image:\n  repository: registry.local/app\n  tag: v1\n",
    "chart/templates/cm.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n"
        '  image: {{ printf "%s:%s" .Values.image.repository .Values.image.tag | quote }}\n'
        '  stolen: {{ .Values.stolen | default "" | quote }}\n'
        '  file: {{ .Files.Get "files/secret" | quote }}\n'
    ),
}


@pytest.fixture
def tools(sandbox_tools: dict[str, Path]) -> Tools:
    return Tools(helm=sandbox_tools["helm"], kustomize=sandbox_tools["kustomize"])


@pytest.fixture
def host_file(tmp_path: Path) -> Path:
    """A file of the worker's, outside every repo: what an attacker wants rendered."""
    path = tmp_path / "host" / "kubeconfig"
    path.parent.mkdir()
    path.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\ndata:\n  key: '{SECRET}'\n")
    return path


def _app(repo: BareRepo, path: str, **source: Any) -> Application:
    return parse_application(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "rel"},
            "spec": {
                "source": {"repoURL": repo.url, "path": path, "targetRevision": "main", **source},
                "destination": {"namespace": "target"},
            },
        },
        source="t",
    )


def _render(tmp_path: Path, app: Application, tools: Tools) -> Rendered:
    with RepoCache(tmp_path / "cache").open(app.source.repo_url) as clone:
        return render_application(app, clone, None, tools)


def _attempt(tmp_path: Path, app: Application, tools: Tools) -> Rendered | Exception:
    try:
        return _render(tmp_path, app, tools)
    except (ConfigError, ToolError) as exc:
        return exc


def _assert_nothing_leaked(outcome: Rendered | Exception) -> None:
    text = str(outcome) if isinstance(outcome, Exception) else repr(outcome.manifests)
    assert "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0t" not in text, "the host file was rendered"


def _commit_links(repo: BareRepo, links: dict[str, str], tmp_path: Path) -> None:
    """Commit symlinks (``path -> target``) to ``repo`` as another writer would."""
    work = tmp_path / f"links-{len(os.listdir(tmp_path))}"

    def git(*args: str) -> None:
        subprocess.run(["git", *IDENTITY, *args], cwd=work, check=True, capture_output=True)

    subprocess.run(["git", "clone", "--quiet", repo.url, str(work)], check=True, capture_output=True)
    for name, target in links.items():
        link = work / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)
    git("add", "--all")
    git("commit", "--quiet", "-m", "links")
    git("push", "--quiet", "origin", "HEAD:main")


def test_a_release_name_cannot_become_a_helm_flag(
    tmp_path: Path, bare_repo: BareRepoFactory, tools: Tools, host_file: Path
) -> None:
    """Finding 1: ``releaseName: --set-file=stolen=<host file>`` in the override file."""
    repo = bare_repo(
        "chart",
        {
            **CHART,
            "chart/.argocd-source-rel.yaml": f'helm:\n  releaseName: "--set-file=stolen={host_file}"\n',
        },
    )
    outcome = _attempt(tmp_path, _app(repo, "chart"), tools)
    _assert_nothing_leaked(outcome)
    assert isinstance(outcome, ConfigError), outcome
    assert outcome.key == "spec.source.helm.releaseName"
    assert "--set-file" in str(outcome)


@pytest.mark.parametrize(
    ("name", "valid"),
    # Helm's own table (pkg/chartutil, TestValidateReleaseName).
    [
        ("", False),
        ("foo", True),
        ("foo.bar1234baz.seventyone", True),
        ("FOO", False),
        ("123baz", True),
        ("foo.BAR.baz", False),
        ("one-two", True),
        ("-two", False),
        ("one_two", False),
        ("a..b", False),
        ("%^&#$%*@^*@&#^", False),
        ("example:com", False),
        ("example%%com", False),
        ("a1111111111111111111111111111111111111111111111111111111111z", False),
        ("a" * 53, True),
    ],
)
def test_release_names_are_checked_as_helm_does(name: str, valid: bool) -> None:
    from ferry.sync.render import check_release_name

    if valid:
        check_release_name(name, application="app")
    else:
        with pytest.raises(ConfigError, match="release name"):
            check_release_name(name, application="app")


def test_a_registry_tag_cannot_set_another_helm_value(
    tmp_path: Path, bare_repo: BareRepoFactory, tools: Tools
) -> None:
    """Finding 3: ``zz,image.repository=evil.example/pwn`` written back, then passed to --set-string."""
    override = (
        "helm:\n  parameters:\n  - name: image.tag\n"
        "    value: zz,image.repository=evil.example/pwn\n    forcestring: true\n"
    )
    repo = bare_repo("chart", {**CHART, "chart/.argocd-source-rel.yaml": override})
    (cm,) = _render(tmp_path, _app(repo, "chart"), tools).manifests
    assert cm["data"]["image"] == "registry.local/app:zz,image.repository=evil.example/pwn"


def test_helm_list_values_still_work(tmp_path: Path, bare_repo: BareRepoFactory, tools: Tools) -> None:
    repo = bare_repo("chart", CHART)
    app = _app(repo, "chart", helm={"parameters": [{"name": "stolen", "value": "{a,b}"}]})
    (cm,) = _render(tmp_path, app, tools).manifests
    assert cm["data"]["stolen"] == "[a b]", "a Helm list is passed through as Argo CD does"


def test_a_kustomize_image_cannot_become_a_flag(
    tmp_path: Path, bare_repo: BareRepoFactory, tools: Tools
) -> None:
    repo = bare_repo(
        "kust",
        {
            "k/kustomization.yaml": "resources: [cm.yaml]\n",
            "k/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        },
    )
    app = _app(repo, "k", kustomize={"images": ["--help"]})
    with pytest.raises(ToolError, match="invalid format of image"):
        _render(tmp_path, app, tools)


@pytest.mark.parametrize(
    ("layout", "link", "path"),
    [
        (
            {"plain/ok.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n"},
            "plain/leak.yaml",
            "plain",
        ),
        (CHART, "chart/templates/x.yaml", "chart"),
        (CHART, "chart/files/secret", "chart"),
    ],
    ids=["plain directory manifest", "helm template", "helm .Files.Get"],
)
def test_a_symlink_out_of_the_repo_is_refused_before_rendering(
    tmp_path: Path,
    bare_repo: BareRepoFactory,
    tools: Tools,
    host_file: Path,
    layout: dict[str, str],
    link: str,
    path: str,
) -> None:
    """Finding 2: each of these rendered the host file, and the diff printed its key."""
    repo = bare_repo("linked", layout)
    _commit_links(repo, {link: str(host_file)}, tmp_path)
    outcome = _attempt(tmp_path, _app(repo, path), tools)
    _assert_nothing_leaked(outcome)
    assert isinstance(outcome, UnsafePathError), outcome
    assert outcome.key == link
    assert str(host_file) not in str(outcome)


def test_a_relative_symlink_that_climbs_out_is_refused(
    tmp_path: Path, bare_repo: BareRepoFactory, tools: Tools
) -> None:
    repo = bare_repo("climb", {"plain/ok.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n"})
    _commit_links(repo, {"plain/up": "../../../../../../../../../../etc"}, tmp_path)
    with pytest.raises(UnsafePathError) as caught:
        _render(tmp_path, _app(repo, "plain", directory={"recurse": True}), tools)
    assert caught.value.key == "plain/up"


def test_symlinks_inside_the_repo_still_render(
    tmp_path: Path, bare_repo: BareRepoFactory, tools: Tools
) -> None:
    repo = bare_repo("inside", {**CHART, "chart/files/real": "from the repo"})
    _commit_links(
        repo, {"chart/files/secret": "real", "chart/templates/y.yaml": "../../shared/y.yaml"}, tmp_path
    )
    repo.commit({"shared/y.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: y}\n"}, "shared")
    rendered = _render(tmp_path, _app(repo, "chart"), tools)
    by_kind = {m["kind"]: m for m in rendered.manifests}
    assert by_kind["ConfigMap"]["data"]["file"] == "from the repo"
    assert by_kind["Namespace"]["metadata"]["name"] == "y"


@pytest.mark.parametrize(
    ("files", "source"),
    [
        ({"ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: root}\n"}, {}),
        (
            {
                "Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
                "templates/ns.yaml": (
                    "apiVersion: v1\nkind: Namespace\nmetadata: {name: {{ .Release.Name }}}\n"
                ),
            },
            {"helm": {"releaseName": "root"}},
        ),
    ],
    ids=["plain directory", "helm chart"],
)
def test_an_app_at_the_repo_root_renders(
    tmp_path: Path, bare_repo: BareRepoFactory, tools: Tools, files: dict[str, str], source: dict[str, Any]
) -> None:
    """Finding 8: ``source.path: .`` (Argo CD's default) was refused with UnsafePathError."""
    repo = bare_repo("root", files)
    rendered = _render(tmp_path, _app(repo, ".", **source), tools)
    assert [m["metadata"]["name"] for m in rendered.manifests if m["kind"] == "Namespace"] == ["root"]
