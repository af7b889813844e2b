"""Transcribe the table literals of Go test functions into YAML (run by hand, not by pytest).

    python tests/image/upstream/transcribe_go_tables.py GIT_DIR REV FILE Func1,Func2,... > out.yaml

Every ``{...}`` row of a ``tests := []struct{...}{...}`` (or a plain ``[]string{...}``)
literal in each named function becomes a list of its values: strings (escapes
decoded), booleans, integers, ``nil`` as null, and other identifiers as
``{ident: name}``. Only facts move across: the inputs and the expected outputs.
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import yaml

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<raw>`[^`]*`)|(?P<int>-?\d+)\b|(?P<ident>[A-Za-z_][\w.]*)'
    r"|(?P<open>\{)|(?P<close>\})|(?P<comma>,)|(?P<comment>//[^\n]*)|(?P<other>.))",
    re.S,
)


def _function_body(source: str, name: str) -> str:
    start = source.index(f"func {name}(")
    brace = source.index("{", start)
    depth = 0
    for index in range(brace, len(source)):
        depth += {"{": 1, "}": -1}.get(source[index], 0)
        if depth == 0:
            return source[brace + 1 : index]
    raise ValueError(f"unterminated function {name}")


def _value(match: re.Match[str]) -> Any:
    if match["str"]:
        return bytes(match["str"][1:-1], "utf-8").decode("unicode_escape")
    if match["raw"]:
        return match["raw"][1:-1]
    if match["int"]:
        return int(match["int"])
    ident = match["ident"]
    return {"true": True, "false": False, "nil": None}.get(ident, {"ident": ident})


def rows(body: str) -> list[Any]:
    """The rows of the first table literal in ``body``."""
    literal = re.search(r"(?:\[\]struct\s*\{[^{}]*\}|\[\]string)\s*\{", body)
    if literal is None:
        raise ValueError("no table literal")
    found: list[Any] = []
    depth, row = 1, None
    for match in _TOKEN.finditer(body, literal.end()):
        if match["comment"] or match["comma"] or (match["other"] and match["other"].isspace()):
            continue
        if match["open"]:
            depth += 1
            if depth == 2:
                row = []
            continue
        if match["close"]:
            depth -= 1
            if depth == 1 and row is not None:
                found.append(row)
                row = None
            if depth == 0:
                return found
            continue
        if match["other"] in ("(", ")") or match["ident"] == "MustParse":
            continue  # MustParse("1.2.3") is the version "1.2.3"
        value = _value(match) if not match["other"] else {"other": match["other"]}
        if depth == 2 and row is not None:
            row.append(value)
        elif depth == 1:
            found.append(value)
    raise ValueError("unterminated table")


def main() -> None:
    git_dir, rev, path, names = sys.argv[1:5]
    source = subprocess.run(
        ["git", f"--git-dir={git_dir}", "show", f"{rev}:{path}"], check=True, capture_output=True, text=True
    ).stdout
    tables = {name: rows(_function_body(source, name)) for name in names.split(",")}
    print(f"# Transcribed from {path} at {rev} by transcribe_go_tables.py (MIT, the Masterminds authors).")
    print(yaml.safe_dump({"source": f"{path}@{rev}", "tables": tables}, sort_keys=False, width=200), end="")


if __name__ == "__main__":
    main()
