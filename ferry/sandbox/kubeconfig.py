"""Kubeconfig files for sandbox clusters.

One file holds a cluster, a user and a context per sandbox cluster, all named
after the cluster (``dev``, ``staging``, ``production``), so any client,
``kubectl --context dev`` or ``kubernetes.config.new_client_from_config(context=...)``,
picks a cluster by its name. Credentials are embedded (``*-data``) so the file
stays valid wherever it is copied.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True, slots=True)
class KubeconfigEntry:
    """What a kubeconfig needs to reach one cluster as its admin.

    Attributes:
        name: Cluster name; also the context and user name.
        server: ``https://127.0.0.1:<port>``.
        ca_cert: PEM file of the cluster CA.
        client_cert: PEM file of the admin client certificate.
        client_key: PEM file of the admin client key.
    """

    name: str
    server: str
    ca_cert: Path
    client_cert: Path
    client_key: Path


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def render_kubeconfig(entries: Iterable[KubeconfigEntry], current: str | None = None) -> dict[str, Any]:
    """Return the kubeconfig document for ``entries``.

    Args:
        entries: One per cluster.
        current: The ``current-context``; the first entry when ``None``.

    Returns:
        A kubeconfig as a plain dict, ready for YAML.
    """
    ordered = list(entries)
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "current-context": current or (ordered[0].name if ordered else ""),
        "clusters": [
            {
                "name": entry.name,
                "cluster": {"server": entry.server, "certificate-authority-data": _b64(entry.ca_cert)},
            }
            for entry in ordered
        ],
        "users": [
            {
                "name": entry.name,
                "user": {
                    "client-certificate-data": _b64(entry.client_cert),
                    "client-key-data": _b64(entry.client_key),
                },
            }
            for entry in ordered
        ],
        "contexts": [
            {"name": entry.name, "context": {"cluster": entry.name, "user": entry.name}} for entry in ordered
        ],
    }


def write_kubeconfig(path: Path, entries: Iterable[KubeconfigEntry], current: str | None = None) -> Path:
    """Write the kubeconfig for ``entries`` to ``path`` (mode 0600, replaced atomically).

    Returns:
        ``path``, for chaining.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    document = yaml.safe_dump(render_kubeconfig(entries, current), sort_keys=False)
    staging = path.with_name(f".{path.name}.tmp")
    # It holds private keys: never let it exist with looser permissions.
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(document)
    os.replace(staging, path)
    return path


def write_component_kubeconfig(path: Path, entry: KubeconfigEntry) -> Path:
    """Write a single-context kubeconfig that points at files, for the control-plane components."""
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": entry.name,
        "clusters": [
            {
                "name": entry.name,
                "cluster": {"server": entry.server, "certificate-authority": str(entry.ca_cert)},
            }
        ],
        "users": [
            {
                "name": entry.name,
                "user": {"client-certificate": str(entry.client_cert), "client-key": str(entry.client_key)},
            }
        ],
        "contexts": [{"name": entry.name, "context": {"cluster": entry.name, "user": entry.name}}],
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path
