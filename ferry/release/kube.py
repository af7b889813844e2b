"""The few Kubernetes calls the release layer needs beyond the sync engine's client: merge patches.

Rollout controllers read approvals from the status subresource, so an approval
is a JSON merge patch of ``.../status``, exactly what the vendors' kubectl
plugins send. The request goes through the sync engine's connection and its
error translation, so failures read the same everywhere.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ferry.errors import ClusterError
from ferry.sync.kube import KubeCluster, translate_error

T = TypeVar("T")


def merge_patch(
    cluster: KubeCluster,
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None,
    patch: dict[str, Any],
    *,
    subresource: str | None = None,
) -> dict[str, Any]:
    """Send a JSON merge patch (``application/merge-patch+json``) to an object or one of its subresources.

    Raises:
        ClusterNotFound: The object or the subresource does not exist (HTTP 404).
        ClusterError: The API refused the patch (names the object).
        ClusterUnavailable: No answer, 429 or 5xx.
    """
    resource: Any = cluster.resource(api_version, kind)
    path = str(resource.path(name=name, namespace=namespace if resource.namespaced else None))
    if subresource:
        path = f"{path}/{subresource}"
    target = f"{namespace or ''}/{name}" + (f"/{subresource}" if subresource else "")
    what = f"cluster {cluster.name}: patch {kind} {target}"
    try:
        response = resource.client.request(
            "patch",
            path,
            body=patch,
            content_type="application/merge-patch+json",
            serialize=False,
            _request_timeout=30,
        )
    except Exception as exc:
        raise translate_error(exc, what) from exc  # a 404 becomes ClusterNotFound
    decoded: dict[str, Any] = json.loads(response.data)
    return decoded


def require(cluster: KubeCluster, api_version: str, kind: str, name: str, namespace: str) -> dict[str, Any]:
    """The live object, or a :class:`ClusterError` naming it when it does not exist."""
    live = cluster.get(api_version, kind, name, namespace)
    if live is None:
        raise ClusterError(f"cluster {cluster.name}: {kind} {namespace}/{name} does not exist")
    return live


def poll(
    probe: Callable[[], T | None], *, timeout: float, interval: float = 0.5, what: str = "condition"
) -> T:
    """Call ``probe`` until it returns something other than None; raise TimeoutError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f}s")
        time.sleep(interval)
