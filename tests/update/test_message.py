"""Commit messages: Image Updater's default template renders byte-for-byte."""

from __future__ import annotations

import pytest

from ferry.argocd.annotations import DEFAULT_COMMIT_MESSAGE
from ferry.errors import ConfigError
from ferry.update.message import ImageChange, render_branch_name, render_template

CHANGES = [
    ImageChange("echoserver", "127.0.0.1:5000/cidemo/echo-server", "v1.0", "v3-5a7147"),
    ImageChange("webserver", "127.0.0.1:5000/cidemo/echo-web-server", "v1.0", "v3-5a7147"),
]


def test_default_template_matches_image_updater() -> None:
    assert render_template(DEFAULT_COMMIT_MESSAGE, app_name="app-helm-dev", changes=CHANGES) == (
        "build: automatic update of app-helm-dev\n\n"
        # Image Updater's message names the image without its registry host (gitops-demo a3d65e3).
        "updates image cidemo/echo-server tag 'v1.0' to 'v3-5a7147'\n"
        "updates image cidemo/echo-web-server tag 'v1.0' to 'v3-5a7147'\n"
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


# Image Updater v0.18 pkg/argocd/git_test.go: Test_TemplateCommitMessage and Test_TemplateBranchName.
UPSTREAM_CHANGES = [ImageChange(None, "foo/bar", "1.0", "1.1"), ImageChange(None, "bar/baz", "2.0", "2.1")]
LONG = (
    "image-updater-lorem-ipsum-dolor-sit-amet-consectetur-"
    "adipiscing-elit-phasellus-imperdiet-vitae-elit-quis-pulvinar-"
    "suspendisse-pulvinar-lacus-vel-semper-congue-enim-purus-posuere-"
    "orci-ut-vulputate-mi-ipsum-quis-ipsum-quisque-elit-arcu-lobortis-"
    "in-blandit-vel-pharetra-vel-urna-aliquam-euismod-elit-vel-mi"
)


def test_upstream_default_commit_message() -> None:
    assert render_template(DEFAULT_COMMIT_MESSAGE, app_name="foobar", changes=UPSTREAM_CHANGES) == (
        "build: automatic update of foobar\n\nupdates image foo/bar tag '1.0' to '1.1'\n"
        "updates image bar/baz tag '2.0' to '2.1'\n"
    )


@pytest.mark.parametrize(
    ("template", "changes", "expected"),
    [
        (
            "image-updater{{range .Images}}-{{.Name}}-{{.NewTag}}{{end}}",
            UPSTREAM_CHANGES,
            "image-updater-foo/bar-1.1-bar/baz-2.1",
        ),
        (
            "image-updater{{range .Images}}-{{.Alias}}-{{.NewTag}}{{end}}",
            [ImageChange("bar", "0001.dkr.ecr.us-east-1.amazonaws.com/bar", "1.0", "1.1")],
            "image-updater-bar-1.1",
        ),
        (
            "image-updater-{{.SHA256}}",
            UPSTREAM_CHANGES[:1],
            "image-updater-0fcc2782543e4bb067c174c21bf44eb947f3e55c0d62c403e359c1c209cbd041",
        ),
        (LONG, [], LONG[:255]),
    ],
    ids=["image name", "alias", "hash", "over 255 chars"],
)
def test_upstream_branch_templates(template: str, changes: list[ImageChange], expected: str) -> None:
    assert render_branch_name(template, app_name="app", changes=changes) == expected
