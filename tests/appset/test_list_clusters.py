"""The list and clusters generators, by Argo CD's list_test.go and cluster_test.go."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ferry.appset.generators import Cluster, Context, generate
from ferry.appset.model import parse_generator
from ferry.appset.render import Language, render_string
from ferry.errors import ConfigError
from tests.appset.helpers import PRODUCTION, STAGING, params_of, unordered

# TestGenerateListParams / TestGenerateListParamsGoTemplate
LIST_CASES: list[tuple[bool, dict[str, Any], dict[str, Any]]] = [
    (False, {"cluster": "cluster", "url": "url"}, {"cluster": "cluster", "url": "url"}),
    (
        False,
        {"cluster": "cluster", "url": "url", "values": {"foo": "bar"}},
        {"cluster": "cluster", "url": "url", "values.foo": "bar"},
    ),
    (True, {"cluster": "cluster", "url": "url"}, {"cluster": "cluster", "url": "url"}),
    (
        True,
        {"cluster": "cluster", "url": "url", "values": {"foo": "bar"}},
        {"cluster": "cluster", "url": "url", "values": {"foo": "bar"}},
    ),
]


@pytest.mark.parametrize(("go", "element", "expected"), LIST_CASES)
def test_list_generator(go: bool, element: dict[str, Any], expected: dict[str, Any]) -> None:
    assert params_of({"list": {"elements": [element]}}, go=go) == [expected]


def test_list_elements_yaml_follow_the_elements() -> None:
    raw = {"list": {"elements": [{"a": "1"}], "elementsYaml": "- a: '2'\n- a: '3'\n"}}
    assert params_of(raw, go=True) == [{"a": "1"}, {"a": "2"}, {"a": "3"}]


def test_list_without_go_template_needs_strings() -> None:
    with pytest.raises(
        ConfigError, match=r"spec\.generators\[0\]\.list\.elements\[0\]\.n: error parsing value as string"
    ):
        params_of({"list": {"elements": [{"n": 3}]}})


LOCAL = {
    "name": "in-cluster",
    "nameNormalized": "in-cluster",
    "server": "https://kubernetes.default.svc",
    "project": "",
}


def _flat(cluster: Cluster) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": cluster.name,
        "nameNormalized": {"staging-01": "staging-01"}.get(cluster.name, "production-01-west"),
        "server": cluster.server,
        "project": cluster.project,
    }
    out.update({f"metadata.labels.{k}": v for k, v in cluster.labels.items()})
    out.update({f"metadata.annotations.{k}": v for k, v in cluster.annotations.items()})
    return out


VALUES = {
    "lol1": "lol",
    "lol2": "{{values.lol1}}{{values.lol1}}",
    "lol3": "{{values.lol2}}{{values.lol2}}{{values.lol2}}",
    "foo": "bar",
    "bar": "{{ metadata.annotations.foo.argoproj.io }}",
    "bat": "{{ metadata.labels.environment }}",
    "aaa": "{{ server }}",
    "no-op": "{{ this-does-not-exist }}",
}


def _with_values(base: dict[str, Any], **values: str) -> dict[str, Any]:
    return {**base, **{f"values.{k}": v for k, v in values.items()}}


def _all_values(base: dict[str, Any], env: str, annotation: str, server: str) -> dict[str, Any]:
    return _with_values(
        base,
        lol1="lol",
        lol2="{{values.lol1}}{{values.lol1}}",
        lol3="{{values.lol2}}{{values.lol2}}{{values.lol2}}",
        foo="bar",
        bar=annotation,
        bat=env,
        aaa=server,
        **{"no-op": "{{ this-does-not-exist }}"},
    )


# TestGenerateParams (fasttemplate): (name, selector, values, expected)
CLUSTER_CASES: list[tuple[str, dict[str, Any], dict[str, str], list[dict[str, Any]]]] = [
    (
        "no label selector",
        {},
        VALUES,
        [
            _all_values(
                LOCAL,
                "{{ metadata.labels.environment }}",
                "{{ metadata.annotations.foo.argoproj.io }}",
                LOCAL["server"],
            ),
            _all_values(_flat(PRODUCTION), "production", "production", PRODUCTION.server),
            _all_values(_flat(STAGING), "staging", "staging", STAGING.server),
        ],
    ),
    (
        "secret type label selector",
        {"matchLabels": {"argocd.argoproj.io/secret-type": "cluster"}},
        {},
        [_flat(PRODUCTION), _flat(STAGING)],
    ),
    (
        "production-only",
        {"matchLabels": {"environment": "production"}},
        {"foo": "bar"},
        [_with_values(_flat(PRODUCTION), foo="bar")],
    ),
    (
        "production or staging",
        {"matchExpressions": [{"key": "environment", "operator": "In", "values": ["production", "staging"]}]},
        {"foo": "bar"},
        [_with_values(_flat(STAGING), foo="bar"), _with_values(_flat(PRODUCTION), foo="bar")],
    ),
    (
        "production or staging with match labels",
        {
            "matchExpressions": [
                {"key": "environment", "operator": "In", "values": ["production", "staging"]}
            ],
            "matchLabels": {"org": "foo"},
        },
        {"name": "baz"},
        [_with_values(_flat(STAGING), name="baz")],
    ),
]


@pytest.mark.parametrize(
    ("name", "selector", "values", "expected"), CLUSTER_CASES, ids=[c[0] for c in CLUSTER_CASES]
)
def test_clusters_generator(
    name: str, selector: dict[str, Any], values: dict[str, str], expected: list[dict[str, Any]]
) -> None:
    got = params_of({"clusters": {"selector": selector, "values": values}}, clusters=(STAGING, PRODUCTION))
    assert unordered(got) == unordered(expected)


def test_clusters_flat_list_nests_them_under_clusters() -> None:
    # "production or staging with flat mode"
    selector = {
        "matchExpressions": [{"key": "environment", "operator": "In", "values": ["production", "staging"]}]
    }
    got = params_of(
        {"clusters": {"selector": selector, "values": {"foo": "bar"}, "flatList": True}},
        clusters=(STAGING, PRODUCTION),
    )
    assert len(got) == 1
    assert unordered(got[0]["clusters"]) == unordered(
        [_with_values(_flat(PRODUCTION), foo="bar"), _with_values(_flat(STAGING), foo="bar")]
    )


GO_VALUES = {
    "lol1": "lol",
    "lol2": "{{ .values.lol1 }}{{ .values.lol1 }}",
    "lol3": "{{ .values.lol2 }}{{ .values.lol2 }}{{ .values.lol2 }}",
    "foo": "bar",
    "bar": '{{ if not (empty .metadata) }}{{index .metadata.annotations "foo.argoproj.io" }}{{ end }}',
    "bat": "{{ if not (empty .metadata) }}{{.metadata.labels.environment}}{{ end }}",
    "aaa": "{{ .server }}",
    "no-op": "{{ .thisDoesNotExist }}",
}


def _go(cluster: Cluster, env: str, server: str) -> dict[str, Any]:
    return {
        "name": cluster.name,
        "nameNormalized": "staging-01" if cluster is STAGING else "production-01-west",
        "server": server,
        "project": "",
        "metadata": {"labels": dict(cluster.labels), "annotations": dict(cluster.annotations)},
        "values": {
            "lol1": "lol",
            "lol2": "<no value><no value>",
            "lol3": "<no value><no value><no value>",
            "foo": "bar",
            "bar": env,
            "bat": env,
            "aaa": server,
            "no-op": "<no value>",
        },
    }


def test_clusters_generator_go_template_no_label_selector() -> None:
    # TestGenerateParamsGoTemplate "no label selector": values never see each other (<no value>).
    staging = Cluster(STAGING.name, STAGING.server, STAGING.labels, STAGING.annotations)
    production = Cluster(PRODUCTION.name, PRODUCTION.server, PRODUCTION.labels, PRODUCTION.annotations)
    got = params_of({"clusters": {"values": GO_VALUES}}, go=True, clusters=(staging, production))
    local = {
        **LOCAL,
        "values": {
            "lol1": "lol",
            "lol2": "<no value><no value>",
            "lol3": "<no value><no value><no value>",
            "foo": "bar",
            "bar": "",
            "bat": "",
            "aaa": LOCAL["server"],
            "no-op": "<no value>",
        },
    }
    assert got == [
        _go(STAGING, "staging", STAGING.server),
        _go(PRODUCTION, "production", PRODUCTION.server),
        local,
    ]


def test_clusters_generator_go_template_selector() -> None:
    # TestGenerateParamsGoTemplate "production-only": the local cluster goes with any selector.
    got = params_of(
        {"clusters": {"selector": {"matchLabels": {"environment": "production"}}, "values": {"foo": "bar"}}},
        go=True,
        clusters=(STAGING, PRODUCTION),
    )
    assert [p["name"] for p in got] == ["production_01/west"]
    assert got[0]["values"] == {"foo": "bar"}
    assert got[0]["metadata"]["labels"]["environment"] == "production"


def test_a_cluster_with_the_local_server_stands_for_in_cluster() -> None:
    local = Cluster("in-cluster", "https://kubernetes.default.svc", labels={"env": "x"})
    got = params_of({"clusters": {}}, clusters=(local,))
    assert [p["name"] for p in got] == ["in-cluster"]
    assert got[0]["metadata.labels.env"] == "x"


def test_a_bad_selector_names_the_field() -> None:
    with pytest.raises(
        ConfigError, match=r"spec\.generators\[0\]\.clusters\.selector\.matchExpressions\[0\]\.operator 'Gt'"
    ):
        params_of(
            {
                "clusters": {
                    "selector": {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}
                }
            }
        )


def test_a_failed_value_names_the_generator() -> None:
    with pytest.raises(
        ConfigError, match=r"spec\.generators\[0\]\.clusters\.values: .*no entry for key \"nope\""
    ):
        params_of({"clusters": {"values": {"x": "{{ .nope }}"}}}, go=True, strict=True, clusters=(STAGING,))


def test_go_template_list_numbers_are_float64() -> None:
    (params,) = generate(
        parse_generator({"list": {"elements": [{"n": 1000000, "m": 2}]}}, "g"), Language(True), Context()
    )
    assert render_string("{{ .n }}/{{ .m }}/{{ toJson .n }}", params, Language(True)) == "1e+06/2/1000000"


def _go_plain(cluster: Cluster, **values: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": cluster.name,
        "nameNormalized": "staging-01" if cluster.name == "staging-01" else "production-01-west",
        "server": cluster.server,
        "project": "",
        "metadata": {"labels": dict(cluster.labels), "annotations": dict(cluster.annotations)},
    }
    if values:
        out["values"] = values
    return out


GO_STAGING = Cluster(STAGING.name, STAGING.server, STAGING.labels, STAGING.annotations)
GO_PRODUCTION = Cluster(PRODUCTION.name, PRODUCTION.server, PRODUCTION.labels, PRODUCTION.annotations)
IN_PRODUCTION_OR_STAGING = {
    "matchExpressions": [{"key": "environment", "operator": "In", "values": ["production", "staging"]}]
}

# TestGenerateParamsGoTemplate, the cases after "no label selector": (name, selector, values, flat, expected)
GO_CLUSTER_CASES: list[tuple[str, dict[str, Any], dict[str, str], bool, list[dict[str, Any]]]] = [
    (
        "secret type label selector",
        {"matchLabels": {"argocd.argoproj.io/secret-type": "cluster"}},
        {},
        False,
        [_go_plain(GO_PRODUCTION), _go_plain(GO_STAGING)],
    ),
    (
        "production-only",
        {"matchLabels": {"environment": "production"}},
        {"foo": "bar"},
        False,
        [_go_plain(GO_PRODUCTION, foo="bar")],
    ),
    (
        "production or staging",
        IN_PRODUCTION_OR_STAGING,
        {"foo": "bar"},
        False,
        [_go_plain(GO_PRODUCTION, foo="bar"), _go_plain(GO_STAGING, foo="bar")],
    ),
    (
        "production or staging with match labels",
        {**IN_PRODUCTION_OR_STAGING, "matchLabels": {"org": "foo"}},
        {"name": "baz"},
        False,
        [_go_plain(GO_STAGING, name="baz")],
    ),
    (
        "production or staging with flat mode",
        IN_PRODUCTION_OR_STAGING,
        {"foo": "bar"},
        True,
        [{"clusters": [_go_plain(GO_PRODUCTION, foo="bar"), _go_plain(GO_STAGING, foo="bar")]}],
    ),
]


@pytest.mark.parametrize(
    ("name", "selector", "values", "flat", "expected"), GO_CLUSTER_CASES, ids=[c[0] for c in GO_CLUSTER_CASES]
)
def test_clusters_generator_go_template(
    name: str, selector: dict[str, Any], values: dict[str, str], flat: bool, expected: list[dict[str, Any]]
) -> None:
    raw = {"clusters": {"selector": selector, "values": values, "flatList": flat}}
    got = params_of(raw, go=True, clusters=(GO_STAGING, GO_PRODUCTION))
    if flat:
        assert len(got) == 1
        assert _canonical(got[0]["clusters"]) == _canonical(expected[0]["clusters"])
    else:
        assert _canonical(got) == _canonical(expected)


def _canonical(items: list[dict[str, Any]]) -> list[str]:
    # ElementsMatch over nested maps: order counts neither in the list nor in the maps.
    return sorted(json.dumps(i, sort_keys=True) for i in items)


def test_clusters_flat_list_go_template_without_selector_has_the_local_cluster_last() -> None:
    # "Clusters with flat list mode and no selector"
    (flat,) = params_of({"clusters": {"flatList": True}}, go=True, clusters=(GO_STAGING, GO_PRODUCTION))
    assert [c["name"] for c in flat["clusters"]] == ["staging-01", "production_01/west", "in-cluster"]


def test_list_elements_yaml_without_go_template_are_appended_as_decoded() -> None:
    raw = {"list": {"elements": [{"a": "1"}], "elementsYaml": "- {a: '2', values: {x: y}}\n"}}
    assert params_of(raw) == [{"a": "1"}, {"a": "2", "values": {"x": "y"}}]
