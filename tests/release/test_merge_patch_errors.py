"""merge_patch says "not found" by type: a 404 is a ClusterNotFound, other refusals stay ClusterError."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from ferry.errors import ClusterError, ClusterNotFound, NotFoundError
from ferry.release.kube import merge_patch


class _Resource:
    namespaced = True

    def __init__(self, status: int) -> None:
        self.client = self
        self._status = status

    def path(self, *, name: str, namespace: str | None) -> str:
        return f"/apis/argoproj.io/v1alpha1/namespaces/{namespace}/rollouts/{name}"

    def request(self, *args: Any, **kwargs: Any) -> Any:
        raise ApiException(status=self._status, reason="refused")


class _Cluster:
    name = "dev"

    def __init__(self, status: int) -> None:
        self._resource = _Resource(status)

    def resource(self, api_version: str, kind: str) -> _Resource:
        return self._resource


def _patch(status: int) -> None:
    merge_patch(
        _Cluster(status),  # type: ignore[arg-type]
        "argoproj.io/v1alpha1",
        "Rollout",
        "web",
        "apps",
        {"status": {}},
        subresource="status",
    )


def test_a_404_is_a_typed_not_found() -> None:
    with pytest.raises(ClusterNotFound, match="patch Rollout apps/web/status: HTTP 404") as caught:
        _patch(404)
    assert isinstance(caught.value, NotFoundError) and isinstance(caught.value, ClusterError)


def test_another_refusal_is_not_a_not_found() -> None:
    with pytest.raises(ClusterError, match="HTTP 422") as caught:
        _patch(422)
    assert not isinstance(caught.value, NotFoundError)
