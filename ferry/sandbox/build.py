"""Build the pinned Go tools once and cache them under ``~/.cache/ferry/bin``.

Each binary lands at ``<bin_dir>/<name>-<version>``; an existing file is reused
as is, so a warm run costs a few ``stat`` calls. A binary is written to a
temporary name and renamed into place, so an interrupted build never leaves a
truncated file that later runs would trust.

Builds run one at a time: the control plane links multi-hundred-megabyte
binaries, and on a two-core machine parallel links only thrash.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from ferry.errors import ToolError
from ferry.sandbox.versions import (
    ARGO_ROLLOUTS_CRD_FILES,
    ARGO_ROLLOUTS_VERSION,
    KWOK_STAGE_FILES,
    KWOK_VERSION,
    TOOLS,
    TOOLS_BY_NAME,
    GoTool,
)
from ferry.tools import default_bin_dir

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BuildOutcome:
    """What :func:`ensure_binaries` did for one tool.

    Attributes:
        name: Tool name, e.g. ``kube-apiserver``.
        version: The pinned version.
        path: The cached binary.
        built: ``True`` when it was compiled in this call, ``False`` when reused.
        seconds: Wall time spent on this tool.
    """

    name: str
    version: str
    path: Path
    built: bool
    seconds: float


def binary_path(name: str, bin_dir: Path | None = None) -> Path:
    """Return where the pinned binary ``name`` is (or would be) cached.

    Raises:
        ToolError: ``name`` is not a tool the sandbox knows.
    """
    tool = _tool(name)
    return (bin_dir or default_bin_dir()) / tool.file_name


def kwok_stages_path(bin_dir: Path | None = None) -> Path:
    """Return the cached file of kwok's default stages, which kwok reads with ``--config``."""
    return (bin_dir or default_bin_dir()) / f"kwok-stages-{KWOK_VERSION}.yaml"


def argo_rollouts_crds_path(bin_dir: Path | None = None) -> Path:
    """Return the cached CRDs of the pinned Argo Rollouts (a JSON list), exported from its module at build."""
    return (bin_dir or default_bin_dir()) / f"rollouts-crds-{ARGO_ROLLOUTS_VERSION}.json"


def require_binaries(names: Iterable[str], bin_dir: Path | None = None) -> dict[str, Path]:
    """Return the cached binaries for ``names``, without building anything.

    Raises:
        ToolError: One or more are missing; the message lists them all and
            says how to build them, because callers (the test fixtures above
            all) must fail loudly instead of skipping.
    """
    found = {name: binary_path(name, bin_dir) for name in names}
    missing = [f"{name} ({path})" for name, path in found.items() if not _is_executable(path)]
    if "kwok" in found and not kwok_stages_path(bin_dir).is_file():
        missing.append(f"kwok stages ({kwok_stages_path(bin_dir)})")
    if "rollouts-controller" in found and not argo_rollouts_crds_path(bin_dir).is_file():
        missing.append(f"Argo Rollouts CRDs ({argo_rollouts_crds_path(bin_dir)})")
    if missing:
        raise ToolError(
            "sandbox binaries are not built: "
            + ", ".join(missing)
            + ". Run `ferry sandbox build` (or scripts/bootstrap.sh) first."
        )
    return found


def ensure_binaries(
    names: Sequence[str] | None = None,
    *,
    bin_dir: Path | None = None,
    force: bool = False,
) -> list[BuildOutcome]:
    """Build every missing pinned tool (or those in ``names``) and report each one.

    Args:
        names: Tools to ensure; all of :data:`~ferry.sandbox.versions.TOOLS` when ``None``.
        bin_dir: Cache directory; :func:`default_bin_dir` when ``None``.
        force: Rebuild even when the cached binary exists.

    Returns:
        One outcome per tool, in build order.

    Raises:
        ToolError: ``go`` is missing or a build failed (the message carries the
            tail of the compiler output).
    """
    target_dir = bin_dir or default_bin_dir()
    wanted = [_tool(name) for name in names] if names is not None else list(TOOLS)
    outcomes: list[BuildOutcome] = []
    for tool in wanted:
        path = target_dir / tool.file_name
        started = time.monotonic()
        if tool.name == "kwok" and (force or not kwok_stages_path(target_dir).is_file()):
            _export_kwok_stages(kwok_stages_path(target_dir))
        crds = argo_rollouts_crds_path(target_dir)
        if tool.name == "rollouts-controller" and (force or not crds.is_file()):
            _export_argo_rollouts_crds(crds)
        if _is_executable(path) and not force:
            outcomes.append(BuildOutcome(tool.name, tool.version, path, False, time.monotonic() - started))
            continue
        logger.info("building %s %s (this takes minutes on a cold cache)", tool.name, tool.version)
        _build(tool, path)
        elapsed = time.monotonic() - started
        logger.info("built %s %s in %.0f s", tool.name, tool.version, elapsed)
        outcomes.append(BuildOutcome(tool.name, tool.version, path, True, elapsed))
    return outcomes


