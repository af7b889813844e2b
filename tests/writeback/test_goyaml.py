"""ferry.writeback.goyaml against Go's yaml.v3, the encoder Image Updater uses.

Three layers: a readable style table, a golden table recorded from the real encoder
(``tests/writeback/oracle``, then on sigs.k8s.io/yaml v1.4.0 ``goyaml.v3``), and a live
differential run against the oracle built offline from the module cache (sigs.k8s.io/yaml
v1.6.0 ``goyaml.v3``, which is go.yaml.in/yaml/v3 v3.0.4). Without ``go`` the live run skips
locally and fails in CI; a ``go`` that cannot build it always fails.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ferry.writeback import goyaml
from tests.fixtures.oracles import ask_oracle, build_go_oracle, record_cases

HERE = Path(__file__).parent
GOLDEN = json.loads((HERE / "data" / "goyaml_oracle.json").read_text())["cases"]

# PyYAML resolves these two plain scalars to YAML 1.1's value and merge tags; yaml.v3 writes
# them plain all the same (Argo CD, reading through Go, gets the strings back).
PYYAML_ONLY_TAGS = {"=", "<<"}


def as_document(case_input: dict[str, Any]) -> goyaml.YamlValue:
    """The Python document matching one oracle input (same shapes as the Go structs)."""
    kind, data = case_input["kind"], case_input["data"]
    if kind == "helm":
        params: list[goyaml.YamlValue] = [
            {"name": p["name"], "value": p["value"], "forcestring": p["forcestring"]} for p in data
        ]
        return {"helm": {"parameters": params}}
    if kind == "kustomize":
        return {"kustomize": {"images": data}}
    if kind == "k":
        return {"k": data}
    return data  # type: ignore[no-any-return]


STYLE_TABLE = [
    ("v3-5a7147", "k: v3-5a7147\n", "plain tag"),
    ("127.0.0.1:5000/cidemo/echo-server", "k: 127.0.0.1:5000/cidemo/echo-server\n", "registry with port"),
    ("sha256:" + "a" * 64, "k: sha256:" + "a" * 64 + "\n", "digest"),
    ("v1@sha256:ab", "k: v1@sha256:ab\n", "tag at digest"),
    ("1.0", 'k: "1.0"\n', "float quoted"),
    ("10", 'k: "10"\n', "int quoted"),
    ("0x1F", 'k: "0x1F"\n', "hex int quoted"),
    ("1e3", 'k: "1e3"\n', "exponent float quoted"),
    ("true", 'k: "true"\n', "bool quoted"),
    ("yes", 'k: "yes"\n', "yaml 1.1 bool quoted"),
    ("Off", 'k: "Off"\n', "yaml 1.1 bool capitalised"),
    ("", 'k: ""\n', "empty is null, quoted"),
    ("null", 'k: "null"\n', "null word quoted"),
    ("~", 'k: "~"\n', "tilde quoted"),
    ("1:20", 'k: "1:20"\n', "base 60 float quoted"),
    ("2023-01-02", 'k: "2023-01-02"\n', "timestamp quoted"),
    ("a: b", "k: 'a: b'\n", "colon space single-quoted"),
    ("a #b", "k: 'a #b'\n", "space hash single-quoted"),
    ("*x", "k: '*x'\n", "alias indicator"),
    ("&x", "k: '&x'\n", "anchor indicator"),
    ("!x", "k: '!x'\n", "tag indicator"),
    ("- x", "k: '- x'\n", "dash space"),
    ("-x", "k: -x\n", "dash without space stays plain"),
    (" x", "k: ' x'\n", "leading space"),
    ("it's", "k: it's\n", "inner quote stays plain"),
    ("'x", "k: '''x'\n", "leading quote doubled"),
    ("a\tb", 'k: "a\\tb"\n', "tab forces double quotes"),
    ("a\nb", "k: |-\n  a\n  b\n", "multi-line literal, strip"),
    ("a\n", "k: |\n  a\n", "multi-line literal, clip"),
    ("a \nb", 'k: "a \\nb"\n', "space before break: double quoted"),
    ("caf\u00e9", "k: caf\u00e9\n", "unicode stays literal"),
    ("\U0001f600", 'k: "\\U0001F600"\n', "astral plane escaped"),
]


@pytest.mark.parametrize(("value", "expected", "scenario"), STYLE_TABLE, ids=[row[2] for row in STYLE_TABLE])
def test_scalar_style(value: str, expected: str, scenario: str) -> None:
    assert goyaml.dump({"k": value}) == expected


def test_seed_document_exact() -> None:
    document: goyaml.YamlValue = {
        "helm": {
            "parameters": [
                {"name": "image.echoServer.repository", "value": "127.0.0.1:5000/cidemo/echo-server",
                 "forcestring": True},
                {"name": "image.echoServer.tag", "value": "v3-5a7147", "forcestring": True},
            ]
        }
    }  # fmt: skip
    assert goyaml.dump(document) == (
        "helm:\n"
        "  parameters:\n"
        "  - name: image.echoServer.repository\n"
        "    value: 127.0.0.1:5000/cidemo/echo-server\n"
        "    forcestring: true\n"
        "  - name: image.echoServer.tag\n"
        "    value: v3-5a7147\n"
        "    forcestring: true\n"
    )


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({}, "{}\n"),
        ([], "[]\n"),
        ({"a": {"b": {"c": "d"}}}, "a:\n  b:\n    c: d\n"),
        ({"a": [["x", "w"], "z"]}, "a:\n- - x\n  - w\n- z\n"),
        ([{"a": "b\nc"}, ["d\n"]], "- a: |-\n    b\n    c\n- - |\n    d\n"),
        ({"a": [{"b": ["c"]}]}, "a:\n- b:\n  - c\n"),
        ({"count": 7, "t": False}, "count: 7\nt: false\n"),
    ],
    ids=["empty mapping", "empty sequence", "nested mappings", "sequence in sequence",
         "literal blocks inside items", "sequence under item mapping", "int and bool"],
)  # fmt: skip
def test_structure(document: goyaml.YamlValue, expected: str) -> None:
    assert goyaml.dump(document) == expected


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ({"k": 1.5}, TypeError),
        ({1: "x"}, TypeError),
        ({"a\nb": "x"}, ValueError),
        ({"k": "\ud800"}, ValueError),
    ],
    ids=["float value", "int key", "multi-line key", "lone surrogate"],
)
def test_outside_the_subset_is_refused(document: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        goyaml.dump(document)


def test_golden_table_from_real_yaml_v3() -> None:
    mismatches = [
        (case["input"], goyaml.dump(as_document(case["input"])), case["yaml"])
        for case in GOLDEN
        if goyaml.dump(as_document(case["input"])) != case["yaml"]
    ]
    assert len(GOLDEN) > 1000
    assert mismatches == []


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=16))
def test_quoting_reads_back_as_the_same_string(value: str) -> None:
    if value in PYYAML_ONLY_TAGS:
        return
    assert yaml.safe_load(goyaml.dump({"k": value, "l": [value]})) == {"k": value, "l": [value]}


@pytest.fixture(scope="module")
def go_oracle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real encoder, built offline from the module cache."""
    return build_go_oracle(HERE / "oracle", tmp_path_factory.mktemp("oracle") / "goyaml-oracle")


