"""A small admin REST client for bringing sandbox clusters up.

The sandbox needs a handful of calls (health, get, server-side apply, wait)
before anything else can talk to the cluster, so it uses httpx with the
cluster's own CA and admin client certificate instead of the full Kubernetes
client. The sync engine uses the official client against the kubeconfig.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from ferry.errors import ClusterError, ClusterUnavailable, NotFoundError

#: Field manager for everything the sandbox itself applies.
FIELD_MANAGER = "ferry-sandbox"


class AdminApi:
    """Admin access to one cluster over mutual TLS.

    Args:
        server: ``https://127.0.0.1:<port>``.
        ca_cert: Cluster CA (PEM).
        client_cert: Admin client certificate (PEM).
        client_key: Admin client key (PEM).
        timeout: Per-request timeout in seconds.
    """

    def __init__(
        self, server: str, ca_cert: Path, client_cert: Path, client_key: Path, *, timeout: float = 10.0
    ) -> None:
        context = ssl.create_default_context(cafile=str(ca_cert))
        context.load_cert_chain(str(client_cert), str(client_key))
        self._client = httpx.Client(base_url=server, verify=context, timeout=timeout)

    def __enter__(self) -> AdminApi:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def healthy(self) -> bool:
        """Return True when ``/readyz`` answers ``ok``; connection errors count as not ready."""
        try:
            response = self._client.get("/readyz")
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.text.strip() == "ok"

    def get(self, path: str) -> dict[str, Any]:
        """GET ``path`` and return the decoded object.

        Raises:
            NotFoundError: 404.
            ClusterUnavailable: No connection, 429 or 5xx.
            ClusterError: Any other refusal.
        """
        return self._request("GET", path)

    def apply(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply ``body`` at ``path`` as :data:`FIELD_MANAGER`, taking over conflicts."""
        return self._request(
            "PATCH",
            path,
            params={"fieldManager": FIELD_MANAGER, "force": "true"},
            content=json.dumps(body),
            headers={"Content-Type": "application/apply-patch+yaml"},
        )

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """POST ``body`` to the collection at ``path``; return ``None`` when it already exists.

        Used where an object must be created with its status in one call
        (a Node, as a kubelet registers it), which apply cannot do.
        """
        response = self._send("POST", path, params={"fieldManager": FIELD_MANAGER}, json=body)
        if response.status_code == 409:
            return None
        return self._decode("POST", path, response)

    def replace(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """PUT ``body`` over the object at ``path``, at its current ``resourceVersion``.

        Server-side apply tracks ownership of every field, which for a
        600 kB CRD schema costs the apiserver seconds of CPU; a PUT does not.
        """
        live = self.get(path)
        metadata = {**body.get("metadata", {}), "resourceVersion": live["metadata"]["resourceVersion"]}
        return self._request(
            "PUT", path, params={"fieldManager": FIELD_MANAGER}, json={**body, "metadata": metadata}
        )

    def wait_for(
        self,
        path: str,
        ready: Callable[[dict[str, Any]], bool],
        *,
        timeout: float,
        what: str,
        interval: float = 0.2,
    ) -> dict[str, Any]:
        """Poll ``path`` until ``ready(object)`` holds; a missing object counts as not yet ready.

        Raises:
            ClusterUnavailable: ``timeout`` seconds passed; the message names ``what``.
        """
        deadline = time.monotonic() + timeout
        last_problem = "not checked yet"
        while True:
            try:
                body = self.get(path)
                if ready(body):
                    return body
                last_problem = "condition not met"
            except (NotFoundError, ClusterUnavailable) as exc:
                last_problem = str(exc)
            if time.monotonic() >= deadline:
                raise ClusterUnavailable(
                    f"timed out after {timeout:.0f} s waiting for {what}: {last_problem}"
                )
            time.sleep(interval)

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return self._decode(method, path, self._send(method, path, **kwargs))

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ClusterUnavailable(f"{method} {path}: {exc}") from exc

    @staticmethod
    def _decode(method: str, path: str, response: httpx.Response) -> dict[str, Any]:
        if response.status_code == 404:
            raise NotFoundError(f"{method} {path}: not found")
        if response.status_code == 429 or response.status_code >= 500:
            raise ClusterUnavailable(f"{method} {path}: HTTP {response.status_code}: {response.text[:300]}")
        if response.status_code >= 400:
            raise ClusterError(f"{method} {path}: HTTP {response.status_code}: {response.text[:500]}")
        decoded: dict[str, Any] = response.json()
        return decoded
