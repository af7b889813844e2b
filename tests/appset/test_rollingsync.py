"""RollingSync steps as waves, by Argo CD's progressive sync tests.

TestBuildAppDependencyList (applicationset/progressivesync/progressive_sync_test.go): which
Applications each step selects, the step of each, duplicate selections and empty steps; and the
maxUpdate cases of progressive_sync_dependencies_test.go (rounding down, at least one for > 0 %).
"""

from __future__ import annotations

from typing import Any

import pytest

from ferry.appset.rollingsync import RollingStep, parse_strategy, waves
from ferry.errors import ConfigError


def _steps(*steps: list[tuple[str, str, list[str]]]) -> tuple[RollingStep, ...]:
    raw = {
        "type": "RollingSync",
        "rollingSync": {
            "steps": [
                {"matchExpressions": [{"key": k, "operator": o, "values": v} for k, o, v in step]}
                for step in steps
            ]
        },
    }
    parsed = parse_strategy(raw, "spec.strategy")
    assert parsed is not None
    return parsed


Apps = list[tuple[str, dict[str, str]]]

# (name, steps, apps, expected list, expected step map (0-based, as Argo CD's test), empty steps (0-based))
CASES: list[tuple[str, tuple[RollingStep, ...], Apps, list[list[str]], dict[str, int], list[int]]] = [
    (
        "handles an empty set of applications with good 'In' selectors",
        _steps([("env", "In", ["dev"])]),
        [],
        [[]],
        {},
        [0],
    ),
    (
        "handles selecting 1 application with 1 'In' selector",
        _steps([("env", "In", ["dev"])]),
        [("app-dev", {"env": "dev"})],
        [["app-dev"]],
        {"app-dev": 0},
        [],
    ),
    (
        "handles 'In' selectors that select no applications",
        _steps([("env", "In", ["dev"])], [("env", "In", ["qa"])], [("env", "In", ["prod"])]),
        [("app-qa", {"env": "qa"}), ("app-prod", {"env": "prod"})],
        [[], ["app-qa"], ["app-prod"]],
        {"app-qa": 1, "app-prod": 2},
        [0],
    ),
    (
        "multiple 'In' selectors in the same matchExpression only select Applications that match all "
        "selectors",
        _steps([("region", "In", ["us-east-2"]), ("env", "In", ["qa"])]),
        [("app-qa1", {"env": "qa"}), ("app-qa2", {"env": "qa", "region": "us-east-2"})],
        [["app-qa2"]],
        {"app-qa2": 0},
        [],
    ),
    (
        "multiple values in the same 'In' matchExpression can match on any value",
        _steps([("env", "In", ["qa", "prod"])]),
        [
            ("app-dev", {"env": "dev"}),
            ("app-qa", {"env": "qa"}),
            ("app-prod", {"env": "prod", "region": "us-east-2"}),
        ],
        [["app-qa", "app-prod"]],
        {"app-qa": 0, "app-prod": 0},
        [],
    ),
    (
        "handles an empty set of applications with good 'NotIn' selectors",
        _steps([("env", "NotIn", ["dev"])]),
        [],
        [[]],
        {},
        [0],
    ),
    (
        "selects 1 application with 1 'NotIn' selector",
        _steps([("env", "NotIn", ["qa"])]),
        [("app-dev", {"env": "dev"})],
        [["app-dev"]],
        {"app-dev": 0},
        [],
    ),
    (
        "'NotIn' selectors that select no applications",
        _steps([("env", "NotIn", ["qa", "prod"])]),
        [("app-qa", {"env": "qa"}), ("app-prod", {"env": "prod"})],
        [[]],
        {},
        [0],
    ),
    (
        "multiple 'NotIn' selectors remove Applications with mising labels on any match",
        _steps([("region", "NotIn", ["us-east-2"]), ("env", "NotIn", ["qa"])]),
        [("app-qa1", {"env": "qa"}), ("app-qa2", {"env": "qa", "region": "us-east-2"})],
        [[]],
        {},
        [0],
    ),
    (
        "multiple 'NotIn' selectors filter all matching Applications",
        _steps([("region", "NotIn", ["us-east-2"]), ("env", "NotIn", ["qa"])]),
        [
            ("app-qa1", {"env": "qa", "region": "us-east-1"}),
            ("app-qa2", {"env": "qa", "region": "us-east-2"}),
            ("app-prod1", {"env": "prod", "region": "us-east-1"}),
            ("app-prod2", {"env": "prod", "region": "us-east-2"}),
        ],
        [["app-prod1"]],
        {"app-prod1": 0},
        [],
    ),
    (
        "multiple values in the same 'NotIn' matchExpression exclude a match from any value",
        _steps([("env", "NotIn", ["qa", "prod"])]),
        [
            ("app-dev", {"env": "dev"}),
            ("app-qa", {"env": "qa"}),
            ("app-prod", {"env": "prod", "region": "us-east-2"}),
        ],
        [["app-dev"]],
        {"app-dev": 0},
        [],
    ),
    (
        "in a mix of 'In' and 'NotIn' selectors, 'NotIn' takes precedence",
        _steps([("env", "In", ["qa", "prod"]), ("region", "NotIn", ["us-west-2"])]),
        [
            ("app-dev", {"env": "dev"}),
            ("app-qa1", {"env": "qa", "region": "us-west-2"}),
            ("app-qa2", {"env": "qa", "region": "us-east-2"}),
        ],
        [["app-qa2"]],
        {"app-qa2": 0},
        [],
    ),
    (
        "app selected in multiple steps is captured as validation issue",
        _steps([("env", "In", ["dev"])], [("region", "In", ["us-west-2"])]),
        [("app-dev", {"env": "dev", "region": "us-west-2"}), ("app-qa", {"region": "us-west-2"})],
        [["app-dev"], ["app-dev", "app-qa"]],
        {"app-dev": 0, "app-qa": 1},
        [],
    ),
]


