"""The condition language, against the cases of Argo Rollouts' ``utils/evaluate/evaluate_test.go`` (v1.10.1)
and ``metricproviders/prometheus/prometheus_test.go``, plus the operators AnalysisTemplates use."""

from __future__ import annotations

import math
from typing import Any

import pytest

from ferry.analysis.expr import ExprError, compile_condition, evaluate_condition

NAN, INF = math.nan, math.inf


@pytest.mark.parametrize(
    ("result", "condition", "expected"),
    [
        # evaluate_test.go
        (True, "result == true", True),
        (True, "result == false", False),
        ([2.0, 2.0], "2 in result", True),
        (5.0, "result > 1", True),
        (
            {"service_apdex": {"label": None, "values": {"values": [2.0, 2.0]}}},
            "all(result.service_apdex.values.values, {# > 1})",
            True,
        ),
        ("1", "asInt(result) == 1", True),
        (1, "asInt(result) == 1", True),
        (1.123, "asInt(result) == 1", True),
        ("1.1", "asFloat(result) == 1.1", True),
        ("1.1", "asFloat(result) >= 1.1", True),
        ("1.1", "asFloat(result) <= 1.1", True),
        (1.1, "asFloat(result) == 1.1", True),
        (1, "asFloat(result) == 1", True),
        (1, "asFloat(result) >= 1", True),
        (None, "isNil(result)", True),
        (1.0, "isNil(result)", False),
        (None, "default(result, 0) == 0", True),
        (1.0, "default(result, 0) == 1", True),
        # prometheus_test.go: scalars, NaN, Inf, vectors, ranges
        (10.0, "result == 10", True),
        (10.0, "result != 10", False),
        (NAN, "result >= 0.9", False),
        (NAN, "result < 0.9", False),
        (NAN, "result >= 0.9 || isNaN(result)", True),
        (INF, "result >= 0.9", True),
        (INF, "isInf(result)", True),
        ([10.0, 11.0], "10 in result", True),
        ([10.0, 11.0], "len(result) != 2", False),
        ([10.0, 10.0, 10.0], "all(result, # > 10)", False),
        ([10.0, 10.0, 10.0], "all(result, # < 10)", False),
        ([11.0, 12.0], "all(result, # > 10)", True),
        # what analysis templates write
        ([0.97], "result[0] >= 0.95", True),
        ([0.9], "result[0] >= 0.95", False),
        ([0.9, 0.99], "result[-1] >= 0.95", True),
        ([], "len(result) == 0", True),
        ([0.5], "len(result) == 0 || result[0] < 0.8", True),
        ([0.97], "result[0] >= 0.95 && result[0] <= 1", True),
        ([0.97], "result[0] >= 0.95 and not (result[0] > 1)", True),
        ([0.97], "!(result[0] < 0.95)", True),
        ([3.0, 4.0], "sum(result) / len(result) == 3.5", True),
        ([3.0, 4.0], "max(result) - min(result) == 1", True),
        ([3.0, 4.0], "any(result, {# > 3.5})", True),
        ([3.0, 4.0], "none(result, {# > 5})", True),
        ([3.0, 4.0], "one(result, {# > 3})", True),
        ([3.0, 4.0, 5.0], "len(filter(result, # > 3)) == 2", True),
        ([3.0, 4.0], "count(result, # >= 3) == 2", True),
        ([3.0], "map(result, # * 2)[0] == 6", True),
        (2.0, "result ** 2 == 4 && -result == -2 && 7 % 3 == 1", True),
        (2.0, "2 ** 3 ** 2 == 512", True),  # right-associative, as in expr-lang
        (2.0, "1 + 2 * 3 == 7", True),
        (1.0, "result / 0 > 1000000", True),  # float division: +Inf, not an error
        ([1.0], "5 not in result", True),
        ("ok", "result == \"ok\" && result != 'no'", True),
        ({"a": {"b": 1}}, "result.a.b == 1 && result?.x == nil", True),
        (0.5, "result > 0.9 ? false : true", True),
        (0.5, "[1, 2, 3][1] == 2", True),
        (1_000.0, "result == 1_000 && result == 1e3", True),
    ],
)
def test_condition(result: Any, condition: str, expected: bool) -> None:
    assert evaluate_condition(condition, result) is expected


@pytest.mark.parametrize(
    ("result", "condition", "message"),
    [
        (True, "1", "expected bool, but got int"),
        (True, "invalidVariable", "unknown name invalidVariable"),
        (True, "a == true", "unknown name a"),
        (True, "result.Name() == 'hi'", "only named functions"),
        ("1.1", "asInt(result) == 1.1", 'parsing "1.1": invalid syntax'),
        ("NotANum", "asFloat(result) == 1.1", 'strconv.ParseFloat: parsing "NotANum": invalid syntax'),
        ("1.1", 'asFloat(result) == "1.1"', r"invalid operation: == (mismatched types float64 and string)"),
        ([], "result[0] >= 0.95", "index out of range: 0 (array length is 0)"),
        (None, "result[0] >= 0.95", "cannot fetch 0 from nil"),
        ([1.0], "result[0] >= ", "unexpected token"),
        ([1.0], "result[0] >= 0.95)", "unexpected token ')'"),
        ([1.0], "(result[0]", "expected ')'"),
        ([1.0], "result[0] @ 1", "unexpected character '@'"),
        ([1.0], "__import__('os')", "unknown func __import__"),
        ([1.0], "result.__class__ == 1", "type []interface {} has no field __class__"),
        ([1.0], "result[0] > 'a'", "mismatched types float64 and string"),
        ([1.0], "len(result) && true", "expected bool"),
        ([1.0], "#", "'#' is only valid inside a predicate"),
        ([1.0], "", "the condition is empty"),
        (1.0, "isNaN('x')", "isNaN() expects a number"),
    ],
)
def test_condition_errors(result: Any, condition: str, message: str) -> None:
    with pytest.raises(ExprError) as caught:
        evaluate_condition(condition, result)
    assert message in str(caught.value)


def test_a_compiled_condition_is_reused_across_results() -> None:
    node = compile_condition("result[0] >= 0.95")
    assert [node({"result": [v]}) for v in (0.94, 0.95, 0.99)] == [False, True, True]


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(ExprError):
        evaluate_condition("(" * 5000 + "true" + ")" * 5000, None)
