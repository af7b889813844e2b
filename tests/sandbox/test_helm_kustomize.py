"""The built helm and kustomize render what the sync engine will hand them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

CHART_YAML = """\
apiVersion: v2
name: web
version: 0.1.0
appVersion: "1.0.0"
"""
VALUES_YAML = """\
replicas: 1
image:
  repository: registry.local/web
  tag: "1.0.0"
"""
DEPLOYMENT_TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  labels:
    app.kubernetes.io/instance: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
"""


def _run(command: list[str], tmp_path: Path) -> list[dict[str, object]]:
    env = dict(os.environ)
    # Keep helm out of $HOME: its cache/config/data go under the test's directory.
    for variable in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        env[variable] = str(tmp_path / variable.lower())
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def test_helm_renders_a_chart_with_a_values_override(sandbox_tools: dict[str, Path], tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(CHART_YAML)
    (chart / "values.yaml").write_text(VALUES_YAML)
    (chart / "templates" / "deployment.yaml").write_text(DEPLOYMENT_TEMPLATE)
    overrides = tmp_path / "values-production.yaml"
    overrides.write_text("replicas: 3\n")

    (default,) = _run([str(sandbox_tools["helm"]), "template", "shop", str(chart)], tmp_path)
    (rendered,) = _run(
        [
            str(sandbox_tools["helm"]),
            "template",
            "shop",
            str(chart),
            "-f",
            str(overrides),
            "--set-string",
            "image.tag=1.2.3",
        ],
        tmp_path,
    )
    assert default["spec"]["replicas"] == 1  # type: ignore[index]
    assert rendered["metadata"]["name"] == "shop-web"  # type: ignore[index]
    assert rendered["spec"]["replicas"] == 3  # type: ignore[index]
    container = rendered["spec"]["template"]["spec"]["containers"][0]  # type: ignore[index]
    assert container["image"] == "registry.local/web:1.2.3"


@pytest.mark.parametrize(
    ("images", "expected"),
    [
        ("- name: registry.local/web\n  newTag: 1.2.3\n", "registry.local/web:1.2.3"),
        (
            "- name: registry.local/web\n  newName: registry.prod/web\n  digest: sha256:" + "a" * 64 + "\n",
            "registry.prod/web@sha256:" + "a" * 64,
        ),
    ],
    ids=["newTag", "newName and digest"],
)
def test_kustomize_renders_an_overlay_with_an_images_override(
    sandbox_tools: dict[str, Path], tmp_path: Path, images: str, expected: str
) -> None:
    base = tmp_path / "base"
    overlay = tmp_path / "overlays" / "production"
    base.mkdir()
    overlay.mkdir(parents=True)
    deployment = DEPLOYMENT_TEMPLATE.replace("{{ .Release.Name }}", "shop").replace(
        "{{ .Values.replicas }}", "1"
    )
    deployment = deployment.replace(
        '"{{ .Values.image.repository }}:{{ .Values.image.tag }}"', "registry.local/web:1.0.0"
    )
    (base / "deployment.yaml").write_text(deployment)
    (base / "kustomization.yaml").write_text("resources:\n  - deployment.yaml\n")
    (overlay / "kustomization.yaml").write_text(
        "resources:\n  - ../../base\nnamespace: production\nimages:\n" + images
    )

    (rendered,) = _run([str(sandbox_tools["kustomize"]), "build", str(overlay)], tmp_path)
    assert rendered["metadata"]["namespace"] == "production"  # type: ignore[index]
    container = rendered["spec"]["template"]["spec"]["containers"][0]  # type: ignore[index]
    assert container["image"] == expected
