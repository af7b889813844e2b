"""Users' Lua health checks (argocd-cm ``resource.customizations.health.*``), run sandboxed in lupa."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ferry.config import parse_config
from ferry.errors import ConfigError
from ferry.sync import lua_health
from ferry.sync.health import resource_health
from ferry.sync.lua_health import (
    LuaCheck,
    LuaHealthChecks,
    customizations_from_configmap,
    load_health_checks,
    parse_customizations,
    run_health_script,
)
from ferry.sync.model import Health, HealthStatus

H = HealthStatus

# A check a team might keep for its own CRD: ready when the controller says so, broken on an error.
WIDGET_CHECK = """
hs = {status = "Progressing", message = "Waiting for the widget controller"}
if obj.status ~= nil then
  if obj.status.error ~= nil then
    hs.status = "Degraded"
    hs.message = "widget failed: " .. obj.status.error
  elseif obj.status.ready == true and obj.status.replicas == #obj.spec.parts then
    hs.status = "Healthy"
    hs.message = string.format("%d parts ready", obj.status.replicas)
  end
end
return hs
"""


def widget(status: dict[str, Any] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "generation": 1},
        "spec": {"parts": ["a", "b"]},
    }
    if status is not None:
        obj["status"] = status
    return obj


CHECKS = LuaHealthChecks(
    parse_customizations({"resource.customizations.health.example.com_Widget": WIDGET_CHECK})
)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (None, Health(H.PROGRESSING, "Waiting for the widget controller")),
        ({"ready": False, "replicas": 0}, Health(H.PROGRESSING, "Waiting for the widget controller")),
        ({"ready": True, "replicas": 2}, Health(H.HEALTHY, "2 parts ready")),
        ({"ready": True, "error": "disk full"}, Health(H.DEGRADED, "widget failed: disk full")),
    ],
    ids=["no status", "not ready", "ready", "error"],
)
def test_a_crd_kind_gets_its_health_from_the_users_script(
    status: dict[str, Any] | None, expected: Health
) -> None:
    assert resource_health(widget(status)) is None, "no built-in rule for the CRD"
    assert resource_health(widget(status), overrides=CHECKS) == expected


def test_a_user_check_overrides_a_built_in_rule() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": 1},
        "spec": {"replicas": 1},
        "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1},
    }
    assert resource_health(deployment) == Health(H.HEALTHY)
    custom = LuaHealthChecks(
        parse_customizations(
            {
                "resource.customizations.health.apps_Deployment": (
                    'return {status = "Suspended", message = "held by ops"}'
                )
            }
        )
    )
    assert resource_health(deployment, overrides=custom) == Health(H.SUSPENDED, "held by ops")
    # A script returning nothing leaves the resource without health; the built-in rule is not consulted.
    silent = LuaHealthChecks(
        parse_customizations({"resource.customizations.health.apps_Deployment": "return nil"})
    )
    assert resource_health(deployment, overrides=silent) is None


def test_core_kinds_and_wildcards_match_as_in_argo_cd() -> None:
    checks = LuaHealthChecks(
        parse_customizations(
            {
                "resource.customizations.health.ConfigMap": 'return {status = "Healthy", message = "cm"}',
                "resource.customizations.health.*.example.com_*": (
                    'return {status = "Degraded", message = "wild"}'
                ),
            }
        )
    )
    assert resource_health({"apiVersion": "v1", "kind": "ConfigMap"}, overrides=checks) == Health(
        H.HEALTHY, "cm"
    )
    gadget = {"apiVersion": "team.example.com/v1", "kind": "Gadget"}
    assert resource_health(gadget, overrides=checks) == Health(H.DEGRADED, "wild")
    assert resource_health({"apiVersion": "other.io/v1", "kind": "Gadget"}, overrides=checks) is None


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("return obj.status.missing.field", "attempt to index field 'missing' (a nil value)"),
        ("error('my own error')", "my own error"),
        ('return {status = "Fine"}', "Lua returned an invalid health status"),
        ('return "Healthy"', "expect table output from Lua script, not string"),
        ("return {status = ", "'<eof>'"),
        ("os.execute('touch /tmp/ferry-lua-escaped')", "attempt to call field 'execute' (a nil value)"),
        ("return io.open('/etc/passwd')", "attempt to index global 'io' (a nil value)"),
        ("return dofile('/etc/passwd')", "attempt to call global 'dofile' (a nil value)"),
        ("return require('os')", "attempt to call global 'require' (a nil value)"),
    ],
    ids=[
        "nil index",
        "error()",
        "bad status",
        "not a table",
        "syntax",
        "no os.execute",
        "no io",
        "no dofile",
        "no require",
    ],
)
def test_a_failing_script_makes_the_resource_unknown_with_the_error(script: str, message: str) -> None:
    health = run_health_script(LuaCheck(script), widget({}))
    assert health is not None
    assert health.status is H.UNKNOWN
    assert message in health.message
    assert not Path("/tmp/ferry-lua-escaped").exists()


def test_use_open_libs_opens_the_standard_libraries() -> None:
    script = 'return {status = (io ~= nil and os.getenv ~= nil) and "Healthy" or "Degraded"}'
    assert run_health_script(LuaCheck(script), widget()) == Health(H.DEGRADED)
    assert run_health_script(LuaCheck(script, use_open_libs=True), widget()) == Health(H.HEALTHY)
    # Even with the libraries open, the time bound cannot be switched off.
    escape = "debug.sethook() while true do end"
    health = run_health_script(LuaCheck(escape, use_open_libs=True), widget())
    assert health is not None and health.status is H.UNKNOWN


def test_scripts_are_bounded_in_time_and_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lua_health, "TIME_LIMIT", 0.2)
    monkeypatch.setattr(lua_health, "MEMORY_LIMIT", 8 * 1024 * 1024)
    spin = run_health_script(LuaCheck("while true do end"), widget())
    assert spin == Health(H.UNKNOWN, "health check exceeded 0.2 s")
    hog = run_health_script(LuaCheck("local t = {} for i = 1, 1e8 do t[i] = {i} end"), widget())
    assert hog == Health(H.UNKNOWN, "health check exceeded 8 MiB")


def test_a_binary_chunk_is_refused() -> None:
    health = run_health_script(LuaCheck("\x1bLua\x51\x00"), widget())
    assert health == Health(H.UNKNOWN, "binary chunks are refused")


def test_state_does_not_leak_between_runs() -> None:
    first = run_health_script(LuaCheck('leaked = "x" return {status = "Healthy"}'), widget())
    second = run_health_script(LuaCheck('return {status = leaked and "Degraded" or "Healthy"}'), widget())
    assert first == second == Health(H.HEALTHY)


MINE = 'return {status = "Degraded", message = "mine"}'


def test_argocd_cm_file_and_ferry_yaml_keys(tmp_path: Path) -> None:
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-cm", "namespace": "argocd"},
        "data": {
            "url": "https://argo.example.com",
            "resource.customizations.health.example.com_Widget": WIDGET_CHECK,
            "resource.customizations.useOpenLibs.example.com_Widget": "true",
            "resource.customizations.ignoreDifferences.apps_Deployment": "jsonPointers: [/spec/replicas]",
            "resource.customizations": yaml.safe_dump(
                {"example.com/Gizmo": {"health.lua": 'return {status = "Healthy", message = "legacy"}'}}
            ),
        },
    }
    (tmp_path / "argocd-cm.yaml").write_text(yaml.safe_dump(configmap))
    config = parse_config(
        {
            "argocd_cm": "argocd-cm.yaml",
            "resource.customizations.health.example.com_Gizmo": MINE,
            "resource.customizations.useOpenLibs.example.com_Gizmo": True,
        },
        source="ferry.yaml",
        base_dir=tmp_path,
    )
    checks = load_health_checks(config)
    assert checks is not None
    assert checks.checks["example.com/Widget"] == LuaCheck(WIDGET_CHECK, use_open_libs=True)
    # ferry.yaml's own key wins over the ConfigMap's.
    assert checks.checks["example.com/Gizmo"] == LuaCheck(MINE, use_open_libs=True)
    assert customizations_from_configmap(yaml.safe_dump(configmap), source="cm")["example.com/Gizmo"].script


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"resource.customizations.colour.apps_Deployment": "x"}, "unknown resource customization type"),
        ({"resource.customizations.health.a_b_c": "x"}, "<group>_<kind>"),
        ({"resource.customizations.useOpenLibs.apps_Deployment": "maybe"}, "expected true or false"),
        ({"resource.customizationsx.health.Pod": "x"}, "did you mean"),
    ],
)
def test_bad_keys_are_errors_naming_the_key(data: dict[str, str], error: str) -> None:
    with pytest.raises(ConfigError, match=error) as caught:
        parse_customizations(data, source="argocd-cm.yaml")
    assert next(iter(data)) in str(caught.value)


def test_a_missing_argocd_cm_file_is_an_error_naming_it(tmp_path: Path) -> None:
    config = parse_config({"argocd_cm": "nowhere.yaml"}, source="ferry.yaml", base_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"nowhere\.yaml"):
        load_health_checks(config)
