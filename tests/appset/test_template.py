"""Rendering, by Argo CD's own cases: applicationset/utils/utils_test.go.

TestRenderTemplateParams (fasttemplate), TestRenderTemplateParamsGoTemplate (Go templates; the cases
that use functions Ferry offers), TestRenderTemplateKeys and
Test_Render_Replace_no_panic_on_missing_closing_brace, then the subset's own edges and refusals.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from ferry.appset.gofuncs import GoTemplateError
from ferry.appset.gotemplate import parse
from ferry.appset.render import Language, render_string, render_value

FAST = Language()
GO = Language(go=True)
GO_STRICT = Language(go=True, missingkey_error=True)

# TestRenderTemplateParams: (name, field, params, expected)
FASTTEMPLATE_CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("simple substitution", "{{one}}", {"one": "two"}, "two"),
    ("simple substitution with whitespace", "{{ one }}", {"one": "two"}, "two"),
    ("template characters but not in a template", "}} {{", {"one": "two"}, "}} {{"),
    ("nested template", "{{ }}", {"one": "{{ }}"}, "{{ }}"),
    ("field with whitespace", "{{ }}", {" ": "two", "": "three"}, "{{ }}"),
    ("template contains itself, containing itself", "{{one}}", {"{{one}}": "{{one}}"}, "{{one}}"),
    ("template contains itself, containing something else", "{{one}}", {"{{one}}": "{{two}}"}, "{{one}}"),
    ("templates are case sensitive", "{{ONE}}", {"{{one}}": "two"}, "{{ONE}}"),
    ("multiple on a line", "{{one}}{{one}}", {"one": "two"}, "twotwo"),
    ("multiple different on a line", "{{one}}{{three}}", {"one": "two", "three": "four"}, "twofour"),
    (
        "multiple different on a line with quote",
        "{{one}} {{three}}",
        {"one": '"hello" world', "three": "four"},
        '"hello" world four',
    ),
]

HPA_ON = {"replicas": 3, "hpa": {"enabled": True, "minReplicas": 1, "maxReplicas": 5}}
HPA_OFF = {"replicas": 3, "hpa": {"enabled": False, "minReplicas": 1, "maxReplicas": 5}}
IMAGE = {"replicas": 3, "image": {"name": "busybox", "version": "latest"}}
VOLUMES = {
    "replicas": 3,
    "volumes": [{"name": "volume-one", "emptyDir": {}}, {"name": "volume-two", "emptyDir": {}}],
}

# TestRenderTemplateParamsGoTemplate: (name, field, params, expected)
GO_CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("simple substitution", "{{ .one }}", {"one": "two"}, "two"),
    ("template contains itself, containing itself", "{{ .one }}", {"one": "{{one}}"}, "{{one}}"),
    ("template contains itself, containing something else", "{{ .one }}", {"one": "{{two}}"}, "{{two}}"),
    ("multiple on a line", "{{.one}}{{.one}}", {"one": "two"}, "twotwo"),
    ("multiple different on a line", "{{.one}}{{.three}}", {"one": "two", "three": "four"}, "twofour"),
    (
        "multiple different on a line with quote",
        "{{.one}} {{.three}}",
        {"one": '"hello" world', "three": "four"},
        '"hello" world four',
    ),
    ("depth", "{{ .image.version }}", IMAGE, "latest"),
    ("multiple depth", "{{ .image.name }}:{{ .image.version }}", IMAGE, "busybox:latest"),
    (
        "if ok",
        "{{ if .hpa.enabled }}{{ .hpa.maxReplicas }}{{ else }}{{ .replicas }}{{ end }}",
        HPA_ON,
        "5",
    ),
    (
        "if not ok",
        "{{ if .hpa.enabled }}{{ .hpa.maxReplicas }}{{ else }}{{ .replicas }}{{ end }}",
        HPA_OFF,
        "3",
    ),
    ("loop", "{{ range .volumes }}[{{ .name }}]{{ end }}", VOLUMES, "[volume-one][volume-two]"),
    (
        "Index",
        '{{ index .admin "admin-ca" }}, {{ index .admin "admin-jks" }}',
        {"admin": {"admin-ca": "value admin ca", "admin-jks": "value admin jks"}},
        "value admin ca, value admin jks",
    ),
    (
        "Index with backslashes and quotes",
        '{{ index .admin "admin-ca" }}, \\\\ "Hello world", {{ index .admin "admin-jks" }}',
        {"admin": {"admin-ca": 'value "admin" ca with \\', "admin-jks": "value admin jks"}},
        'value "admin" ca with \\, \\\\ "Hello world", value admin jks',
    ),
    ("quote", "{{.quote}}", {"quote": '"'}, '"'),
    (
        "lookup missing value with missingkey=default",
        "--> {{.doesnotexist}} <--",
        {"unused": "x"},
        "--> <no value> <--",
    ),
]


@pytest.mark.parametrize(
    ("name", "field", "params", "expected"), FASTTEMPLATE_CASES, ids=[c[0] for c in FASTTEMPLATE_CASES]
)
def test_fasttemplate_cases_of_argo_cd(name: str, field: str, params: dict[str, Any], expected: str) -> None:
    template = {"spec": {"source": {"path": field, "repoURL": field}, "destination": {"server": field}}}
    rendered = render_value(template, params, FAST)
    assert rendered == {
        "spec": {"source": {"path": expected, "repoURL": expected}, "destination": {"server": expected}}
    }


@pytest.mark.parametrize(("name", "field", "params", "expected"), GO_CASES, ids=[c[0] for c in GO_CASES])
def test_go_template_cases_of_argo_cd(name: str, field: str, params: dict[str, Any], expected: str) -> None:
    assert render_value({"spec": {"project": field}}, params, GO) == {"spec": {"project": expected}}


def test_no_parameters_leave_the_template_untouched() -> None:
    # "Test No Data": Argo CD skips rendering altogether for an empty parameter set.
    assert render_value({"name": "{{.data}}"}, {}, GO_STRICT) == {"name": "{{.data}}"}


def test_a_field_of_a_string_cannot_be_evaluated() -> None:
    # "Test template error": {{.data.test}} where data is a string.
    with pytest.raises(
        GoTemplateError,
        match=r"failed to execute go template \{\{\.data\.test\}\}: can't evaluate field test",
    ):
        render_string("{{.data.test}}", {"data": "a data string"}, GO)


def test_missingkey_error_names_the_key() -> None:
    # "lookup missing value with missingkey=error"
    with pytest.raises(GoTemplateError, match='map has no entry for key "doesnotexist"'):
        render_string("--> {{.doesnotexist}} <--", {"unused": "this is not used"}, GO_STRICT)


def test_an_unknown_function_is_refused_at_parse_time() -> None:
    # "Test Parse Error": Argo CD says `function "functiondoesnotexist" not defined`.
    with pytest.raises(GoTemplateError, match="function 'functiondoesnotexist' is not supported"):
        parse("{{functiondoesnotexist}}")


@pytest.mark.parametrize("language", [FAST, GO], ids=["fasttemplate", "gotemplate"])
def test_keys_are_rendered_too(language: Language) -> None:
    # TestRenderTemplateKeys
    key, value = (
        ("annotation-{{ .key }}", "annotation-{{ .value }}")
        if language.go
        else (
            "annotation-{{key}}",
            "annotation-{{value}}",
        )
    )
    rendered = render_value(
        {"annotations": {key: value}}, {"key": "some-key", "value": "some-value"}, language
    )
    assert rendered == {"annotations": {"annotation-some-key": "annotation-some-value"}}


def test_fasttemplate_refuses_an_unclosed_tag() -> None:
    # Test_Render_Replace_no_panic_on_missing_closing_brace
    with pytest.raises(GoTemplateError, match="cannot find end tag"):
        render_string("{{properly.closed}} {{improperly.closed}", {"properly.closed": "x"}, FAST)


def test_fasttemplate_leaves_non_string_parameters_alone() -> None:
    assert render_string("{{ n }}", {"n": 3}, FAST) == "{{ n }}"


# The sprig functions Ferry offers, as sprig defines them.
FUNCTION_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("{{ .name | lower }}", {"name": "Prod-EU"}, "prod-eu"),
    ("{{ upper .name }}", {"name": "eu"}, "EU"),
    ('{{ .missing | default "none" }}', {"other": 1}, "none"),
    ('{{ default "none" .name }}', {"name": "set"}, "set"),
    ('{{ replace "." "-" .host }}', {"host": "a.b.c"}, "a-b-c"),
    ("{{ trunc 3 .name }}", {"name": "abcdef"}, "abc"),
    ("{{ trunc -2 .name }}", {"name": "abcdef"}, "ef"),
    ("{{ trunc 10 .name }}", {"name": "abc"}, "abc"),
    ("{{ quote .name }}", {"name": 'say "hi"'}, '"say \\"hi\\""'),
    ("{{ squote .name }}", {"name": "x"}, "'x'"),
    ("{{ toJson .m }}", {"m": {"b": [1, 2.0], "a": "<&>"}}, '{"a":"\\u003c\\u0026\\u003e","b":[1,2]}'),
    ('{{ if eq .env "prod" }}p{{ else if eq .env "dev" }}d{{ else }}o{{ end }}', {"env": "dev"}, "d"),
    ("{{ if and .a (not .b) }}yes{{ end }}", {"a": True, "b": False}, "yes"),
    ("{{ if not (empty .metadata) }}{{ .metadata.x }}{{ end }}", {"name": "in-cluster"}, ""),
    ('{{ trimPrefix "app-" .name }}', {"name": "app-web"}, "web"),
    ('{{ join "," .list }}', {"list": ["a", "b"]}, "a,b"),
    ("{{ normalize .name }}", {"name": "production_01/west"}, "production-01-west"),
    ("{{ len .list }}", {"list": ["a", "b"]}, "2"),
    ("{{ .n }}/{{ .f }}/{{ .t }}", {"n": 3, "f": 1.5, "t": True}, "3/1.5/true"),
    ("{{ .m }}", {"m": {"b": 1, "a": "x"}}, "map[a:x b:1]"),
    ("a  {{- .x -}}  b", {"x": "X"}, "aXb"),
    ("{{/* a comment */}}c", {"x": 1}, "c"),
    (
        '{{ index .labels "app.kubernetes.io/name" | upper }}',
        {"labels": {"app.kubernetes.io/name": "web"}},
        "WEB",
    ),
]


@pytest.mark.parametrize(("source", "params", "expected"), FUNCTION_CASES, ids=[c[0] for c in FUNCTION_CASES])
def test_supported_functions(source: str, params: dict[str, Any], expected: str) -> None:
    assert render_string(source, params, GO) == expected


def test_index_of_a_missing_key_is_no_error_even_with_missingkey_error() -> None:
    # Go's index returns the zero value of a map lookup; missingkey only governs field access.
    assert render_string('{{ index .m "nope" }}', {"m": {"a": "b"}}, GO_STRICT) == "<no value>"


REFUSED = [
    ("{{ $x := .a }}", "variables are not supported"),
    ("{{ with .a }}x{{ end }}", "{{with}} is not supported"),
    ('{{ define "t" }}x{{ end }}', "{{define}} is not supported"),
    ('{{ template "t" }}', "{{template}} is not supported"),
    ('{{ printf "%s" .a }}', "function 'printf' is not supported"),
    ("{{ toYaml . }}", "function 'toYaml' is not supported"),
    ("{{ .a.Method 1 }}", "can't give argument to non-function"),
    ("{{ if .a }}x", "without {{end}}"),
    ("{{ end }}", "unexpected {{end}}"),
    ("{{ .a", "unclosed action"),
    ("{{ range $i, $e := .a }}{{ end }}", "range variables are not supported"),
]


@pytest.mark.parametrize(("source", "message"), REFUSED, ids=[c[0] for c in REFUSED])
def test_outside_the_subset_is_refused_naming_the_construct(source: str, message: str) -> None:
    with pytest.raises(GoTemplateError, match=re.escape(message)):
        parse(source)


def test_a_wrong_number_of_arguments_is_an_error() -> None:
    with pytest.raises(GoTemplateError, match="wrong number of args for lower"):
        render_string('{{ lower "a" "b" }}', {"x": 1}, GO)


def test_a_string_function_refuses_a_number() -> None:
    with pytest.raises(GoTemplateError, match="expected string; got int"):
        render_string("{{ lower .n }}", {"n": 3}, GO)


def test_language_options() -> None:
    assert Language.of(True, ("missingkey=error",)) == GO_STRICT
    assert Language.of(True, ()) == GO
    with pytest.raises(GoTemplateError, match="unsupported goTemplateOptions entry"):
        Language.of(True, ("missingkey=bogus",))


def test_literal_braces_through_a_string_literal() -> None:
    # How Argo CD users keep "{{" for Helm: {{ "{{" }} prints it.
    assert render_string('{{ "{{" }} .Values.x {{ "}}" }}', {"x": 1}, GO) == "{{ .Values.x }}"


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(GoTemplateError, match="nests too deeply"):
        parse("{{ " + "(" * 5000 + ".a" + ")" * 5000 + " }}")


def test_output_is_bounded() -> None:
    rows = [list(range(1100))] * 100
    with pytest.raises(GoTemplateError, match="more than 1048576 characters"):
        render_string("{{ range .rows }}{{ range . }}xxxxxxxxxx{{ end }}{{ end }}", {"rows": rows}, GO)
