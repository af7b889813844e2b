"""Result storage whose files only their owner can read.

Tasks that Prefect must find again after a suspended run resumes persist their
results (``persist_result=True``). Prefect's ``LocalFileSystem`` writes them with the
process umask, usually 0644, so every local user could read what a sync returned.
This block writes each result file 0600 in a 0700 directory, and Ferry persists only
slim, masked values in it (``SyncResult.slim()``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

from prefect import Task
from prefect.filesystems import LocalFileSystem
from prefect.settings import PREFECT_LOCAL_STORAGE_PATH
from pydantic import Field

__all__ = ["PrivateLocalFileSystem", "private_results"]

T = TypeVar("T", bound=Task[Any, Any])


class PrivateLocalFileSystem(LocalFileSystem):
    """A local result store that writes every file 0600 (and creates directories 0700).

    Example:
        ```python
        @private_results
        @task(persist_result=True)
        def sync_once(...): ...
        ```
    """

    _block_type_name = "Ferry Private Local File System"
    _description = "Local result storage whose files are readable by their owner only (0600)."

    basepath: str | None = Field(
        default=None,
        title="Base path",
        description="Directory of the result files; empty means Prefect's PREFECT_LOCAL_STORAGE_PATH.",
    )

    def _resolve_path(self, path: str) -> Path:
        # The default follows the setting at call time, so a test's temporary setting applies.
        base = Path(self.basepath or str(PREFECT_LOCAL_STORAGE_PATH.value())).expanduser().resolve()
        if path is None:
            return base
        resolved = Path(path).expanduser()
        resolved = (resolved if resolved.is_absolute() else base / resolved).resolve()
        if resolved != base and base not in resolved.parents:
            raise ValueError(f"Provided path {resolved} is outside of the base path {base}.")
        return resolved

    def _write_private(self, path: str, content: bytes) -> str:
        target = self._resolve_path(path)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if target.exists() and not target.is_file():
            raise ValueError(f"Path {target} already exists and is not a file.")
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)  # a file left by an older run may be 0644
            handle.write(content)
        return str(target)

    async def awrite_path(self, path: str, content: bytes) -> str:
        """Write ``content`` to ``path`` (relative to the base path) as a 0600 file."""
        return self._write_private(path, content)

    def write_path(self, path: str, content: bytes, **_: Any) -> str:  # type: ignore[override]
        """Write ``content`` to ``path`` (relative to the base path) as a 0600 file."""
        return self._write_private(path, content)


def private_results(task: T) -> T:
    """Make ``task`` persist its result in a :class:`PrivateLocalFileSystem` (a decorator).

    ``@task(result_storage=...)`` refuses a block that is not saved on the server, so
    that remote task runners can find it; Ferry's tasks run in the flow's own process,
    and Prefect reads back what an unsaved local file system wrote (the record holds the
    absolute path). Setting the attribute after construction uses exactly that path.
    Do not ``with_options`` such a task: the copy would go through the same refusal.
    """
    task.result_storage = PrivateLocalFileSystem()
    return task
