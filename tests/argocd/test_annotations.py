"""Image Updater annotations: per-alias settings, app-wide defaults, write-back, and bad input."""

from __future__ import annotations

from typing import Any

import pytest

from ferry.argocd.annotations import PREFIX, TargetKind, parse_updater_settings
from ferry.argocd.application import parse_application
from ferry.errors import ConfigError
from ferry.image.platform import Platform
from ferry.image.strategy import UpdateStrategy


def make_app(annotations: dict[str, str], **source: Any) -> Any:
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "app", "annotations": {PREFIX + k: v for k, v in annotations.items()}},
        "spec": {
            "source": {"repoURL": "file:///deploy.git", "path": "chart", "targetRevision": "main", **source}
        },
    }
    return parse_application(doc, source="apps.yaml")


SEED = {
    "image-list": (
        "echoserver=127.0.0.1:5000/cidemo/echo-server,webserver=127.0.0.1:5000/cidemo/echo-web-server"
    ),
    "echoserver.helm.image-name": "image.echoServer.repository",
    "echoserver.helm.image-tag": "image.echoServer.tag",
    "echoserver.update-strategy": "latest",
    "webserver.helm.image-name": "image.echoWebServer.repository",
    "webserver.helm.image-tag": "image.echoWebServer.tag",
    "webserver.update-strategy": "latest",
    "write-back-method": "git",
}


def test_seed_annotations() -> None:
    settings = parse_updater_settings(make_app(SEED))
    assert settings is not None
    echo, web = settings.images
    assert (echo.alias, echo.image.name) == ("echoserver", "127.0.0.1:5000/cidemo/echo-server")
    assert echo.strategy is UpdateStrategy.NEWEST_BUILD
    assert (echo.helm_image_name, echo.helm_image_tag) == (
        "image.echoServer.repository",
        "image.echoServer.tag",
    )
    assert web.helm_image_tag == "image.echoWebServer.tag"
    assert settings.write_back.target_kind is TargetKind.ARGOCD_SOURCE
    assert settings.write_back.credentials is None
    assert settings.write_back.repository == "file:///deploy.git"


def test_no_image_list_means_not_managed() -> None:
    assert parse_updater_settings(make_app({})) is None


@pytest.mark.parametrize(
    ("annotations", "check"),
    [
        ({"image-list": "a=r.io/x/y:~1.2"}, lambda s: s.images[0].constraint == "~1.2"),
        ({"image-list": "127.0.0.1:5000/x:>=1.2 <2"}, lambda s: s.images[0].constraint == ">=1.2 <2"),
        ({"image-list": "a=r.io/x"}, lambda s: s.images[0].strategy is UpdateStrategy.SEMVER),
        (
            {"image-list": "a=r.io/x", "update-strategy": "name"},
            lambda s: s.images[0].strategy is UpdateStrategy.ALPHABETICAL,
        ),
        (
            {"image-list": "a=r.io/x", "update-strategy": "name", "a.update-strategy": "latest"},
            lambda s: s.images[0].strategy is UpdateStrategy.NEWEST_BUILD,
        ),
        (
            {"image-list": "a=r.io/x", "platforms": "linux/arm64"},
            lambda s: s.images[0].platforms == (Platform("linux", "arm64"),),
        ),
        ({"image-list": "a=r.io/x", "a.force-update": "true"}, lambda s: s.images[0].force_update),
        (
            {"image-list": "a=r.io/x", "a.allow-tags": "regexp:^v[1-9].*"},
            lambda s: s.images[0].tag_filter.allows("v3-5a7147") and not s.images[0].tag_filter.allows("dev"),
        ),
        ({"image-list": "a=r.io/x", "ignore-tags": "*"}, lambda s: not s.images[0].tag_filter.allows("v1")),
        (
            {"image-list": "a=r.io/x:latest", "a.update-strategy": "digest"},
            lambda s: s.images[0].constraint == "latest",
        ),
        (
            {"image-list": "a=r.io/x", "write-back-method": "git:secret:argocd/git-creds"},
            lambda s: s.write_back.credentials == "git:secret:argocd/git-creds",
        ),
        (
            {"image-list": "a=r.io/x", "write-back-method": "git:repocreds"},
            lambda s: s.write_back.credentials is None,
        ),
        (
            {
                "image-list": "a=r.io/x",
                "write-back-target": "helmvalues:values-dev.yaml",
                "a.helm.image-name": "image.repository",
                "a.helm.image-tag": "image.tag",
            },
            lambda s: s.write_back.target_kind is TargetKind.HELM_VALUES,
        ),
        (
            {"image-list": "a=r.io/x", "write-back-target": "kustomization"},
            lambda s: s.write_back.target_kind is TargetKind.KUSTOMIZATION,
        ),
        (
            {"image-list": "a=r.io/x", "git-branch": "main:image-updater-{{.SHA256}}"},
            lambda s: (
                (s.write_back.base_branch, s.write_back.write_branch) == ("main", "image-updater-{{.SHA256}}")
            ),
        ),
        (
            {"image-list": "a=r.io/x", "git-repository": "file:///other.git"},
            lambda s: s.write_back.repository == "file:///other.git",
        ),
        (
            {"image-list": "a=r.io/x", "a.kustomize.image-name": "nginx"},
            lambda s: s.images[0].kustomize_image_name == "nginx",
        ),
    ],
    ids=[
        "constraint-after-image",
        "constraint-with-port-registry",
        "semver-default",
        "app-wide-strategy",
        "alias-overrides-app-wide",
        "platforms",
        "force-update",
        "allow-tags-regexp",
        "ignore-all",
        "digest-follows-tag",
        "git-secret",
        "repocreds",
        "helmvalues-target",
        "kustomization-target",
        "git-branch-base-target",
        "git-repository",
        "kustomize-image-name",
    ],
)
def test_annotation_table(annotations: dict[str, str], check: Any) -> None:
    settings = parse_updater_settings(make_app(annotations))
    assert settings is not None
    assert check(settings)