@pytest.mark.parametrize(
    ("name", "steps", "apps", "expected", "step_map", "empty"), CASES, ids=[c[0] for c in CASES]
)
def test_build_app_dependency_list(
    name: str,
    steps: tuple[RollingStep, ...],
    apps: Apps,
    expected: list[list[str]],
    step_map: dict[str, int],
    empty: list[int],
) -> None:
    plan = waves(steps, apps)
    assert [list(s) for s in plan.selections] == expected
    assert {app: plan.step_of(app) - 1 for app, _ in apps if plan.step_of(app) != -1} == step_map
    assert list(plan.empty_steps) == [i + 1 for i in empty]
    # Every Application is in exactly one wave, or in none: Argo CD's step -1, never synced by the steps.
    assert sorted(plan.unselected) == sorted(app for app, _ in apps if app not in step_map)


def test_a_duplicate_selection_goes_to_the_first_step_and_is_reported() -> None:
    plan = waves(_steps([("env", "In", ["dev"])], [("region", "In", ["us-west-2"])]), CASES[-1][2])
    assert [w.applications for w in plan.waves] == [("app-dev",), ("app-qa",)]
    assert plan.duplicates == {"app-dev": (1, 2)}


def test_not_in_selects_an_application_without_the_label() -> None:
    # labelMatchedExpression is only asked when the label exists; a missing key fails In alone.
    plan = waves(_steps([("env", "NotIn", ["prod"])]), [("unlabelled", {}), ("prod", {"env": "prod"})])
    assert plan.waves[0].applications == ("unlabelled",)


def test_unselected_applications_are_in_no_wave() -> None:
    plan = waves(_steps([("env", "In", ["dev"])]), [("a", {"env": "dev"}), ("b", {"env": "prod"}), ("c", {})])
    assert plan.unselected == ("b", "c")
    assert plan.step_of("b") == -1


def _step(max_update: Any) -> dict[str, Any]:
    return {
        "type": "RollingSync",
        "rollingSync": {"steps": [{"matchExpressions": [], "maxUpdate": max_update}]},
    }


@pytest.mark.parametrize(
    ("max_update", "apps", "parallel"),
    [
        (3, 4, 3),  # "does not update a status if maxUpdate has already been reached": 3 at a time
        ("50%", 3, 1),  # "rounds down for maxUpdate set to percentage string"
        ("100%", 3, 3),  # "updates all applications with maxUpdate set to 100%"
        ("1%", 3, 1),  # "updates at least 1 application with maxUpdate >0%"
        (None, 5, 5),  # unset: 100 %
    ],
)
def test_max_update(max_update: Any, apps: int, parallel: int) -> None:
    steps = parse_strategy(_step(max_update), "spec.strategy")
    assert steps is not None
    plan = waves(steps, [(f"app{i}", {}) for i in range(apps)])
    assert plan.waves[0].max_parallel == parallel
    assert len(plan.waves[0].applications) == apps  # an empty matchExpressions selects every Application


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_step(0), r"steps\[0\]\.maxUpdate must be at least 1"),
        (_step("0%"), r"'0%' lets no Application"),
        (_step("ten"), "neither an integer nor a percentage"),
        (
            {
                "type": "RollingSync",
                "rollingSync": {"steps": [{"matchExpressions": [{"key": "env", "operator": "Invalid"}]}]},
            },
            r"steps\[0\]\.matchExpressions\[0\]\.operator 'Invalid' is invalid: "
            r"supported operators are 'In' and 'NotIn'",
        ),
        ({"type": "Canary"}, "neither AllAtOnce nor RollingSync"),
    ],
    ids=["maxUpdate 0", "maxUpdate 0%", "maxUpdate word", "invalid operator", "unknown type"],
)
def test_invalid_steps_are_refused_naming_the_field(raw: dict[str, Any], message: str) -> None:
    # Argo CD records these as conditions ("Invalid Operator in MatchExpression is captured as
    # validationIssue", "does not update any applications with maxUpdate set to 0"); Ferry refuses them.
    with pytest.raises(ConfigError, match=message):
        parse_strategy(raw, "spec.strategy")


def test_all_at_once_has_no_waves() -> None:
    # "handles an empty set of applications and ignores AllAtOnce strategy"
    assert parse_strategy({"type": "AllAtOnce"}, "spec.strategy") is None
    assert parse_strategy(None, "spec.strategy") is None
