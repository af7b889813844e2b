"""Tasks retry transient errors only: a wrong password or a bad annotation fails at once."""

from __future__ import annotations

from typing import Any

import pytest
from prefect.states import Failed

from ferry.errors import (
    AuthenticationError,
    ClusterUnavailable,
    ConfigError,
    GitPushRejected,
    RegistryUnavailable,
)
from tasks.retry import only_transient


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (RegistryUnavailable("503"), True),
        (GitPushRejected("fetch first"), True),
        (ClusterUnavailable("connection refused"), True),
        (ConfigError("bad annotation"), False),
        (AuthenticationError("401"), False),
        (ValueError("a bug"), False),
    ],
    ids=["registry-5xx", "push-rejected", "apiserver-down", "config", "auth", "bug"],
)
def test_only_transient_errors_retry(error: Exception, retry: bool) -> None:
    state: Any = Failed(data=error)
    assert only_transient(None, None, state) is retry  # type: ignore[arg-type]
