"""OCI registry adapter: tags, manifests and config blobs over the Distribution API, cached on disk.

Public entry points: :class:`RegistryClient` and :class:`MetadataCache`.
"""

from ferry.registry.cache import MetadataCache, default_cache_dir
from ferry.registry.client import RegistryClient
from ferry.registry.model import ManifestKind, ManifestRecord

__all__ = ["ManifestKind", "ManifestRecord", "MetadataCache", "RegistryClient", "default_cache_dir"]
