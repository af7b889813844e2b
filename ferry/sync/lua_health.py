"""Users' Lua health checks: Argo CD's ``resource.customizations.health.<group>_<kind>``.

Teams keep these in ``argocd-cm``; Ferry reads the same keys from ``ferry.yaml`` or
from the ``argocd-cm`` ConfigMap file it names (:func:`customizations_from_configmap`).
A script sees the live object as the global ``obj`` and returns a table
``{status = ..., message = ...}``, exactly as in Argo CD, and wins over every
built-in rule for its kind.

Scripts run in Lua 5.1 (the dialect of Argo CD's gopher-lua) through ``lupa``, each
call in a fresh interpreter:

* sandboxed: the base functions, ``table``, ``string``, ``math`` and an ``os`` with
  only ``time``, ``date`` and ``clock`` (Argo CD's safe ``os``); no ``io``, no file
  loading, no ``require``. ``useOpenLibs`` opens the standard libraries, as in Argo CD;
* bounded: :data:`TIME_LIMIT` seconds of CPU (Argo CD's one second) and
  :data:`MEMORY_LIMIT` bytes;
* a script error, a timeout, a return that is not a table or a status Argo CD does
  not know makes the resource ``Unknown`` with the error as its message.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import lupa.lua51 as lua
import yaml

from ferry.config import FerryConfig
from ferry.errors import ConfigError
from ferry.sync.model import Health, HealthStatus

PREFIX = "resource.customizations"
TIME_LIMIT = 1.0
MEMORY_LIMIT = 64 * 1024 * 1024
# Customization types Argo CD knows; only health ones mean something to Ferry, the others are accepted.
_TYPES = frozenset(
    {"health", "useOpenLibs", "actions", "ignoreDifferences", "ignoreResourceUpdates", "knownTypeFields"}
)
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})

# Compiles the user's chunk into a sandbox and runs it under a CPU-time hook. Runs in a fresh
# interpreter per call, so nothing a script does outlives it.
_RUNNER = """
function(source, obj, open_libs, limit)
  if string.byte(source, 1) == 27 then error("binary chunks are refused", 0) end
  local chunk, err = loadstring(source, "=health.lua")
  if not chunk then error(err, 0) end
  local function copy(t) local c = {} for k, v in pairs(t) do c[k] = v end return c end
  local env
  if open_libs then
    env = copy(_G)
    env.debug = copy(debug)
    env.debug.sethook = nil  -- the time bound stays in place
  else
    env = {}
    for _, name in ipairs({"assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber",
                           "tostring", "type", "unpack", "xpcall", "rawequal", "rawget", "rawset",
                           "setmetatable", "getmetatable"}) do
      env[name] = _G[name]
    end
    env.print = function() end
    env.table, env.string, env.math = copy(table), copy(string), copy(math)
    env.os = {time = os.time, date = os.date, clock = os.clock}
  end
  env._G = env
  env.obj = obj
  setfenv(chunk, env)
  local deadline = os.clock() + limit
  debug.sethook(function()
    if os.clock() > deadline then error("health check exceeded " .. limit .. " s", 0) end
  end, "", 1000)
  local ok, result = pcall(chunk)
  debug.sethook()
  if not ok then error(result, 0) end
  return result
end
"""


@dataclass(frozen=True, slots=True)
class LuaCheck:
    """One user script and whether it may use the standard libraries."""

    script: str
    use_open_libs: bool = False


def _override_key(group_kind: str, key: str) -> str:
    """``cert-manager.io_Certificate`` → ``cert-manager.io/Certificate``; ``Pod`` stays ``Pod``."""
    parts = group_kind.split("_")
    if len(parts) == 2:
        return f"{parts[0]}/{parts[1]}"
    if len(parts) == 1 and group_kind:
        return group_kind
    raise ConfigError("expected resource.customizations.<type>.<group>_<kind> or .<kind>", key=key)


def _bool(value: Any, key: str) -> bool:
    text = str(value).strip()
    if isinstance(value, bool):
        return value
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ConfigError(f"expected true or false, got {value!r}", key=key)


def parse_customizations(data: Mapping[str, Any], *, source: str | None = None) -> dict[str, LuaCheck]:
    """The health checks among ``argocd-cm``-style keys, by ``group/kind`` (``Kind`` for the core group).

    Both of Argo CD's forms are read: one key per customization
    (``resource.customizations.health.<group>_<kind>``) and the older single
    ``resource.customizations`` key holding YAML (``<group>/<kind>: {health.lua: ...}``).

    >>> checks = parse_customizations({"resource.customizations.health.example.com_Widget": "return nil",
    ...                                "resource.customizations.useOpenLibs.example.com_Widget": "true"})
    >>> checks["example.com/Widget"].use_open_libs
    True
    """
    scripts: dict[str, str] = {}
    open_libs: dict[str, bool] = {}
    for key, value in data.items():
        if key == PREFIX:
            _parse_legacy(value, scripts, open_libs, source)
            continue
        if not key.startswith(PREFIX):
            continue
        if not key.startswith(PREFIX + "."):
            raise ConfigError(
                f"unknown key {key!r}: did you mean {PREFIX}.<type>.<group>_<kind>?", source=source, key=key
            )
        parts = key.split(".", 3)
        if len(parts) < 4 or parts[2] not in _TYPES:
            raise ConfigError(f"unknown resource customization type in {key!r}", source=source, key=key)
        target = _override_key(parts[3], key)
        if target == "all":
            target = "*/*"
        if parts[2] == "health":
            scripts[target] = str(value)
        elif parts[2] == "useOpenLibs":
            open_libs[target] = _bool(value, key)
    return {k: LuaCheck(v, open_libs.get(k, False)) for k, v in scripts.items() if v.strip()}


def _parse_legacy(
    value: Any, scripts: dict[str, str], open_libs: dict[str, bool], source: str | None
) -> None:
    try:
        entries = yaml.safe_load(value) if isinstance(value, str) else value
    except yaml.YAMLError as exc:
        raise ConfigError(f"{PREFIX} does not parse as YAML: {exc}", source=source, key=PREFIX) from exc
    if not isinstance(entries, dict):
        raise ConfigError(f"{PREFIX} must map <group>/<kind> to customizations", source=source, key=PREFIX)
    for target, entry in entries.items():
        if isinstance(entry, dict) and entry.get("health.lua"):
            scripts[str(target)] = str(entry["health.lua"])
            open_libs[str(target)] = _bool(entry.get("health.lua.useOpenLibs", False), f"{PREFIX}.{target}")


def customizations_from_configmap(text: str, *, source: str) -> dict[str, LuaCheck]:
    """The health checks of an ``argocd-cm`` ConfigMap manifest."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"does not parse as YAML: {exc}", source=source) from exc
    if not isinstance(document, dict) or document.get("kind") != "ConfigMap":
        raise ConfigError("expected a ConfigMap (argocd-cm)", source=source)
    return parse_customizations(document.get("data") or {}, source=source)


