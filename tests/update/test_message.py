"""Commit messages: Image Updater's default template renders byte-for-byte."""

from __future__ import annotations

import pytest

from ferry.argocd.annotations import DEFAULT_COMMIT_MESSAGE
from ferry.errors import ConfigError
from ferry.update.message import ImageChange, render_template

CHANGES = [
    ImageChange("echoserver", "127.0.0.1:5000/cidemo/echo-server", "v1.0", "v3-5a7147"),
    ImageChange("webserver", "127.0.0.1:5000/cidemo/echo-web-server", "v1.0", "v3-5a7147"),
]


def test_default_template_matches_image_updater() -> None:
    assert render_template(DEFAULT_COMMIT_MESSAGE, app_name="app-helm-dev", changes=CHANGES) == (
        "build: automatic update of app-helm-dev\n\n"
        "updates image 127.0.0.1:5000/cidemo/echo-server tag 'v1.0' to 'v3-5a7147'\n"
        "updates image 127.0.0.1:5000/cidemo/echo-web-server tag 'v1.0' to 'v3-5a7147'\n"
    )


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{.AppName}}", "app"),
        ("a  {{- .AppName -}}  b", "aappb"),
        ("{{ range .AppChanges }}[{{ .NewTag }}]{{ end }}", "[v3-5a7147][v3-5a7147]"),
        ("x{{ range .AppChanges }}{{ end }}y", "xy"),
    ],
    ids=["field", "trim-markers", "range", "empty-body"],
)
def test_template_subset(template: str, expected: str) -> None:
    assert render_template(template, app_name="app", changes=CHANGES) == expected


@pytest.mark.parametrize(
    "template",
    ["{{ .Nope }}", "{{ range .AppChanges }}x", "{{ range .AppChanges }}{{ .X }}{{ end }}"],
    ids=["unknown-field", "unclosed-range", "unknown-field-in-range"],
)
def test_bad_template_is_config_error(template: str) -> None:
    with pytest.raises(ConfigError):
        render_template(template, app_name="app", changes=CHANGES)


def test_branch_hash_is_stable_and_change_sensitive() -> None:
    a = render_template("u-{{.SHA256}}", app_name="x", changes=CHANGES)
    assert a == render_template("u-{{.SHA256}}", app_name="x", changes=list(CHANGES))
    assert a != render_template("u-{{.SHA256}}", app_name="x", changes=CHANGES[:1])
