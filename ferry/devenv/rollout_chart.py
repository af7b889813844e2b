"""A small Helm chart whose workload is an Argo ``Rollout`` with canary steps (and, optionally, analysis).

The demo and the tests deploy it with Ferry's sync engine to a sandbox
cluster running the real Argo Rollouts controller. The steps are values, so a
test picks ``setWeight``/``pause``/``analysis`` steps without another chart;
with ``analysis.enabled`` the chart also renders an ``AnalysisTemplate``
querying Prometheus, for ``analysis`` steps to name.
"""

from __future__ import annotations

from typing import Any

import yaml

ROLLOUT_CHART_PATH = "manifests/helm/echo-rollout"
ANALYSIS_TEMPLATE = "success-rate"

#: The issue's canary: 25 % then 50 % of the replicas, a human promotes each.
PAUSED_STEPS: tuple[dict[str, Any], ...] = (
    {"setWeight": 25},
    {"pause": {}},
    {"setWeight": 50},
    {"pause": {}},
)
#: The same with the controller's own analysis after the first weight.
ANALYSIS_STEPS: tuple[dict[str, Any], ...] = (
    {"setWeight": 25},
    {"analysis": {"templates": [{"templateName": ANALYSIS_TEMPLATE}]}},
    {"setWeight": 50},
    {"pause": {}},
)

_ROLLOUT = """apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: {{ .Values.name }}
  labels:
    app.kubernetes.io/name: {{ .Values.name }}
    app.kubernetes.io/instance: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicaCount }}
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ .Values.name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ .Values.name }}
    spec:
      containers:
        - name: {{ .Values.name }}
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          ports:
            - containerPort: 8080
  strategy:
    canary:
      steps:
{{ toYaml .Values.canary.steps | indent 8 }}
"""

_SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: {{ .Values.name }}
spec:
  selector:
    app.kubernetes.io/name: {{ .Values.name }}
  ports:
    - port: 80
      targetPort: 8080
"""

_ANALYSIS = """{{- if .Values.analysis.enabled }}
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: {{ .Values.analysis.name }}
spec:
  metrics:
    - name: {{ .Values.analysis.name }}
      interval: {{ .Values.analysis.interval | quote }}
      count: {{ .Values.analysis.count }}
      successCondition: {{ .Values.analysis.successCondition | quote }}
      failureCondition: {{ .Values.analysis.failureCondition | quote }}
      provider:
        prometheus:
          address: {{ .Values.analysis.address | quote }}
          query: {{ .Values.analysis.query | quote }}
{{- end }}
"""


def rollout_chart_files(
    image: str,
    tag: str,
    *,
    replicas: int = 4,
    steps: tuple[dict[str, Any], ...] = PAUSED_STEPS,
    analysis: dict[str, Any] | None = None,
    name: str = "echo",
) -> dict[str, str]:
    """The chart's files, keyed by repo path under :data:`ROLLOUT_CHART_PATH`.

    Args:
        image: Image repository (``registry/cidemo/echo-server``).
        tag: Its tag; the write-back changes ``image.tag``.
        replicas: The Rollout's replicas.
        steps: ``spec.strategy.canary.steps``.
        analysis: The AnalysisTemplate's ``address``, ``query``, ``successCondition``,
            ``failureCondition``, ``interval`` and ``count``; None renders none.
        name: Rollout and Service name.
    """
    values: dict[str, Any] = {
        "name": name,
        "replicaCount": replicas,
        "image": {"repository": image, "tag": tag},
        "canary": {"steps": [dict(step) for step in steps]},
        "analysis": {"enabled": analysis is not None, "name": ANALYSIS_TEMPLATE, **(analysis or {})},
    }
    return {
        f"{ROLLOUT_CHART_PATH}/Chart.yaml": "apiVersion: v2\nname: echo-rollout\nversion: 0.1.0\n",
        f"{ROLLOUT_CHART_PATH}/values.yaml": yaml.safe_dump(values, sort_keys=False),
        f"{ROLLOUT_CHART_PATH}/templates/rollout.yaml": _ROLLOUT,
        f"{ROLLOUT_CHART_PATH}/templates/service.yaml": _SERVICE,
        f"{ROLLOUT_CHART_PATH}/templates/analysis-template.yaml": _ANALYSIS,
    }


def tag_override(app: str, tag: str) -> dict[str, str]:
    """What Image Updater writes back to move the chart's ``image.tag`` (a Helm parameter), keyed by path."""
    text = f"helm:\n  parameters:\n  - name: image.tag\n    value: {tag}\n    forcestring: true\n"
    return {f"{ROLLOUT_CHART_PATH}/.argocd-source-{app}.yaml": text}
