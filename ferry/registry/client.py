"""The OCI registry client Image Updater's strategies read from.

:class:`RegistryClient` lists tags and reads, per tag, what a strategy needs:
the manifest digest (``digest``) and the image config's creation time
(``newest-build``). Metadata is cached on disk under the manifest digest, so a
warm cycle with nothing new costs one ``tags/list`` per repository and nothing
per known tag.

The client decides which tags need which reads; the reads themselves (manifests,
config blobs, digest checks) are :mod:`ferry.registry.fetch`, and the HTTP
underneath (retries, pacing, auth) is :mod:`ferry.registry.transport`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from types import TracebackType

from ferry.errors import NotFoundError, RegistryError
from ferry.image.platform import Platform
from ferry.image.tags import ImageTag
from ferry.registry.cache import MetadataCache
from ferry.registry.fetch import ManifestFetcher
from ferry.registry.model import (
    ManifestKind,
    ManifestRecord,
    check_repository,
    is_valid_tag,
    matching_children,
)
from ferry.registry.plan import (
    AfterHead,
    Excluded,
    FirstRead,
    after_head,
    annotated_index_answer,
    cached_answer,
    first_read,
    image_answer,
    index_answer,
)
from ferry.registry.ratelimit import Throttle
from ferry.registry.transport import Transport, json_object
from ferry.registry.urls import next_link, normalise_api_url, redact, same_origin

logger = logging.getLogger("ferry.registry")


class RegistryClient:
    """A client for one registry (Distribution API v2 / OCI distribution).

    Args:
        api_url: ``http(s)://host[:port]`` or a bare host (https, or http for loopback).
        username: Basic credentials, also used to obtain Bearer tokens.
        password: Never logged, never in an exception.
        insecure: Allow plain http to a non-loopback host and skip TLS verification.
        limit: Requests per second (``registries.conf``'s ``limit``); ``None`` = unlimited.
        max_concurrency: Requests in flight at once.
        cache: Metadata cache; ``None`` keeps one in memory for this client only.
        timeout: Per-request timeout in seconds.
        max_attempts: Tries per request on 429/5xx/timeouts before RegistryUnavailable.
        list_once: List each repository's tags once for the client's life and answer later
            calls from that list (the image updater's cycle, where many Applications share an
            image); off where a caller lists again to see what it just pushed.
        shared_pace: Blocks until the limit shared by every process grants a request (only
            asked when ``limit`` is set): ``limit`` then holds across workers, not per process.

    ``request_count`` counts every HTTP request actually sent (token fetches and
    retries included).
    """

    def __init__(
        self,
        api_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        insecure: bool = False,
        limit: float | None = None,
        max_concurrency: int = 8,
        cache: MetadataCache | None = None,
        timeout: float = 10.0,
        max_attempts: int = 5,
        list_once: bool = False,
        shared_pace: Callable[[], None] | None = None,
    ) -> None:
        self.api_url = normalise_api_url(api_url, insecure=insecure)
        self._listed: dict[str, tuple[str, ...]] | None = {} if list_once else None
        self._transport = Transport(
            self.api_url,
            username=username,
            password=password,
            insecure=insecure,
            limit=limit,
            max_concurrency=max_concurrency,
            timeout=timeout,
            max_attempts=max_attempts,
            shared_pace=shared_pace,
        )
        self.registry = self._transport.registry
        self._owns_cache = cache is None
        self.cache = cache if cache is not None else MetadataCache.memory()
        self.max_concurrency = max_concurrency
        self._fetch = ManifestFetcher(self._transport, self.api_url, self.cache)

    @property
    def request_count(self) -> int:
        """Every HTTP request sent so far by this client."""
        return self._transport.request_count

    @property
    def throttle(self) -> Throttle:
        """The pacing object (``throttle.limiter`` holds the rate limiter's accounting)."""
        return self._transport.throttle

    def close(self) -> None:
        """Flush the cache and close connections (and the cache, when this client made it)."""
        self.cache.flush()
        if self._owns_cache:
            self.cache.close()
        self._transport.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def ping(self) -> None:
        """Check that ``/v2/`` answers and that the credentials (if any) are accepted.

        Raises:
            AuthenticationError, RegistryUnavailable, RegistryError.
        """
        response = self._transport.request(
            "GET", f"{self.api_url}/v2/", scope="", subject="the registry API (/v2/)"
        )
        if response.status_code != 200:
            raise RegistryError(
                f"registry {self.registry} does not look like an OCI registry: GET /v2/ answered "
                f"HTTP {response.status_code}"
            )

    def list_tags(self, repository: str) -> list[str]:
        """All valid tags of ``repository``, following ``Link: <…>; rel="next"`` on the registry's origin.

        Tags that are not valid OCI tags are dropped (and counted in a warning); a
        next page on another origin is an error, so credentials never leave.

        Raises:
            NotFoundError: the repository does not exist.
            AuthenticationError, RegistryUnavailable, RegistryError.
        """
        check_repository(repository)
        if self._listed is None:
            return self._list_tags(repository)
        if repository not in self._listed:
            self._listed[repository] = tuple(self._list_tags(repository))
        return list(self._listed[repository])

    def _list_tags(self, repository: str) -> list[str]:
        url: str | None = f"{self.api_url}/v2/{repository}/tags/list"
        seen_pages: set[str] = set()
        tags: dict[str, None] = {}
        refused = 0
        while url is not None and url not in seen_pages:
            seen_pages.add(url)
            response = self._fetch.get(url, repository, f"repository '{repository}'")
            body = json_object(response, f"tags of repository '{repository}' on {self.registry}")
            page = body.get("tags") or []
            if not isinstance(page, list):
                raise RegistryError(f"registry {self.registry}: tags/list of '{repository}' is not a list")
            for tag in page:
                # Only a valid OCI tag may ever be selected: a tag flows into URLs, Helm
                # values and commit messages, and "a,b=c" would set a second Helm value.
                if isinstance(tag, str) and is_valid_tag(tag):
                    tags[tag] = None
                else:
                    refused += 1
            url = next_link(response.headers.get_list("link"), response.url)
            if url is not None and not same_origin(url, self.api_url):
                raise RegistryError(
                    f"registry {self.registry}: tags/list of '{repository}' points its next page at "
                    f"another origin ({redact(url)}); refusing to follow it"
                )
        if refused:
            logger.warning(
                "registry %s: ignored %d tag(s) of '%s' that are not valid OCI tags",
                self.registry,
                refused,
                repository,
            )
        return list(tags)

    def tag_metadata(
        self,
        repository: str,
        tags: Sequence[str],
        *,
        platforms: tuple[Platform, ...],
        need_created: bool,
        need_digest: bool,
        refresh: bool = False,
    ) -> dict[str, ImageTag]:
        """Read the creation time and/or digest of each tag, from the cache where possible.

        Tags are treated as immutable once seen (as Image Updater does): a known tag
        costs no request unless ``refresh`` is set, which re-validates its digest
        with one HEAD. ``created`` is the manifest's ``org.opencontainers.image.created``
        annotation when it carries a valid one, else the image config's creation
        time; for an index it is the index's own annotation, else the newest among
        the children whose platform is in ``platforms``. The requests each tag
        costs are decided in :mod:`ferry.registry.plan`.

        Tags are left out of the result when their image has none of the wanted
        platforms (checked when the config or index is read), or when the tag
        vanished between listing and reading (logged at WARNING).

        Returns:
            tag name → ``ImageTag`` whose ``created``/``digest`` are set only when asked for.
        """
        check_repository(repository)
        if not need_created and not need_digest:
            return {tag: ImageTag(tag) for tag in tags}
        known = self.cache.tag_digests(self.api_url, repository)
        results: dict[str, ImageTag] = {}
        to_fetch: list[str] = []
        for tag in dict.fromkeys(tags):
            if not is_valid_tag(tag):
                logger.warning("registry %s: skipping invalid tag %r of '%s'", self.registry, tag, repository)
                continue
            cached = None if refresh else self._from_cache(known.get(tag), tag, platforms, need_created)
            if cached is Excluded.PLATFORM:
                continue
            if isinstance(cached, ImageTag):
                results[tag] = _shaped(cached, need_created, need_digest)
            else:
                to_fetch.append(tag)
        try:
            fetched = self._fetch_all(repository, to_fetch, platforms, need_created, refresh, known)
        finally:
            self.cache.flush()
        for tag, found in fetched.items():
            if found is not None:
                results[tag] = _shaped(found, need_created, need_digest)
        return {tag: results[tag] for tag in tags if tag in results}

    def image_labels(self, repository: str, tag: str) -> dict[str, str] | None:
        """The labels of the image ``tag`` names (its config's ``config.Labels``), or None if no such tag.

        The tag is always resolved afresh (never from the cache), because the
        caller asks precisely to learn whether the tag was re-pointed, e.g. the
        CI stage checking ``org.opencontainers.image.revision``. For an index,
        the labels of its first child image are returned: every child of one
        multi-platform build carries the same labels.

        Raises:
            AuthenticationError, RegistryUnavailable, RegistryError.
        """
        check_repository(repository)
        if not is_valid_tag(tag):
            raise RegistryError(f"registry {self.registry}: {tag!r} is not a valid tag")
        try:
            record = self._fetch.manifest(repository, tag)
            if record.kind is not ManifestKind.IMAGE:
                if not record.children:
                    return {}
                record = self._fetch.manifest(repository, record.children[0].digest)
        except NotFoundError:
            return None
        if record.config_digest is None:
            return {}
        config = self._fetch.config_blob(repository, record.config_digest).get("config")
        labels = config.get("Labels") if isinstance(config, dict) else None
        if not isinstance(labels, dict):
            return {}
        return {str(key): str(value) for key, value in labels.items()}

    # -- per-tag work (what to send is decided in ferry.registry.plan) ---------------

    def _from_cache(
        self, digest: str | None, tag: str, platforms: tuple[Platform, ...], need_created: bool
    ) -> ImageTag | Excluded | None:
        return cached_answer(tag, digest, self.cache.manifest, platforms, need_created)

    def _fetch_all(
        self,
        repository: str,
        tags: list[str],
        platforms: tuple[Platform, ...],
        need_created: bool,
        refresh: bool,
        known: dict[str, str],
    ) -> dict[str, ImageTag | None]:
        if not tags:
            return {}

        def one(tag: str) -> ImageTag | None:
            try:
                return self._fetch_tag(repository, tag, platforms, need_created, refresh, known.get(tag))
            except NotFoundError:
                logger.warning(
                    "registry %s: tag '%s' of '%s' vanished while reading it", self.registry, tag, repository
                )
                return None

        if len(tags) == 1:
            return {tags[0]: one(tags[0])}
        with ThreadPoolExecutor(
            max_workers=self.max_concurrency, thread_name_prefix="ferry-registry"
        ) as pool:
            futures: dict[Future[ImageTag | None], str] = {pool.submit(one, tag): tag for tag in tags}
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for future in pending:
                future.cancel()
            for future in done:
                error = future.exception()
                if error is not None:
                    raise error
            return {futures[f]: f.result() for f in done}

    def _resolve(
        self, repository: str, tag: str, need_created: bool, refresh: bool, known_digest: str | None
    ) -> ManifestRecord | str:
        """The tag's manifest record, or only its digest when a HEAD settled a digest-only read."""
        if first_read(need_created=need_created, refresh=refresh, known_digest=known_digest) is FirstRead.GET:
            cached = self.cache.manifest(known_digest) if known_digest else None
            return cached or self._fetch.manifest(repository, tag)
        head = self._fetch.head(repository, tag)
        cached = self.cache.manifest(head.digest) if head.digest else None
        step = after_head(head, cached, need_created=need_created)
        if step is AfterHead.CACHED and cached is not None:
            return cached
        if step is AfterHead.DIGEST and head.digest is not None:
            return head.digest
        # By digest when the HEAD named one: the body is then checked against what the HEAD said.
        return self._fetch.manifest(repository, head.digest or tag)

    def _fetch_tag(
        self,
        repository: str,
        tag: str,
        platforms: tuple[Platform, ...],
        need_created: bool,
        refresh: bool,
        known_digest: str | None,
    ) -> ImageTag | None:
        resolved = self._resolve(repository, tag, need_created, refresh, known_digest)
        if isinstance(resolved, str):
            self.cache.store_tag_digests(self.api_url, repository, {tag: resolved})
            return ImageTag(tag, digest=resolved)
        record = resolved
        self.cache.store_tag_digests(self.api_url, repository, {tag: record.digest})
        if record.kind is ManifestKind.IMAGE:
            if need_created and not record.created_known:
                record = self._fetch.read_config(repository, record)
            answer = image_answer(tag, record, platforms, need_created)
            return answer if isinstance(answer, ImageTag) else None
        if need_created and record.annotated:
            return annotated_index_answer(tag, record, platforms)
        chosen = matching_children(record.children, platforms)
        if not chosen:
            return None
        if not need_created:
            return ImageTag(tag, digest=record.digest)
        children = {child.digest: self._fetch.child_record(repository, child) for child in chosen}
        return index_answer(tag, record, children, platforms)


def _shaped(tag: ImageTag, need_created: bool, need_digest: bool) -> ImageTag:
    return ImageTag(tag.name, tag.created if need_created else None, tag.digest if need_digest else None)
