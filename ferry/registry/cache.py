"""On-disk metadata cache, kept across runs.

Two maps, in one SQLite database:

* ``(registry, repository, tag) → manifest digest``. Tags are treated as
  immutable, as Image Updater does; callers re-validate with a HEAD when they
  must (the ``digest`` strategy always does for its one tag).
* ``manifest digest → ManifestRecord`` (creation time, platform, index
  children). A digest names immutable content, so these entries never go stale.

SQLite gives atomic, crash-safe writes and lets several processes share one
cache (WAL mode, a busy timeout). Writes are buffered in memory and flushed in
one short transaction, so a cold scan of thousands of tags does not pay a
commit per tag, and other processes are never blocked for a whole scan.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from ferry.errors import ConfigError
from ferry.image.platform import Platform
from ferry.registry.model import IndexChild, ManifestKind, ManifestRecord, parse_created

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tags (
    registry TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT NOT NULL,
    digest TEXT NOT NULL, seen REAL NOT NULL,
    PRIMARY KEY (registry, repository, tag)
);
CREATE TABLE IF NOT EXISTS manifests (digest TEXT PRIMARY KEY, record TEXT NOT NULL);
"""
#: Flush on its own once this many writes are pending, bounding what a crash loses.
_FLUSH_THRESHOLD = 500


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/ferry/registry``, defaulting to ``~/.cache/ferry/registry``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ferry" / "registry"


class MetadataCache:
    """Thread-safe, multi-process-safe tag and manifest metadata cache.

    Args:
        directory: Where ``metadata.sqlite3`` lives; ``None`` means
            :func:`default_cache_dir`. Ignored when ``in_memory`` is set.
        in_memory: Keep everything in this process only (tests, one-off runs).
    """

    def __init__(self, directory: str | Path | None = None, *, in_memory: bool = False) -> None:
        self._lock = threading.Lock()
        self._pending_tags: dict[tuple[str, str, str], str] = {}
        self._pending_manifests: dict[str, ManifestRecord] = {}
        if in_memory:
            self.path: Path | None = None
            self._db = self._open(":memory:")
            return
        root = Path(directory) if directory is not None else default_cache_dir()
        root.mkdir(parents=True, exist_ok=True)
        self.path = root / "metadata.sqlite3"
        try:
            self._db = self._open(str(self.path))
        except sqlite3.DatabaseError as exc:
            # A cache is disposable: a corrupt file must not stop the pipeline.
            broken = self.path.with_suffix(f".broken-{int(time.time())}")
            logger.warning("registry cache %s is unreadable (%s); moved it to %s", self.path, exc, broken)
            os.replace(self.path, broken)
            self._db = self._open(str(self.path))

    @classmethod
    def memory(cls) -> MetadataCache:
        """A cache that lives only as long as this object."""
        return cls(in_memory=True)

    @staticmethod
    def _open(target: str) -> sqlite3.Connection:
        db = sqlite3.connect(target, timeout=30.0, check_same_thread=False, isolation_level=None)
        if target != ":memory:":
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        return db

    def tag_digests(self, registry: str, repository: str) -> dict[str, str]:
        """Every known tag → digest of one repository (one query)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT tag, digest FROM tags WHERE registry = ? AND repository = ?", (registry, repository)
            ).fetchall()
            known = {str(tag): str(digest) for tag, digest in rows}
            for (reg, repo, tag), digest in self._pending_tags.items():
                if reg == registry and repo == repository:
                    known[tag] = digest
        return known

    def store_tag_digests(self, registry: str, repository: str, mapping: Mapping[str, str]) -> None:
        """Remember which digest each tag points at."""
        with self._lock:
            for tag, digest in mapping.items():
                self._pending_tags[(registry, repository, tag)] = digest
            self._maybe_flush_locked()

    def manifest(self, digest: str) -> ManifestRecord | None:
        """The record of one manifest digest, if known."""
        with self._lock:
            pending = self._pending_manifests.get(digest)
            if pending is not None:
                return pending
            row = self._db.execute("SELECT record FROM manifests WHERE digest = ?", (digest,)).fetchone()
        if row is None:
            return None
        try:
            return _decode(digest, str(row[0]))
        except (ValueError, KeyError, TypeError, ConfigError) as exc:
            logger.warning("ignoring unreadable cache entry for %s: %s", digest, exc)
            return None

    def store_manifest(self, record: ManifestRecord) -> None:
        """Remember what a manifest digest holds."""
        with self._lock:
            self._pending_manifests[record.digest] = record
            self._maybe_flush_locked()

    def flush(self) -> None:
        """Write pending entries to disk in one transaction."""
        with self._lock:
            self._flush_locked()

    def close(self) -> None:
        """Flush and close the database."""
        with self._lock:
            self._flush_locked()
            self._db.close()

    def __len__(self) -> int:
        with self._lock:
            self._flush_locked()
            (count,) = self._db.execute("SELECT COUNT(*) FROM manifests").fetchone()
        return int(count)

    def _maybe_flush_locked(self) -> None:
        if len(self._pending_tags) + len(self._pending_manifests) >= _FLUSH_THRESHOLD:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if not self._pending_tags and not self._pending_manifests:
            return
        now = time.time()
        tag_rows: Iterable[tuple[str, str, str, str, float]] = [
            (reg, repo, tag, digest, now) for (reg, repo, tag), digest in self._pending_tags.items()
        ]
        manifest_rows = [(d, _encode(r)) for d, r in self._pending_manifests.items()]
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT OR REPLACE INTO tags VALUES (?, ?, ?, ?, ?)", tag_rows)
            self._db.executemany("INSERT OR REPLACE INTO manifests VALUES (?, ?)", manifest_rows)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        self._pending_tags.clear()
        self._pending_manifests.clear()


def _encode(record: ManifestRecord) -> str:
    return json.dumps(
        {
            "kind": record.kind.value,
            "config": record.config_digest,
            "created": record.created.isoformat() if record.created else None,
            "platform": str(record.platform) if record.platform else None,
            "children": [[c.digest, str(c.platform) if c.platform else None] for c in record.children],
            "config_read": record.config_read,
            "annotated": record.annotated,
        },
        separators=(",", ":"),
    )


def _decode(digest: str, text: str) -> ManifestRecord:
    data = json.loads(text)
    return ManifestRecord(
        digest=digest,
        kind=ManifestKind(data["kind"]),
        config_digest=data.get("config"),
        created=parse_created(data.get("created")),
        platform=Platform.parse(data["platform"]) if data.get("platform") else None,
        children=tuple(IndexChild(d, Platform.parse(p) if p else None) for d, p in data.get("children", [])),
        config_read=bool(data.get("config_read")),
        # Entries written before annotations were read lack the key: their times came from configs.
        annotated=bool(data.get("annotated")),
    )
