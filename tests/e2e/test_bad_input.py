"""Bad input: each broken Application gets an error naming it, nothing is written for it, the rest update."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ferry.devenv.seed import application
from tests.e2e.seedenv import NEW_BUILD, build_seed
from tests.fixtures.registry import RunningRegistry

pytestmark = pytest.mark.registry
P = "argocd-image-updater.argoproj.io/"

# name: (annotations, the bad value, the key the error must name)
BROKEN = {
    "bad-strategy": ({P + "echoserver.update-strategy": "newest"}, "newest", "echoserver.update-strategy"),
    "bad-regexp": ({P + "echoserver.allow-tags": "regexp:^v[1-"}, "^v[1-", "echoserver.allow-tags"),
    "bad-constraint": (
        {
            P + "image-list": "echoserver={host}/cidemo/echo-server:>=1.2 <<2",
            P + "echoserver.update-strategy": "semver",
        },
        ">=1.2 <<2",
        "image-list",
    ),
    "bad-image": ({P + "image-list": "echoserver={host}/cidemo/Echo_Server"}, "Echo_Server", "image-list"),
    # Neither a value in the repo nor a rendered container names this image's tag.
    "missing-helm-path": (
        {
            P + "image-list": "echoserver={host}/cidemo/not-deployed",
            P + "echoserver.helm.image-tag": "image.nope.tag",
        },
        "image.nope.tag",
        "helm.image-tag",
    ),
}


def test_each_bad_application_fails_alone(tmp_path: Path, registry: RunningRegistry) -> None:
    seed = build_seed(tmp_path, registry)
    seed.remove_tag("v3-5a7147")
    docs = []
    for name, (overrides, _, _) in BROKEN.items():
        doc = application("dev", seed.layout.repo_url, registry.host, "https://127.0.0.1/dev")
        doc["metadata"] = {
            "name": name,
            "annotations": {
                **doc["metadata"]["annotations"],  # type: ignore[index]
                **{k: v.format(host=registry.host) for k, v in overrides.items()},
            },
        }
        docs.append(doc)
    escape = application("dev", seed.layout.repo_url, registry.host, "https://127.0.0.1/dev")
    escape["metadata"]["name"] = "../../escape"  # type: ignore[index]
    docs.append(escape)
    (seed.layout.applications / "broken.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    seed.push("v3-5a7147", NEW_BUILD)
    before = seed.head()

    result = seed.ferry("update", "--output", "json")

    assert result.returncode == 1, "any failed application makes the exit code non-zero"
    outcomes = {a["app"]: a for a in json.loads(result.stdout)["applications"]}
    for name, (_, fragment, key) in BROKEN.items():
        assert outcomes[name]["status"] == "error"
        error = outcomes[name]["error"]
        # One line enough to find the mistake: the file, the Application, the key, the bad value.
        assert "broken.yaml" in error, error
        assert f"application '{name}'" in error, error
        assert f"{key}'" in error, error
        assert fragment in error, error
    escaped = [o for o in outcomes.values() if "../../escape" in (o["error"] or "")]
    assert escaped and escaped[0]["status"] == "error"
    for env in ("dev", "staging", "production"):
        assert outcomes[f"app-helm-{env}"]["status"] == "updated"
    files = seed.git("ls-tree", "-r", "--name-only", "main").split()
    written = sorted(f.rsplit("/", 1)[1] for f in files if ".argocd-source" in f)
    assert written == [f".argocd-source-app-helm-{env}.yaml" for env in ("dev", "production", "staging")]
    assert len(seed.git("rev-list", f"{before}..main").split()) == 3
    assert not any("escape" in f for f in files)


def test_a_deeply_nested_file_fails_alone_and_the_others_update(
    tmp_path: Path, registry: RunningRegistry
) -> None:
    """Issue 10, finding 9: 40 KB of nested lists in applications/ was a RecursionError traceback."""
    seed = build_seed(tmp_path, registry)
    seed.remove_tag("v3-5a7147")
    deep = seed.layout.applications / "deep.yaml"
    deep.write_text("[" * 20_000 + "]" * 20_000 + "\n")
    seed.push("v3-5a7147", NEW_BUILD)

    result = seed.ferry("update", "--output", "json")

    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 1
    outcomes = {a["app"]: a for a in json.loads(result.stdout)["applications"]}
    assert outcomes[str(deep)]["status"] == "error"
    assert "nested deeper than" in outcomes[str(deep)]["error"]
    assert {outcomes[f"app-helm-{env}"]["status"] for env in ("dev", "staging", "production")} == {"updated"}
