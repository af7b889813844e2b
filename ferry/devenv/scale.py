"""Many Helm Applications on one image in one deploy repo: the shape issue 14 measures.

One chart holds a values file per Application; every Application names the same
image, so a cycle's distinct work (one image's tags, one revision's tree) stays the
same however many Applications there are. The benchmark ``bench/update_scale.py``
and the test that counts ``tags/list`` requests build their scenario here, so
both measure the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from ferry.devenv.oci import OciPusher
from ferry.devenv.seed import UPDATER, create_repo, local_registry

CHART = "charts/echo"
REPOSITORY = "scale/echo"

_TEMPLATE = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  selector:
    matchLabels:
      app: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app: {{ .Release.Name }}
    spec:
      containers:
        - name: echo
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
"""


def app_name(index: int) -> str:
    return f"app-{index:04d}"


def semver_tag(index: int) -> str:
    """The ``index``-th tag pushed: ``v1.0.0``, ``v1.0.1``, …"""
    return f"v1.0.{index}"


@dataclass(frozen=True, slots=True)
class ScaleLayout:
    """A written scenario: the config to run, the bare deploy repo and the image's name."""

    config: Path
    bare: Path
    image: str
    apps: int


def push_tags(registry_url: str, tags: list[str], repository: str = REPOSITORY) -> None:
    """Push one small image per tag of ``repository`` (the layer is shared: only the first uploads it)."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with OciPusher(registry_url) as pusher:
        for offset, tag in enumerate(tags):
            pusher.push_image(repository, tag, created=start + timedelta(minutes=offset))


def _repo_files(image: str, apps: int, current_tag: str) -> dict[str, str]:
    files = {
        f"{CHART}/Chart.yaml": "apiVersion: v2\nname: echo\nversion: 0.1.0\n",
        f"{CHART}/values.yaml": yaml.safe_dump({"image": {"repository": image, "tag": "v0.0.0"}}),
        f"{CHART}/templates/deployment.yaml": _TEMPLATE,
    }
    for index in range(apps):
        files[f"{CHART}/values-{app_name(index)}.yaml"] = yaml.safe_dump({"image": {"tag": current_tag}})
    return files


def _application(index: int, image: str, repo_url: str) -> dict[str, object]:
    name = app_name(index)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": name,
            "annotations": {
                UPDATER + "image-list": f"echo={image}",
                UPDATER + "echo.helm.image-name": "image.repository",
                UPDATER + "echo.helm.image-tag": "image.tag",
                UPDATER + "echo.update-strategy": "semver",
                UPDATER + "write-back-method": "git",
            },
        },
        "spec": {
            "project": "default",
            "destination": {"server": "https://127.0.0.1/scale", "namespace": name},
            "source": {
                "repoURL": repo_url,
                "path": CHART,
                "targetRevision": "main",
                "helm": {"valueFiles": [f"values-{name}.yaml"]},
            },
        },
    }


def write_scale(
    root: Path,
    *,
    registry_host: str,
    registry_api: str,
    apps: int,
    current_tag: str,
    repository: str = REPOSITORY,
) -> ScaleLayout:
    """Create the deploy repo (every app at ``current_tag``), the Applications and ``ferry.yaml``.

    ``registry_api`` may differ from the registry itself (a counting proxy in front of it);
    ``registry_host`` is the prefix the images are named by.
    """
    image = f"{registry_host}/{repository}"
    bare = root / "deploy.git"
    url = create_repo(bare, _repo_files(image, apps, current_tag), message="scale: echo chart")
    apps_dir = root / "applications"
    apps_dir.mkdir(parents=True, exist_ok=True)
    docs = [_application(index, image, url) for index in range(apps)]
    (apps_dir / "scale.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    registry = local_registry(registry_host, registry_api)
    config = {
        "applications": "applications",
        "registries": [registry],
        "repositories": [{"url": url}],
        "cache_dir": ".ferry-cache",
    }
    path = root / "ferry.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return ScaleLayout(path, bare, image, apps)


@dataclass(frozen=True, slots=True)
class FleetLayout:
    """Issue 17's fleet: ``apps`` Applications over several deploy repos and images, one config."""

    config: Path
    bares: tuple[Path, ...]
    repositories: tuple[str, ...]  # the images' repositories in the registry
    apps: int


def fleet_repository(index: int) -> str:
    return f"fleet/img-{index:02d}"


def write_fleet(
    root: Path,
    *,
    registry_host: str,
    registry_api: str,
    apps: int,
    repos: int,
    images: int,
    current_tag: str,
    limit: float | None = None,
    repositories: tuple[str, ...] | None = None,
) -> FleetLayout:
    """Deploy repos ``deploy-<r>.git`` and ``apps`` Applications, app ``i`` in repo ``i % repos`` on
    image ``i % images``, every app at ``current_tag``; ``limit`` is the registry's requests per second.

    Each repo holds the chart and one values file per app of its own, as ``write_scale``'s does.
    ``repositories`` names the images' repositories (default ``fleet/img-NN``; a test sharing a
    registry gives its own).
    """
    repositories = repositories or tuple(fleet_repository(k) for k in range(images))
    members: dict[int, list[int]] = {r: [i for i in range(apps) if i % repos == r] for r in range(repos)}
    bares, urls, docs = [], [], []
    for r in range(repos):
        bare = root / f"deploy-{r}.git"
        files = {
            f"{CHART}/Chart.yaml": "apiVersion: v2\nname: echo\nversion: 0.1.0\n",
            f"{CHART}/values.yaml": yaml.safe_dump({"image": {"repository": "unset", "tag": "v0.0.0"}}),
            f"{CHART}/templates/deployment.yaml": _TEMPLATE,
        }
        for i in members[r]:
            image = f"{registry_host}/{repositories[i % images]}"
            files[f"{CHART}/values-{app_name(i)}.yaml"] = yaml.safe_dump(
                {"image": {"repository": image, "tag": current_tag}}
            )
        url = create_repo(bare, files, message=f"fleet: deploy repo {r}")
        bares.append(bare)
        urls.append(url)
    for i in range(apps):
        docs.append(_application(i, f"{registry_host}/{repositories[i % images]}", urls[i % repos]))
    apps_dir = root / "applications"
    apps_dir.mkdir(parents=True, exist_ok=True)
    (apps_dir / "fleet.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    registry = local_registry(registry_host, registry_api)
    if limit is not None:
        registry["limit"] = limit
    config = {
        "applications": "applications",
        "registries": [registry],
        "repositories": [{"url": url} for url in urls],
        "cache_dir": ".ferry-cache",
    }
    path = root / "ferry.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return FleetLayout(path, tuple(bares), repositories, apps)
