"""The release push must-show, on the real registry, real git and real buildah.

Pushing ``release-v3`` leads to ``<registry>/cidemo/echo-server:v3-<sha6>`` carrying the commit
as its revision label; a second detection builds nothing (and clones nothing; its time is in
bench/RESULTS.md, from bench/warm_paths.py); a ref the rule
does not match is ignored; a bad Dockerfile fails with the log tail and pushes nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from ferry.ci.cycle import BuildStatus, CiBuilder
from ferry.ci.detect import CREATED_LABEL, REVISION_LABEL, SOURCE_LABEL
from ferry.ci.events import ImagePushed
from ferry.devenv.ports import PortTaken, on_free_port, port_taken
from ferry.errors import ToolError
from ferry.registry.client import RegistryClient
from tests.ci.conftest import CiSetup

pytestmark = pytest.mark.usefixtures("buildah")


def _tags(setup: CiSetup) -> list[str]:
    response = httpx.get(f"{setup.registry.url}/v2/cidemo/echo-server/tags/list", timeout=5)
    return [] if response.status_code == 404 else list(response.json().get("tags") or [])


def test_release_push_builds_labelled_image_once(ci_setup: CiSetup) -> None:
    sha = ci_setup.source.release("v3")
    ci_setup.source.push_ref("v3")  # a tag the rule does not match
    events: list[ImagePushed] = []
    with CiBuilder(ci_setup.config()) as ci:
        first = ci.run(emitter=events.append)
    tag = f"v3-{sha[:6]}"
    assert [(o.status, o.reference) for o in first.outcomes] == [
        (BuildStatus.built, f"{ci_setup.registry.host}/cidemo/echo-server:{tag}")
    ]
    assert first.ignored == 1  # refs/tags/v3
    with RegistryClient(ci_setup.registry.url) as client:
        labels = client.image_labels("cidemo/echo-server", tag)
        digest = client.tag_metadata(
            "cidemo/echo-server", [tag], platforms=(), need_created=False, need_digest=True
        )[tag].digest
    manifest = httpx.get(
        f"{ci_setup.registry.url}/v2/cidemo/echo-server/manifests/{tag}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        timeout=5,
    ).json()
    assert labels is not None and labels[REVISION_LABEL] == sha
    # buildah put the build time on the manifest too, the same value as the label, so a
    # newest-build scan reads it there and skips the config blob.
    assert manifest["annotations"][CREATED_LABEL] == labels[CREATED_LABEL]
    assert labels[SOURCE_LABEL] == ci_setup.source.url
    assert first.outcomes[0].digest == digest
    assert events == [
        ImagePushed(
            image=f"{ci_setup.registry.host}/cidemo/echo-server",
            tag=tag,
            digest=digest,
            revision=sha,
            ref="refs/tags/release-v3",
            source_repo=ci_setup.source.url,
        )
    ]

    # Second detection: nothing to build, and no clone or fetch is needed for that. (The registry
    # is the module's: other tests' tags may be there, in any order, so compare with before.)
    pushed = _tags(ci_setup)
    assert tag in pushed
    shutil.rmtree(ci_setup.root / "cache" / "ci-sources")
    with CiBuilder(ci_setup.config()) as ci:
        second = ci.run(emitter=events.append)
    assert [o.status for o in second.outcomes] == [BuildStatus.up_to_date]
    assert len(events) == 1
    assert not (ci_setup.root / "cache" / "ci-sources").exists() or not any(
        p.is_dir() for p in (ci_setup.root / "cache" / "ci-sources").iterdir()
    )
    assert _tags(ci_setup) == pushed


def test_moved_tag_is_rebuilt_for_the_new_commit(ci_setup: CiSetup) -> None:
    """Same tag name, new commit: the revision label differs, so it is built (template without sha)."""
    ci_setup.source.release("v5")
    with CiBuilder(ci_setup.config(tag="{version}")) as ci:
        assert [o.status for o in ci.run().outcomes] == [BuildStatus.built]
        new_sha = ci_setup.source.commit({"www/index.html": "<p>v5 again</p>\n"}, "change the page")
        ci_setup.source.push_ref("release-v5", force=True)
        assert [o.status for o in ci.run().outcomes] == [BuildStatus.built]
        with RegistryClient(ci_setup.registry.url) as client:
            labels = client.image_labels("cidemo/echo-server", "v5")
    assert labels is not None and labels[REVISION_LABEL] == new_sha


def test_bad_dockerfile_fails_with_log_tail_and_pushes_nothing(ci_setup: CiSetup) -> None:
    sha = ci_setup.source.break_dockerfile()
    ci_setup.source.release("v9")
    with CiBuilder(ci_setup.config()) as ci:
        rule = ci.rule("echo-server")
        (candidate,) = ci.detect(rule).to_build
        source = ci.checkout(rule, candidate)
        with pytest.raises(ToolError) as caught:
            ci.build(rule, candidate, source)
        result = ci.run()
    message = str(caught.value)
    assert "this-file-does-not-exist" in message and "Last lines of" in message
    assert not source.exists()  # the export is cleaned up
    assert [o.status for o in result.outcomes] == [BuildStatus.failed]
    assert f"v9-{sha[:6]}" not in _tags(ci_setup)
    assert not list((ci_setup.root / "cache" / "ci" / "scratch").iterdir())  # no storage left behind


def test_built_image_serves_the_echo_cgi(ci_setup: CiSetup, tmp_path: Path) -> None:
    """The demo image's content works: run its busybox httpd on the host against its /www."""
    ci_setup.source.release("v3")
    with CiBuilder(ci_setup.config()) as ci:
        rule = ci.rule("echo-server")
        (candidate,) = ci.detect(rule).to_build
        source = ci.checkout(rule, candidate)

    def start(port: int) -> tuple[subprocess.Popen[bytes], httpx.Response]:
        server = subprocess.Popen(
            [str(source / "busybox"), "httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", str(source / "www")],
            env={"ECHO_VERSION": "v3"},
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                url = f"http://127.0.0.1:{port}/cgi-bin/echo?x=1"
                return server, httpx.post(url, content=b"hello", timeout=2)
            except httpx.TransportError:
                if server.poll() is not None:
                    error = server.stderr.read().decode(errors="replace") if server.stderr else ""
                    if port_taken(error):
                        raise PortTaken(f"busybox httpd: 127.0.0.1:{port} was taken") from None
                    raise AssertionError(f"busybox httpd exited: {error}") from None
                if time.monotonic() > deadline:
                    server.kill()
                    raise
                time.sleep(0.05)

    try:
        server, response = on_free_port(start)
        server.terminate()
        server.wait(timeout=5)
    finally:
        shutil.rmtree(source, ignore_errors=True)
    assert response.status_code == 200
    assert "method=POST" in response.text and "query=x=1" in response.text and "body=hello" in response.text


def test_pluggable_builder_gets_credentials_by_file_only(tmp_path: Path) -> None:
    """A custom command template (as docker/kaniko users write) sees every placeholder filled,
    finds the push credentials in a 0600 auth file, and never gets them on its command line."""
    from ferry.ci.builder import BuilderCommands, BuildRequest, ImageBuilder
    from ferry.credentials import Credential

    record = tmp_path / "record.txt"
    commands = BuilderCommands.parse(
        f"sh -c 'echo build \"$@\" >> {record}' sh {{dockerfile}} {{build_args}} {{labels}} {{annotations}}"
        " {image}",
        f"sh -c 'echo push \"$0\" $(stat -c %a \"$1\") >> {record}; cat \"$1\" >> {record};"
        f" echo sha256:feed > \"$2\"; echo $REGISTRY_AUTH_FILE >> {record}; echo $DOCKER_CONFIG >> {record}'"
        " {image} {authfile} {digestfile}",
    )
    context = tmp_path / "ctx"
    context.mkdir()
    request = BuildRequest(
        image="registry.example.com/a/b:v1",
        context=context,
        dockerfile=context / "Dockerfile",
        registry_host="registry.example.com",
        tls_verify=True,
        build_args=(("VERSION", "v1"),),
        labels=(("org.opencontainers.image.revision", "c0ffee"),),
        annotations=(("org.opencontainers.image.created", "2024-05-01T10:00:00Z"),),
    )
    builder = ImageBuilder(tmp_path / "work", commands)
    built = builder.build(request, log_name="custom")
    digest, tail = builder.push(built, Credential("bot", "hunter2-secret"))
    text = record.read_text()
    assert digest == "sha256:feed"
    assert (
        "--build-arg VERSION=v1 --label org.opencontainers.image.revision=c0ffee"
        " --annotation org.opencontainers.image.created=2024-05-01T10:00:00Z registry.example.com/a/b:v1"
    ) in text
    assert "push registry.example.com/a/b:v1 600" in text
    # base64 of bot:hunter2-secret, the auths entry buildah/docker read
    assert '"registry.example.com": {"auth": "Ym90Omh1bnRlcjItc2VjcmV0"}' in text
    assert "auth.json" in text
    log = built.log_path.read_text()
    assert "hunter2-secret" not in log and "Ym90Omh1bnRlcjItc2VjcmV0" not in log  # argv holds paths only
    assert "hunter2-secret" not in tail
    assert not built.storage.exists()  # scratch storage and the auth file are gone


def test_a_list_item_that_looks_like_a_flag_is_refused(tmp_path: Path) -> None:
    """A ``key=value`` item starting with "-" never reaches the builder, where it could parse as a flag."""
    from ferry.ci.builder import BuilderCommands, BuildRequest, ImageBuilder

    record = tmp_path / "record.txt"
    commands = BuilderCommands.parse(f"sh -c 'echo \"$@\" >> {record}' sh {{annotations}}", "true")
    context = tmp_path / "ctx"
    context.mkdir()
    request = BuildRequest(
        image="registry.example.com/a/b:v1",
        context=context,
        dockerfile=context / "Dockerfile",
        registry_host="registry.example.com",
        tls_verify=True,
        annotations=(("--squash", "x"),),
    )
    with pytest.raises(ToolError, match="starts with '-'"):
        ImageBuilder(tmp_path / "work", commands).build(request, log_name="flag")
    assert not record.exists()
