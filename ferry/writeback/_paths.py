"""Repo-relative path arithmetic that refuses to leave the repository."""

from __future__ import annotations

import posixpath

from ferry.errors import UnsafePathError


def repo_relative(*parts: str, what: str, application: str | None = None) -> str:
    """Join ``parts`` inside the repository and normalise the result.

    A part starting with ``/`` restarts at the repository root, as in Image Updater, where
    such paths are joined under the clone's root. The result never starts with ``/`` or
    ``..``; the repository root itself is ``"."``.

    Args:
        *parts: path pieces, joined left to right.
        what: what the path is, for the error message (``"write-back target"``...).
        application: the Argo CD Application the path belongs to, if known.

    Returns:
        A normalised POSIX path relative to the repository root.

    Raises:
        UnsafePathError: the path would resolve outside the repository, or holds a NUL.

    >>> repo_relative("manifests/helm/echo-server/", ".argocd-source-app.yaml", what="target")
    'manifests/helm/echo-server/.argocd-source-app.yaml'
    >>> repo_relative("apps", "/base/values.yaml", what="target")
    'base/values.yaml'
    >>> repo_relative("/", what="target")
    '.'
    """
    joined = ""
    for part in parts:
        if "\0" in part:
            raise UnsafePathError(f"{what} {part!r} contains a NUL byte", application=application)
        joined = part.lstrip("/") if part.startswith("/") else posixpath.join(joined, part)
    normalised = posixpath.normpath(joined or ".")
    if normalised == ".." or normalised.startswith("../"):
        shown = "/".join(p for p in parts if p)
        raise UnsafePathError(f"{what} {shown!r} resolves outside the repository", application=application)
    return normalised
