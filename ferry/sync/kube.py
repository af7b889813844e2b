"""A small adapter over the official Kubernetes client: the calls the sync engine makes, typed errors.

Every call goes through the dynamic client (so CRD kinds such as Kruise's and
Argo's ``Rollout`` work like built-in ones) and every failure leaves as a
:class:`~ferry.errors.ClusterUnavailable` (no connection, 429, 5xx: worth a
retry) or a :class:`~ferry.errors.ClusterError` (the API refused: a human must
change the input), with the resource named in the message.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError, ResourceNotUniqueError

from ferry.errors import ClusterError, ClusterNotFound, ClusterUnavailable, FerryError

logger = logging.getLogger(__name__)

FIELD_MANAGER = "ferry"


def _api_message(exc: ApiException) -> str:
    """The ``message`` of the Status object the API server answered with, else its reason."""
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str) and body:
        try:
            status = json.loads(body)
        except ValueError:
            return body[:500]
        if isinstance(status, dict) and status.get("message"):
            return str(status["message"])
    return str(getattr(exc, "reason", "") or exc)


def translate_error(exc: BaseException, what: str) -> FerryError:
    """Map a client exception to Ferry's error types; ``what`` names the call and the resource."""
    if isinstance(exc, FerryError):
        return exc
    if isinstance(exc, ApiException):
        status = int(exc.status or 0)
        message = f"{what}: HTTP {status}: {_api_message(exc)}"
        if status == 0 or status == 429 or status >= 500:
            retry_after = None
            headers = getattr(exc, "headers", None) or {}
            if headers.get("Retry-After", "").isdigit():
                retry_after = float(headers["Retry-After"])
            return ClusterUnavailable(message, retry_after=retry_after)
        if status == 404:
            return ClusterNotFound(message)
        return ClusterError(message)
    if isinstance(exc, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError | OSError):
        return ClusterUnavailable(f"{what}: API server unreachable: {exc}")
    return ClusterError(f"{what}: {type(exc).__name__}: {exc}")


