"""Where the helm and kustomize binaries are: the pinned builds in the tool cache, else ``PATH``.

The sync engine and the image updater render with these tools; the sandbox
builds them. The cache directory and the two pins live here, outside the
sandbox, so that rendering never imports the code that builds clusters
(:mod:`ferry.sandbox.versions` takes its helm and kustomize pins from here).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

#: Overrides the cache directory (tests and CI images that pre-seed binaries).
BIN_DIR_ENV = "FERRY_BIN_DIR"

HELM_VERSION = "v4.3.1"
#: v5.8.3 needs go 1.27; v5.8.2 is the newest the local go1.26.8 builds.
KUSTOMIZE_VERSION = "v5.8.2"

_PINNED = {"helm": HELM_VERSION, "kustomize": KUSTOMIZE_VERSION}


def cache_dir(env: str, name: str) -> Path:
    """Return ``$<env>`` when set, else ``<$XDG_CACHE_HOME or ~/.cache>/ferry/<name>``."""
    configured = os.environ.get(env)
    if configured:
        return Path(configured).expanduser()
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_home) / "ferry" / name


def default_bin_dir() -> Path:
    """Return the binary cache: ``$FERRY_BIN_DIR`` or ``~/.cache/ferry/bin``."""
    return cache_dir(BIN_DIR_ENV, "bin")


@dataclass(frozen=True, slots=True)
class Tools:
    """Paths of the ``helm`` and ``kustomize`` binaries."""

    helm: Path
    kustomize: Path


def find_tools() -> Tools:
    """``$FERRY_HELM``/``$FERRY_KUSTOMIZE``, else the sandbox's built binaries, else ``PATH``."""

    def locate(name: str) -> Path:
        configured = os.environ.get(f"FERRY_{name.upper()}")
        if configured:
            return Path(configured)
        # The sandbox caches each build as <name>-<version>.
        built = default_bin_dir() / f"{name}-{_PINNED[name]}"
        if built.is_file():
            return built
        found = shutil.which(name)
        return Path(found) if found else built

    return Tools(helm=locate("helm"), kustomize=locate("kustomize"))
