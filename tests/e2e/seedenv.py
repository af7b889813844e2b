"""Builds the seed scenario on the real registry and a real bare repo, for the end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ferry.devenv.oci import OciPusher, push_image
from ferry.devenv.seed import IMAGES, SeedLayout, create_deploy_repo, write_seed
from tests.fixtures.registry import RunningRegistry

OLD_BUILD = datetime(2023, 7, 1, tzinfo=UTC)
NEW_BUILD = datetime(2023, 7, 19, 7, 35, tzinfo=UTC)
FERRY = [sys.executable, "-m", "ferry.cli"]


@dataclass
class SeedEnv:
    registry: RunningRegistry
    layout: SeedLayout
    bare: Path
    env: dict[str, str]

    def push(
        self, tag: str, created: datetime, images: tuple[str, ...] = ("echoserver", "webserver")
    ) -> None:
        for alias in images:
            push_image(self.registry.url, IMAGES[alias][0], tag, created=created, auth=self.registry.auth)

    def remove_tag(self, tag: str) -> None:
        """Make ``tag`` absent (the registry is shared by the session; deleting a manifest drops its tags)."""
        with OciPusher(self.registry.url, auth=self.registry.auth) as pusher:
            for alias in IMAGES:
                repository = IMAGES[alias][0]
                digest = pusher.push_image(repository, tag, created=datetime(2000, 1, 1, tzinfo=UTC))
                pusher.delete_manifest(repository, digest)

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", f"--git-dir={self.bare}", *args], check=True, capture_output=True, text=True
        ).stdout

    def show(self, path: str, rev: str = "main") -> str:
        return self.git("show", f"{rev}:{path}")

    def head(self) -> str:
        return self.git("rev-parse", "main").strip()

    def ferry(self, *args: str, cache: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = dict(self.env)
        if cache is not None:
            env["FERRY_CACHE_DIR"] = str(cache)
        return subprocess.run(
            [*FERRY, *args, "--config", str(self.layout.config)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )


def build_seed(root: Path, registry: RunningRegistry) -> SeedEnv:
    """Push ``v1.0`` of both images, create the deploy repo at ``v1.0`` and write the three Applications."""
    bare = root / "gitops-demo.git"
    url = create_deploy_repo(bare, registry.host)
    creds = "env:FERRY_TEST_REGISTRY_CREDS" if registry.auth else None
    layout = write_seed(
        root / "config",
        repo_url=url,
        registry_prefix=registry.host,
        registry_api=registry.url,
        registry_credentials=creds,
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    if registry.auth:
        env["FERRY_TEST_REGISTRY_CREDS"] = ":".join(registry.auth)
    seed = SeedEnv(registry, layout, bare, env)
    seed.push("v1.0", OLD_BUILD)
    return seed