class KubeCluster:
    """One cluster, reached through an ``ApiClient``; closes it on :meth:`close`.

    Args:
        name: The cluster's name in ``ferry.yaml`` (used in messages).
        api_client: A configured official-client ``ApiClient``.
        cache_file: Where the dynamic client caches API discovery.
        request_timeout: Seconds per request.
    """

    def __init__(
        self,
        name: str,
        api_client: k8s_client.ApiClient,
        *,
        cache_file: Path | None = None,
        request_timeout: float = 30.0,
    ) -> None:
        self.name = name
        # The official client is untyped; Any keeps mypy's strict mode about our code, not theirs.
        self._api_client: Any = api_client
        self._timeout = request_timeout
        # Fail fast on a dead server: the task layer retries with backoff, urllib3 need not.
        api_client.configuration.retries = 1
        if cache_file is not None:
            # One cache per server URL: a cluster name reused for a new cluster must not see old kinds.
            host = str(api_client.configuration.host)
            cache_file = cache_file.with_name(
                f"{cache_file.stem}-{hashlib.sha256(host.encode()).hexdigest()[:12]}.json"
            )
            cache_file.parent.mkdir(parents=True, exist_ok=True)
        dynamic_client: Any = DynamicClient
        self._dynamic: Any = dynamic_client(api_client, cache_file=str(cache_file) if cache_file else None)

    def close(self) -> None:
        """Release the connection pool."""
        self._api_client.close()

    # -- discovery ------------------------------------------------------------

    def resource(self, api_version: str, kind: str) -> Any:
        """The API resource serving ``kind`` in ``api_version``.

        Raises:
            ClusterError: The cluster does not serve it (a CRD is missing).
        """
        what = f"cluster {self.name}: discovery of {kind} ({api_version})"
        try:
            return self._dynamic.resources.get(api_version=api_version, kind=kind)
        except (ResourceNotFoundError, ResourceNotUniqueError) as exc:
            raise ClusterError(
                f"cluster {self.name} does not serve {kind} in {api_version} "
                f"(is its CustomResourceDefinition installed?)"
            ) from exc
        except Exception as exc:
            raise translate_error(exc, what) from exc

    def namespaced(self, api_version: str, kind: str) -> bool:
        """Whether ``kind`` lives in namespaces."""
        return bool(self.resource(api_version, kind).namespaced)

    def refresh_discovery(self) -> None:
        """Forget cached discovery, after CRDs were created in this sync."""
        try:
            self._dynamic.resources.invalidate_cache()
        except Exception as exc:
            raise translate_error(exc, f"cluster {self.name}: discovery") from exc

    # -- requests -------------------------------------------------------------

    def _call(self, what: str, method: str, path: str, **params: Any) -> dict[str, Any]:
        try:
            response = self._dynamic.request(
                method, path, serialize=False, _request_timeout=self._timeout, **params
            )
        except Exception as exc:
            raise translate_error(exc, f"cluster {self.name}: {what}") from exc
        decoded: dict[str, Any] = json.loads(response.data)
        return decoded

    def ready(self) -> bool:
        """True when ``/readyz`` answers; any failure counts as not ready."""
        try:
            self._dynamic.request("get", "/readyz", serialize=False, _request_timeout=5)
        except Exception:  # noqa: BLE001 - any failure means "not ready", which is the answer asked for
            return False
        return True

    def get(self, api_version: str, kind: str, name: str, namespace: str | None) -> dict[str, Any] | None:
        """The live object, or None when it does not exist."""
        resource: Any = self.resource(api_version, kind)
        path = resource.path(name=name, namespace=namespace if resource.namespaced else None)
        try:
            return self._call(f"get {kind} {namespace or ''}/{name}", "get", path)
        except ClusterNotFound:
            return None

    def list(
        self, api_version: str, kind: str, *, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Objects of ``kind`` (in ``namespace`` when given) matching ``label_selector``."""
        resource: Any = self.resource(api_version, kind)
        path = resource.path(namespace=namespace if resource.namespaced else None)
        listed = self._call(f"list {kind}", "get", path, label_selector=label_selector)
        items: list[dict[str, Any]] = listed.get("items", [])
        for item in items:
            # List items carry no apiVersion/kind of their own.
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items

    def apply(
        self,
        manifest: dict[str, Any],
        *,
        dry_run: bool = False,
        force: bool = True,
        field_manager: str = FIELD_MANAGER,
    ) -> dict[str, Any]:
        """Server-side apply ``manifest``; return the object the server made of it.

        Raises:
            ClusterError: The API refused it (invalid, forbidden, conflict without force); names it.
            ClusterUnavailable: No answer, 429 or 5xx.
        """
        api_version, kind = manifest["apiVersion"], manifest["kind"]
        metadata = manifest.get("metadata", {})
        resource: Any = self.resource(api_version, kind)
        namespace = metadata.get("namespace") if resource.namespaced else None
        path = resource.path(name=metadata["name"], namespace=namespace)
        where = f"{namespace}/" if namespace else ""
        params: dict[str, Any] = {
            "field_manager": field_manager,
            "content_type": "application/apply-patch+yaml",
        }
        if force:
            params["force_conflicts"] = "true"
        if dry_run:
            params["dry_run"] = "All"
        verb = "dry-run apply" if dry_run else "apply"
        return self._call(f"{verb} {kind} {where}{metadata['name']}", "patch", path, body=manifest, **params)

    def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        body: dict[str, Any] | builtins.list[dict[str, Any]],
        *,
        subresource: str | None = None,
        content_type: str = "application/merge-patch+json",
    ) -> dict[str, Any]:
        """Patch an object or one of its subresources (``status``, ``scale``).

        ``content_type`` picks the patch flavour: merge (default), ``application/json-patch+json``
        (a list of operations, e.g. a ``test`` op to guard a state transition) or strategic merge.
        """
        resource: Any = self.resource(api_version, kind)
        path = resource.path(name=name, namespace=namespace if resource.namespaced else None)
        if subresource:
            path = f"{path}/{subresource}"
        where = f"{namespace}/" if namespace else ""
        what = f"patch {kind} {where}{name}" + (f" ({subresource})" if subresource else "")
        return self._call(
            what, "patch", path, body=body, content_type=content_type, field_manager=FIELD_MANAGER
        )

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None) -> bool:
        """Delete an object (background propagation); False when it was already gone."""
        resource: Any = self.resource(api_version, kind)
        path = resource.path(name=name, namespace=namespace if resource.namespaced else None)
        try:
            self._call(
                f"delete {kind} {namespace or ''}/{name}", "delete", path, propagation_policy="Background"
            )
        except ClusterNotFound:
            return False
        return True

    def create(self, manifest: dict[str, Any]) -> dict[str, Any] | None:
        """Create ``manifest``; None when it already exists (used for the history ConfigMap)."""
        api_version, kind = manifest["apiVersion"], manifest["kind"]
        metadata = manifest.get("metadata", {})
        resource: Any = self.resource(api_version, kind)
        path = resource.path(namespace=metadata.get("namespace") if resource.namespaced else None)
        try:
            return self._call(
                f"create {kind} {metadata.get('namespace', '')}/{metadata['name']}",
                "post",
                path,
                body=manifest,
                field_manager=FIELD_MANAGER,
            )
        except ClusterError as exc:
            if "HTTP 409" in str(exc):
                return None
            raise

    def replace(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """PUT ``manifest`` (with its resourceVersion: optimistic concurrency)."""
        api_version, kind = manifest["apiVersion"], manifest["kind"]
        metadata = manifest["metadata"]
        resource: Any = self.resource(api_version, kind)
        path = resource.path(
            name=metadata["name"], namespace=metadata.get("namespace") if resource.namespaced else None
        )
        return self._call(
            f"replace {kind} {metadata.get('namespace', '')}/{metadata['name']}",
            "put",
            path,
            body=manifest,
            field_manager=FIELD_MANAGER,
        )
