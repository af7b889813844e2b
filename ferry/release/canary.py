"""Canary providers: wait for a paused step, approve it, or reject the rollout, behind one protocol.

* :class:`KruiseRollout` drives ``rollouts.kruise.io`` Rollouts (``v1beta1``, and the
  ``v1alpha1`` of Kruise 0.x charts) the way ``kubectl-kruise rollout approve`` does: a
  merge patch of the status subresource to ``StepReady``, refused unless the step is
  ``StepPaused``.
* :class:`ArgoRollout` drives ``argoproj.io/v1alpha1`` Rollouts the way
  ``kubectl argo rollouts promote`` and ``abort`` do.
* :class:`NativeCanary` carries the steps itself on ``<name>-canary``
  Deployments that share the stable Deployment's Service selector, for apps
  that use neither CRD.

A provider keeps no state in memory: everything it needs to continue is on
the cluster, so a flow run that is re-executed after a suspension picks up
where the rollout is.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Sequence
from typing import Any, Protocol

from ferry.analysis.model import AnalysisOutcome
from ferry.errors import ClusterError
from ferry.release.argo import ArgoRollout as ArgoRollout  # where the release pipeline looks for it
from ferry.release.gates import CanaryStep
from ferry.release.kube import merge_patch, poll, require
from ferry.sync.kube import KubeCluster

logger = logging.getLogger(__name__)

KRUISE_API = "rollouts.kruise.io/v1beta1"
KRUISE_V1ALPHA1 = "rollouts.kruise.io/v1alpha1"
ARGO_API = "argoproj.io/v1alpha1"
STEP_PAUSED = "StepPaused"
STEP_READY = "StepReady"
CANARY_SUFFIX = "-canary"
TRACK_LABEL = "ferry.io/track"
APPROVED_ANNOTATION = "ferry.io/canary-approved-step"
STEP_ANNOTATION = "ferry.io/canary-step"


class CanaryProvider(Protocol):
    """What the release flow needs from a canary, whatever carries it."""

    def next_pause(self, timeout: float) -> CanaryStep | None:
        """Wait until the rollout pauses at a step (return it) or completes (return None)."""
        ...

    def approve(self, step: CanaryStep) -> None:
        """Let the rollout go past ``step``."""
        ...

    def reject(self) -> None:
        """Stop the rollout and take the canary away."""
        ...

    def finish(self) -> None:
        """Clean up after the last step (the native canary's Deployments go once the stable is synced)."""
        ...

    def analysis(self, since: int = 0) -> AnalysisOutcome | None:
        """The controller's own analysis of the step(s) after step ``since`` (None: it ran none)."""
        ...


def _percent(value: Any) -> int | None:
    if value is None:
        return None
    text = str(value).strip().rstrip("%")
    return int(text) if text.isdigit() else None


# -- Kruise --------------------------------------------------------------------------------------


class KruiseRollout:
    """A Kruise Rollout in ``namespace``, read and patched in ``api_version`` (the one the app renders).

    Both versions keep the status the same; their steps differ (``v1beta1``: ``traffic: "20%"``,
    ``v1alpha1``: ``weight: 20``), and :meth:`paused_step` reads either.
    """

    def __init__(
        self,
        cluster: KubeCluster,
        namespace: str,
        name: str,
        poll_interval: float = 0.5,
        api_version: str = KRUISE_API,
    ) -> None:
        self.cluster, self.namespace, self.name = cluster, namespace, name
        self._interval = poll_interval
        self.api_version = api_version

    def _live(self) -> dict[str, Any]:
        return require(self.cluster, self.api_version, "Rollout", self.name, self.namespace)

    @staticmethod
    def paused_step(rollout: dict[str, Any]) -> CanaryStep | None:
        """The step a Rollout is paused at (Kruise counts steps from 1), else None."""
        canary = (rollout.get("status") or {}).get("canaryStatus") or {}
        if canary.get("currentStepState") != STEP_PAUSED:
            return None
        steps = ((rollout.get("spec") or {}).get("strategy") or {}).get("canary", {}).get("steps") or []
        index = int(canary.get("currentStepIndex") or 1)
        spec = steps[index - 1] if 0 < index <= len(steps) else {}
        replicas = spec.get("replicas")
        traffic = spec.get("traffic", spec.get("weight"))
        return CanaryStep(
            index,
            len(steps),
            traffic if isinstance(traffic, int) else _percent(traffic),
            replicas if isinstance(replicas, int) else _percent(replicas),
        )

    @staticmethod
    def completed(rollout: dict[str, Any]) -> bool:
        """Kruise reports a finished canary as ``Completed``, or drops canaryStatus once Healthy."""
        status = rollout.get("status") or {}
        canary = status.get("canaryStatus")
        if canary:
            return bool(canary.get("currentStepState") == "Completed")
        generation = (rollout.get("metadata") or {}).get("generation", 0)
        return status.get("phase") == "Healthy" and int(status.get("observedGeneration") or 0) >= int(
            generation
        )

    def next_pause(self, timeout: float) -> CanaryStep | None:
        def probe() -> tuple[CanaryStep | None] | None:
            live = self._live()
            step = self.paused_step(live)
            if step is not None:
                return (step,)
            return (None,) if self.completed(live) else None

        return poll(probe, timeout=timeout, interval=self._interval, what=f"Rollout {self.name} to pause")[0]

    def approve(self, step: CanaryStep | None = None) -> None:
        """``kubectl-kruise rollout approve``: only from ``StepPaused``, a status-subresource merge patch."""
        state = ((self._live().get("status") or {}).get("canaryStatus") or {}).get("currentStepState")
        if state != STEP_PAUSED:
            raise ClusterError(
                f"Rollout {self.namespace}/{self.name} does not allow to approve, because current canary "
                f"state is not '{STEP_PAUSED}' (it is {state!r})"
            )
        merge_patch(
            self.cluster,
            self.api_version,
            "Rollout",
            self.name,
            self.namespace,
            {"status": {"canaryStatus": {"currentStepState": STEP_READY}}},
            subresource="status",
        )
        logger.info("Rollout %s/%s approved at %s", self.namespace, self.name, step.label() if step else "")

    def reject(self) -> None:
        # Kruise has no abort verb: the rollout stays paused and a rollback of the workload undoes it.
        logger.warning("Rollout %s/%s rejected: left paused for the rollback", self.namespace, self.name)

    def finish(self) -> None:
        """Nothing to clean: the controller finished the rollout."""

    def analysis(self, since: int = 0) -> AnalysisOutcome | None:
        """None: Kruise's steps carry no analysis of their own."""
        return None


# -- native --------------------------------------------------------------------------------------


def canary_name(name: str) -> str:
    """``<name>-canary``."""
    return f"{name}{CANARY_SUFFIX}"


def canary_replicas(total: int, percent: int) -> int:
    """Replicas of the canary at ``percent`` of ``total`` (at least one).

    >>> [canary_replicas(3, p) for p in (20, 50, 100)]
    [1, 2, 3]
    """
    return max(1, math.ceil(total * percent / 100))


def canary_deployment(desired: dict[str, Any], percent: int, step: int) -> dict[str, Any]:
    """The ``<name>-canary`` Deployment for the rendered Deployment ``desired`` at ``percent``.

    Its pods keep every label of the stable pods, so the Service selects them too;
    its own selector adds the track label, so it never adopts the stable pods.
    """
    canary = copy.deepcopy(desired)
    metadata = canary.setdefault("metadata", {})
    total = int((desired.get("spec") or {}).get("replicas", 1))
    metadata["name"] = canary_name(str(desired["metadata"]["name"]))
    for key in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
        metadata.pop(key, None)
    metadata.setdefault("labels", {})[TRACK_LABEL] = "canary"
    metadata.setdefault("annotations", {})[STEP_ANNOTATION] = str(step)
    spec = canary["spec"]
    spec["replicas"] = canary_replicas(total, percent)
    spec.setdefault("selector", {}).setdefault("matchLabels", {})[TRACK_LABEL] = "canary"
    spec["template"].setdefault("metadata", {}).setdefault("labels", {})[TRACK_LABEL] = "canary"
    canary.pop("status", None)
    return canary


class NativeCanary:
    """Steps of ``percents`` carried by ``<name>-canary`` Deployments next to the stable ones.

    Args:
        cluster: The environment's cluster.
        namespace: The app's namespace.
        desired: The rendered Deployments of the new revision that change.
        percents: Percent of replicas at each step, e.g. (20, 50, 100).

    Once every step is approved, :meth:`next_pause` returns None: the caller
    syncs the app (the stable Deployments get the new template and their
    replicas back), then calls :meth:`finish` to delete the canaries.
    """

    def __init__(
        self,
        cluster: KubeCluster,
        namespace: str,
        desired: Sequence[dict[str, Any]],
        percents: Sequence[int],
        poll_interval: float = 0.5,
    ) -> None:
        self.cluster, self.namespace = cluster, namespace
        self.desired = list(desired)
        self.percents = tuple(percents)
        self._interval = poll_interval

    def _canaries(self) -> list[dict[str, Any] | None]:
        return [
            self.cluster.get("apps/v1", "Deployment", canary_name(d["metadata"]["name"]), self.namespace)
            for d in self.desired
        ]

    def approved_step(self) -> int:
        """The last approved step, read back from the canaries (0 before any approval)."""
        steps = [
            int(((c.get("metadata") or {}).get("annotations") or {}).get(APPROVED_ANNOTATION, "0"))
            for c in self._canaries()
            if c is not None
        ]
        return min(steps) if steps and len(steps) == len(self.desired) else 0

    def _scale_stable(self, desired: dict[str, Any], replicas: int) -> None:
        merge_patch(
            self.cluster,
            "apps/v1",
            "Deployment",
            desired["metadata"]["name"],
            self.namespace,
            {"spec": {"replicas": replicas}},
        )

    def next_pause(self, timeout: float) -> CanaryStep | None:
        done = self.approved_step()
        if not self.desired or done >= len(self.percents):
            return None
        index = done + 1
        percent = self.percents[index - 1]
        replicas = 0
        for desired in self.desired:
            body = canary_deployment(desired, percent, index)
            if done:
                body["metadata"]["annotations"][APPROVED_ANNOTATION] = str(done)
            self.cluster.apply(body)
            total = int((desired.get("spec") or {}).get("replicas", 1))
            replicas = body["spec"]["replicas"]
            self._scale_stable(desired, max(total - replicas, 0))
        poll(self._canaries_ready, timeout=timeout, interval=self._interval, what="canary Deployments ready")
        return CanaryStep(index, len(self.percents), percent, replicas)

    def _canaries_ready(self) -> bool | None:
        for live in self._canaries():
            if live is None:
                return None
            spec, status = live.get("spec") or {}, live.get("status") or {}
            if int(status.get("readyReplicas") or 0) < int(spec.get("replicas", 1)):
                return None
            if int(status.get("observedGeneration") or 0) < int(live["metadata"].get("generation", 0)):
                return None
        return True

    def approve(self, step: CanaryStep) -> None:
        for desired in self.desired:
            merge_patch(
                self.cluster,
                "apps/v1",
                "Deployment",
                canary_name(desired["metadata"]["name"]),
                self.namespace,
                {"metadata": {"annotations": {APPROVED_ANNOTATION: str(step.index)}}},
            )
        logger.info("native canary in %s approved at %s", self.namespace, step.label())

    def reject(self) -> None:
        """Delete the canaries and give the stable Deployments their replicas back."""
        self._delete_canaries()
        for desired in self.desired:
            self._scale_stable(desired, int((desired.get("spec") or {}).get("replicas", 1)))
        logger.warning("native canary in %s rejected: canary Deployments deleted", self.namespace)

    def finish(self) -> None:
        """Delete the canaries, once the stable Deployments run the new version."""
        self._delete_canaries()

    def analysis(self, since: int = 0) -> AnalysisOutcome | None:
        """None: the native canary has no controller; Ferry's own analysis is configured in ``releases:``."""
        return None

    def _delete_canaries(self) -> None:
        for desired in self.desired:
            self.cluster.delete(
                "apps/v1", "Deployment", canary_name(desired["metadata"]["name"]), self.namespace
            )


def changed_deployments(
    cluster: KubeCluster, namespace: str, rendered: Sequence[dict[str, Any]], only: str | None = None
) -> list[dict[str, Any]]:
    """The rendered Deployments whose pod template differs from the live one (all, for a new app)."""
    changed = []
    for manifest in rendered:
        if manifest.get("kind") != "Deployment" or (only and manifest["metadata"]["name"] != only):
            continue
        live = cluster.get("apps/v1", "Deployment", manifest["metadata"]["name"], namespace)
        if live is None:
            continue  # a new Deployment has no stable version to compare a canary with
        if _images(live) != _images(manifest):
            changed.append(manifest)
    return changed


def _images(deployment: dict[str, Any]) -> list[str]:
    containers = (((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "containers"
    ) or []
    return [str(c.get("image")) for c in containers]