def go_environment() -> dict[str, str]:
    """Environment for ``go``: the local toolchain only, reproducible, static binaries.

    ``GOTOOLCHAIN=local`` stops go from fetching a newer toolchain when a
    module asks for one: a pin that needs a newer Go must fail here, visibly.
    """
    env = dict(os.environ)
    env["GOTOOLCHAIN"] = "local"
    env["GOFLAGS"] = "-trimpath -buildvcs=false"
    env["CGO_ENABLED"] = "0"
    return env


def _build(tool: GoTool, destination: Path) -> None:
    go = shutil.which("go")
    if go is None:
        raise ToolError(f"cannot build {tool.name}: the `go` command is not on PATH")
    destination.parent.mkdir(parents=True, exist_ok=True)
    ldflags = " ".join(("-s", "-w", *tool.ldflags))
    with tempfile.TemporaryDirectory(prefix=f"ferry-build-{tool.name}-", dir=destination.parent) as scratch:
        scratch_dir = Path(scratch)
        env = go_environment()
        if tool.module_dir is not None:
            # Inside our tools module: its go.mod carries the replace lines and go.sum.
            output = scratch_dir / tool.name
            command = [go, "build", f"-ldflags={ldflags}", "-o", str(output), tool.package]
            cwd = tool.module_dir
        else:
            # Self-contained module: `go install pkg@version` honours its own go.mod.
            env["GOBIN"] = str(scratch_dir)
            command = [go, "install", f"-ldflags={ldflags}", f"{tool.package}@{tool.version}"]
            cwd = scratch_dir
            output = scratch_dir / Path(tool.package).name
            if output.name.startswith("v") and output.name[1:].isdigit():
                # A major-version suffix (…/kustomize/v5) is not the binary's name.
                output = scratch_dir / Path(tool.package).parent.name
        result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not output.exists():
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-30:])
            raise ToolError(
                f"building {tool.name} {tool.version} failed (exit {result.returncode}): "
                f"{' '.join(command)}\n{tail}"
            )
        output.chmod(0o755)
        os.replace(output, destination)


def _module_dir(module: str) -> Path:
    """Download ``module@version`` into the Go module cache (a no-op when it is there); return its dir."""
    go = shutil.which("go")
    if go is None:
        raise ToolError(f"cannot fetch {module}: the `go` command is not on PATH")
    result = subprocess.run(
        [go, "mod", "download", "-json", module],
        env=go_environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return Path(json.loads(result.stdout)["Dir"])
    except (ValueError, KeyError) as exc:
        raise ToolError(f"go mod download {module} failed: {result.stdout}{result.stderr}") from exc


def _write_atomically(destination: Path, text: str) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = destination.with_name(f".{destination.name}.tmp")
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, destination)


def _export_kwok_stages(destination: Path) -> None:
    """Concatenate kwok's default Stage manifests from the module cache into one config file."""
    module_dir = _module_dir(f"sigs.k8s.io/kwok@{KWOK_VERSION}")
    documents = []
    for relative in KWOK_STAGE_FILES:
        try:
            documents.append((module_dir / relative).read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise ToolError(f"kwok {KWOK_VERSION} has no stage file {relative}") from exc
    _write_atomically(destination, "\n---\n".join(documents) + "\n")


def _export_argo_rollouts_crds(destination: Path) -> None:
    """Export the CRDs of the pinned Argo Rollouts module (``manifests/crds``) as one JSON list.

    They are the controller's own, generated from its Go types, not a copy
    kept in this repository; JSON because the five of them are 3 MB of YAML
    that would take seconds to parse at every ``sandbox up``.
    """
    module_dir = _module_dir(f"github.com/argoproj/argo-rollouts@{ARGO_ROLLOUTS_VERSION}")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    crds = []
    for relative in ARGO_ROLLOUTS_CRD_FILES:
        try:
            text = (module_dir / relative).read_text(encoding="utf-8")
        except OSError as exc:
            raise ToolError(f"Argo Rollouts {ARGO_ROLLOUTS_VERSION} has no CRD file {relative}") from exc
        crd = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader, chosen above
        if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
            raise ToolError(f"{relative} in Argo Rollouts {ARGO_ROLLOUTS_VERSION} is not a CRD")
        crds.append(crd)
    _write_atomically(destination, json.dumps(crds))


def _tool(name: str) -> GoTool:
    try:
        return TOOLS_BY_NAME[name]
    except KeyError:
        known = ", ".join(TOOLS_BY_NAME)
        raise ToolError(f"unknown sandbox tool {name!r}; known tools: {known}") from None


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
