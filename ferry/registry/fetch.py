"""Reading one registry's manifests and config blobs: the requests behind every tag's metadata.

:class:`ManifestFetcher` sends the GET and HEAD requests, checks bodies against
their digests, parses them into :class:`~ferry.registry.model.ManifestRecord`
values and stores those in the metadata cache. The client
(:mod:`ferry.registry.client`) decides which tags need which of these reads.
"""

from __future__ import annotations

import hashlib
import re
import threading
from typing import Any

import httpx

from ferry.errors import NotFoundError, RegistryError
from ferry.registry.auth import repository_scope
from ferry.registry.cache import MetadataCache
from ferry.registry.model import (
    MANIFEST_ACCEPT,
    IndexChild,
    ManifestKind,
    ManifestRecord,
    parse_created,
    parse_manifest,
    platform_from_json,
)
from ferry.registry.plan import HeadAnswer
from ferry.registry.transport import Transport, json_object

__all__ = ["ManifestFetcher"]

_SHA256 = re.compile(r"sha256:[0-9a-f]{64}")


class ManifestFetcher:
    """Manifests and config blobs of one registry, read through ``transport`` into ``cache``."""

    def __init__(self, transport: Transport, api_url: str, cache: MetadataCache) -> None:
        self.transport = transport
        self.api_url = api_url
        self.registry = transport.registry
        self.cache = cache
        self._records_lock = threading.Lock()
        self._inflight: dict[str, threading.Lock] = {}

    def get(
        self, url: str, repository: str, subject: str, *, method: str = "GET", accept: str | None = None
    ) -> httpx.Response:
        """One request in ``repository``'s token scope; 404 is NotFoundError, other failures RegistryError."""
        headers = {"Accept": accept} if accept else None
        response = self.transport.request(
            method, url, scope=repository_scope(repository), subject=subject, headers=headers
        )
        if response.status_code == 404:
            raise NotFoundError(f"registry {self.registry}: {subject} not found")
        if response.status_code >= 400 or response.status_code < 200:
            raise RegistryError(
                f"registry {self.registry}: {method} {subject} answered HTTP {response.status_code}"
            )
        return response

    def head(self, repository: str, tag: str) -> HeadAnswer:
        """HEAD a tag's manifest: the digest it points at now and its media type, without the body."""
        response = self.get(
            f"{self.api_url}/v2/{repository}/manifests/{tag}",
            repository,
            f"tag '{tag}' of repository '{repository}'",
            method="HEAD",
            accept=MANIFEST_ACCEPT,
        )
        digest = response.headers.get("docker-content-digest")
        # Only a sha256 digest is used: it becomes a URL path and is checked against the body later.
        usable = digest if isinstance(digest, str) and _SHA256.fullmatch(digest) else None
        return HeadAnswer(usable, response.headers.get("content-type", ""))

    def manifest(self, repository: str, reference: str) -> ManifestRecord:
        """GET a manifest by tag or digest, parse it, and cache the record."""
        what = f"manifest '{reference}' of repository '{repository}'"
        response = self.get(
            f"{self.api_url}/v2/{repository}/manifests/{reference}", repository, what, accept=MANIFEST_ACCEPT
        )
        body_digest = "sha256:" + hashlib.sha256(response.content).hexdigest()
        if reference.startswith("sha256:") and reference != body_digest:
            raise RegistryError(f"registry {self.registry}: {what} does not match its digest")
        digest = (
            reference
            if reference.startswith("sha256:")
            else (response.headers.get("docker-content-digest") or body_digest)
        )
        body = json_object(response, what)
        record = parse_manifest(digest, body, response.headers.get("content-type", ""))
        self.cache.store_manifest(record)
        return record

    def config_blob(self, repository: str, config_digest: str) -> dict[str, Any]:
        """An image's config blob, decoded; a sha256 digest must match the body."""
        what = f"config blob {config_digest} of repository '{repository}'"
        response = self.get(f"{self.api_url}/v2/{repository}/blobs/{config_digest}", repository, what)
        if config_digest.startswith("sha256:") and (
            "sha256:" + hashlib.sha256(response.content).hexdigest() != config_digest
        ):
            raise RegistryError(f"registry {self.registry}: {what} does not match its digest")
        return json_object(response, what)

    def read_config(self, repository: str, record: ManifestRecord) -> ManifestRecord:
        """Fetch an image's config blob for its creation time and platform, and cache the result."""
        if record.config_digest is None:
            updated = ManifestRecord(record.digest, record.kind, None, None, None, (), config_read=True)
        else:
            config = self.config_blob(repository, record.config_digest)
            updated = ManifestRecord(
                record.digest,
                record.kind,
                record.config_digest,
                created=parse_created(config.get("created")),
                platform=platform_from_json(config),
                config_read=True,
            )
        self.cache.store_manifest(updated)
        return updated

    def child_record(self, repository: str, child: IndexChild) -> ManifestRecord:
        """An index child's record with its config read, from the cache or the registry."""
        # Two tags of one scan often share children; a per-digest lock makes the
        # second wait for the first instead of fetching the same manifest twice.
        with self._records_lock:
            gate = self._inflight.setdefault(child.digest, threading.Lock())
        with gate:
            record = self.cache.manifest(child.digest)
            if record is None:
                record = self.manifest(repository, child.digest)
            if record.kind is ManifestKind.IMAGE and not record.created_known:
                record = self.read_config(repository, record)
            return record