def _live(go_oracle: Path, inputs: list[dict[str, Any]]) -> list[str]:
    answers = ask_oracle(go_oracle, inputs)
    record_cases("yaml.v3 (go.yaml.in/yaml/v3 v3.0.4)", len(inputs))
    return answers


@pytest.mark.slow
def test_random_strings_match_live_yaml_v3(go_oracle: Path) -> None:
    rnd = random.Random(4242)
    pieces = [*"aZ09_.:-+#?&*!|>'\"%@`,[]{}~ =<\t\n/\\", "\r", "\x85", "\u2028", "\ufeff", "é"]
    pieces += ["0x", "null", "yes"]
    inputs = []
    for _ in range(3000):
        value = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 8)))
        inputs.append(rnd.choice([
            {"kind": "k", "data": value},
            {"kind": "helm", "data": [{"name": "image.tag", "value": value, "forcestring": True}]},
            {"kind": "kustomize", "data": [value]},
        ]))  # fmt: skip
    expected = _live(go_oracle, inputs)
    actual = [goyaml.dump(as_document(i)) for i in inputs]
    assert [(i, a, e) for i, a, e in zip(inputs, actual, expected, strict=True) if a != e] == []


@pytest.mark.slow
def test_golden_inputs_match_live_yaml_v3(go_oracle: Path) -> None:
    """The recorded table still holds for the encoder version in the cache (it was recorded on v1.4.0)."""
    inputs = [case["input"] for case in GOLDEN]
    expected = _live(go_oracle, inputs)
    assert [(i, e) for i, e, case in zip(inputs, expected, GOLDEN, strict=True) if e != case["yaml"]] == []
    actual = [goyaml.dump(as_document(i)) for i in inputs]
    assert [(i, a, e) for i, a, e in zip(inputs, actual, expected, strict=True) if a != e] == []
