"""The demo's source repository: a tiny echo server that buildah builds ``FROM scratch``.

The image holds Debian's statically linked busybox (package ``busybox-static``)
and a CGI script: ``busybox httpd`` serves ``/cgi-bin/echo``, which answers with
the request method, path, query and body, plus the build's version. No base
image is pulled, so the build works without Docker Hub.

Typical use (the demo, the tests)::

    source = create_source_repo(root / "echo-server.git")
    sha = source.release("v3")          # pushes refs/tags/release-v3, returns the commit
    source.break_dockerfile()           # a commit whose build fails
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ferry.errors import ToolError

BUSYBOX = Path("/bin/busybox")
EXECUTABLES = frozenset({"busybox", "www/cgi-bin/echo"})
IMAGE_REPOSITORY = "cidemo/echo-server"

DOCKERFILE = """\
# The demo echo server: static busybox + one CGI script, no base image.
FROM scratch
ARG VERSION=dev
COPY busybox /bin/busybox
COPY www/ /www/
ENV ECHO_VERSION=$VERSION
EXPOSE 8080
ENTRYPOINT ["/bin/busybox", "httpd", "-f", "-v", "-p", "8080", "-h", "/www"]
"""

ECHO_CGI = """\
#!/bin/busybox sh
# Echo the request back: method, path, query, body, and the image's version.
body=""
if [ -n "$CONTENT_LENGTH" ] && [ "$CONTENT_LENGTH" -gt 0 ]; then
  body=$(/bin/busybox head -c "$CONTENT_LENGTH")
fi
printf 'Content-Type: text/plain\\r\\n\\r\\n'
printf 'version=%s\\nmethod=%s\\npath=%s\\nquery=%s\\nbody=%s\\n' \\
  "$ECHO_VERSION" "$REQUEST_METHOD" "$REQUEST_URI" "$QUERY_STRING" "$body"
"""

INDEX_HTML = "<!doctype html><title>echo-server</title><p>POST or GET /cgi-bin/echo</p>\n"

BROKEN_DOCKERFILE = """\
FROM scratch
COPY this-file-does-not-exist /nowhere
"""

_IDENTITY = ["-c", "user.name=Ferry Demo", "-c", "user.email=demo@ferry.local", "-c", "commit.gpgsign=false"]


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *_IDENTITY, *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ToolError(f"git {' '.join(args)} failed in {cwd}: {done.stderr.strip()}")
    return done.stdout.strip()


def source_files() -> dict[str, bytes]:
    """The echo server's files, keyed by repo path (busybox is copied from the host)."""
    if not BUSYBOX.is_file():
        raise ToolError(f"{BUSYBOX} is missing: install the busybox-static package (scripts/bootstrap.sh)")
    return {
        "Dockerfile": DOCKERFILE.encode(),
        "busybox": BUSYBOX.read_bytes(),
        "www/index.html": INDEX_HTML.encode(),
        "www/cgi-bin/echo": ECHO_CGI.encode(),
        "README.md": (
            b"# echo-server\n\nThe Ferry demo's source repository. Push `release-<version>` to build.\n"
        ),
    }


@dataclass
class SourceRepo:
    """A bare source repository plus a working copy the demo commits and pushes from."""

    bare: Path
    work: Path

    @property
    def url(self) -> str:
        """The ``file://`` URL build rules point at."""
        return self.bare.resolve().as_uri()

    def head(self) -> str:
        """The working copy's HEAD commit."""
        return _git(self.work, "rev-parse", "HEAD")

    def commit(self, files: dict[str, bytes | str], message: str, *, branch: str = "main") -> str:
        """Commit ``files`` on the working copy and push it to ``branch``; return the SHA."""
        for rel, content in files.items():
            path = self.work / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content.encode() if isinstance(content, str) else content)
            if rel in EXECUTABLES:
                path.chmod(0o755)
        _git(self.work, "add", "-A")
        _git(self.work, "commit", "--quiet", "--allow-empty", "-m", message)
        _git(self.work, "push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")
        return self.head()

    def push_ref(self, ref: str, *, force: bool = False) -> str:
        """Push HEAD to ``ref`` (``release-v3`` → ``refs/tags/release-v3``); return the SHA.

        A bare name is pushed as a tag, ``heads/<name>`` as a branch, a full ``refs/...`` as given.
        """
        if ref.startswith("refs/"):
            full = ref
        elif ref.startswith("heads/"):
            full = f"refs/{ref}"
        else:
            full = f"refs/tags/{ref}"
        _git(self.work, "push", "--quiet", *(["--force"] if force else []), "origin", f"HEAD:{full}")
        return self.head()

    def release(self, version: str) -> str:
        """Push the current HEAD as ``release-<version>``: what a developer does to start the chain."""
        return self.push_ref(f"release-{version}")

    def break_dockerfile(self) -> str:
        """Commit a Dockerfile that cannot build (it copies a missing file); return the SHA."""
        return self.commit({"Dockerfile": BROKEN_DOCKERFILE}, "break the Dockerfile")


def create_source_repo(bare: Path, *, branch: str = "main") -> SourceRepo:
    """Create a bare source repo at ``bare`` holding the echo server on ``branch``, and its working copy."""
    if bare.exists():
        raise ToolError(f"{bare} already exists")
    bare.mkdir(parents=True)
    _git(bare, "init", "--quiet", "--bare", f"--initial-branch={branch}")
    work = bare.with_name(bare.name.removesuffix(".git") + ".work")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    _git(work, "init", "--quiet", f"--initial-branch={branch}")
    _git(work, "remote", "add", "origin", bare.resolve().as_uri())
    repo = SourceRepo(bare, work)
    files: dict[str, bytes | str] = dict(source_files())
    repo.commit(files, "echo-server: a tiny echo server on busybox httpd", branch=branch)
    return repo


def build_rule(repo_url: str, registry_host: str, *, name: str = "echo-server") -> dict[str, object]:
    """The ``builds:`` entry the demo puts into ``ferry.yaml`` for this repository."""
    return {
        "name": name,
        "repo": repo_url,
        "ref_type": "tag",
        "pattern": r"^release-(?P<version>.+)$",
        "dockerfile": "Dockerfile",
        "context": ".",
        "image": f"{registry_host}/{IMAGE_REPOSITORY}",
        "tag": "{version}-{sha:6}",
        "build_args": {"VERSION": "{version}"},
    }