@pytest.mark.parametrize(
    ("annotations", "key", "fragment"),
    [
        ({"image-list": "a=r.io/x", "a.update-strategy": "newest"}, "a.update-strategy", "newest"),
        ({"image-list": "a=r.io/x", "a.allow-tags": "regexp:^v[1-"}, "a.allow-tags", "^v[1-"),
        ({"image-list": "a=r.io/x", "a.allow-tags": "glob:*"}, "a.allow-tags", "glob:*"),
        ({"image-list": "a=r.io/x:>=1.2 <<2"}, "image-list", ">=1.2 <<2"),
        ({"image-list": "a=r.io/X Y"}, "image-list", "X Y"),
        ({"image-list": "a_1=r.io/x"}, "image-list", "a_1"),
        ({"image-list": "a=r.io/x", "write-back-method": "argocd"}, "write-back-method", "Argo CD API"),
        ({"image-list": "a=r.io/x", "write-back-method": "svn"}, "write-back-method", "svn"),
        ({"image-list": "a=r.io/x", "write-back-target": "values.yaml"}, "write-back-target", "values.yaml"),
        ({"image-list": "a=r.io/x", "a.update-strategy": "digest"}, "image-list", "digest strategy"),
        ({"image-list": "a=r.io/x", "a.platforms": "linux"}, "a.platforms", "linux"),
        ({"image-list": "a=r.io/x", "a.force-update": "maybe"}, "a.force-update", "maybe"),
        ({"image-list": "a=r.io/x,a=r.io/y"}, "image-list", "twice"),
    ],
    ids=[
        "unknown-strategy",
        "invalid-regexp",
        "unknown-allow-prefix",
        "invalid-constraint",
        "malformed-image",
        "alias-with-underscore",
        "argocd-method-explained",
        "unknown-method",
        "unknown-target",
        "digest-needs-tag",
        "bad-platform",
        "bad-bool",
        "duplicate-alias",
    ],
)
def test_bad_annotations_name_application_and_annotation(
    annotations: dict[str, str], key: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_updater_settings(make_app(annotations))
    text = str(info.value)
    assert "application 'app'" in text
    assert PREFIX + key in text
    assert fragment in text


@pytest.mark.parametrize("alias", ["dummy2", "frontend-partners"])
def test_aliases_hold_digits_and_dashes_as_upstream_accepts(alias: str) -> None:
    # Image Updater's own tests use both (pkg/argocd/update_test.go).
    settings = parse_updater_settings(
        make_app({"image-list": f"{alias}=r.io/x", f"{alias}.update-strategy": "name"})
    )
    assert settings is not None
    assert settings.images[0].alias == alias
    assert settings.images[0].strategy.value == "alphabetical"


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("helm.image-tag", "could not find an image-tag annotation"),
        ("helm.image-name", "could not find an image-name annotation"),
    ],
)
def test_helmvalues_needs_both_value_paths_as_upstream(missing: str, message: str) -> None:
    # Image Updater v0.18 update_test.go, "Missing annotation image-tag (and image-name) for helmvalues
    # write-back-target".
    annotations = {
        "image-list": "nginx=nginx",
        "write-back-method": "git",
        "write-back-target": "helmvalues:./test-values.yaml",
        "nginx.helm.image-name": "image.name",
        "nginx.helm.image-tag": "image.tag",
    }
    del annotations[f"nginx.{missing}"]
    with pytest.raises(ConfigError, match=message) as caught:
        parse_updater_settings(make_app(annotations))
    assert f"{PREFIX}nginx.{missing}" in str(caught.value)
    annotations[f"nginx.{missing}"] = "image.x"
    annotations["write-back-target"] = ""
    del annotations[f"nginx.{missing}"]
    assert parse_updater_settings(make_app(annotations)) is not None, (
        "the .argocd-source target keeps defaults"
    )
