"""The demo registry's password never appears on a command line (issue 10, finding 10).

``htpasswd -Bbc FILE user password`` put it into argv, where ``ps`` and /proc show it to
every user of the machine. A wrapper placed first on PATH records the argv the real
``htpasswd`` is given, then runs it, and the real registry must accept the password.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import httpx
import pytest

from ferry.devenv.registry import start_registry


def test_the_htpasswd_password_goes_through_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = shutil.which("htpasswd")
    assert real is not None, "apache2-utils is installed by scripts/bootstrap.sh"
    wrappers = tmp_path / "bin"
    wrappers.mkdir()
    record = tmp_path / "argv"
    wrapper = wrappers / "htpasswd"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{record}"\nexec "{real}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{wrappers}{os.pathsep}{os.environ['PATH']}")
    password = "demo-pass-7f3a9c"

    server = start_registry(tmp_path / "registry", auth=("demo", password))
    try:
        assert httpx.get(f"{server.url}/v2/", auth=("demo", password), timeout=5).status_code == 200
        assert httpx.get(f"{server.url}/v2/", auth=("demo", "wrong"), timeout=5).status_code == 401
    finally:
        server.stop()
    argv = record.read_text().splitlines()
    assert argv, "htpasswd was run through the wrapper"
    assert password not in argv
    assert "demo" in argv