def run_health_script(check: LuaCheck, obj: Mapping[str, Any]) -> Health | None:
    """Run one script on ``obj``: its verdict, None when it returns nothing, Unknown on any failure.

    >>> run_health_script(LuaCheck('return {status = "Degraded", message = obj.status.reason}'),
    ...                   {"status": {"reason": "broken"}})
    Health(status=<HealthStatus.DEGRADED: 'Degraded'>, message='broken')
    >>> run_health_script(LuaCheck("return obj.status.missing.field"), {"status": {}}).status.value
    'Unknown'
    """
    runtime = lua.LuaRuntime(register_eval=False, register_builtins=False, max_memory=MEMORY_LIMIT)
    try:
        runner = runtime.eval(_RUNNER)
        result = runner(
            check.script, runtime.table_from(dict(obj), recursive=True), check.use_open_libs, TIME_LIMIT
        )
    except lua.LuaMemoryError:
        return Health(HealthStatus.UNKNOWN, f"health check exceeded {MEMORY_LIMIT // (1024 * 1024)} MiB")
    except lua.LuaError as exc:
        return Health(HealthStatus.UNKNOWN, str(exc).split("\nstack traceback:", 1)[0])
    if result is None:
        return None
    if lua.lua_type(result) != "table":
        return Health(
            HealthStatus.UNKNOWN, f"expect table output from Lua script, not {_lua_type_name(result)}"
        )
    status, message = result["status"], result["message"]
    if status is None and message is None:
        return None
    try:
        code = HealthStatus(str(status))
    except ValueError:
        return Health(HealthStatus.UNKNOWN, "Lua returned an invalid health status")
    return Health(code, "" if message is None else str(message))


def _lua_type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str | bytes):
        return "string"
    return str(lua.lua_type(value) or type(value).__name__)


def load_health_checks(config: FerryConfig) -> LuaHealthChecks | None:
    """The checks of ``config``: its ``argocd_cm`` file's, then its own keys (which win); None when none."""
    checks: dict[str, LuaCheck] = {}
    path = config.argocd_cm_path
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"cannot read the argocd-cm file: {exc}", source=str(path), key="argocd_cm"
            ) from exc
        checks.update(customizations_from_configmap(text, source=str(path)))
    checks.update(parse_customizations(config.resource_customizations, source="ferry.yaml"))
    return LuaHealthChecks(checks) if checks else None


@dataclass(frozen=True, slots=True)
class LuaHealthChecks:
    """The users' checks, matched by ``group/kind`` (or ``Kind``), then by wildcard, as Argo CD does."""

    checks: Mapping[str, LuaCheck]

    def lookup(self, group: str, kind: str) -> LuaCheck | None:
        key = f"{group}/{kind}" if group else kind
        if key in self.checks:
            return self.checks[key]
        for pattern in sorted(self.checks):
            if any(c in pattern for c in "*?[") and fnmatch.fnmatchcase(key, pattern):
                return self.checks[pattern]
        return None

    def health(self, obj: Mapping[str, Any], group: str, kind: str) -> tuple[bool, Health | None]:
        """(whether a user check covers the kind, its verdict); a verdict of None means no health."""
        check = self.lookup(group, kind)
        return (False, None) if check is None else (True, run_health_script(check, obj))
