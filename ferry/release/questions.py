"""What each gate asks, worded for the operator who decides it in the Prefect UI.

Every question carries two texts: the markdown description shown above the
form (and kept in the gate's artifact), and a short summary that becomes the
paused run's state message, so the run page says what is being decided before
anyone presses Resume. Lists, not tables: the Resume modal clips wide tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ferry.release.fleet import Wave
from ferry.release.gates import (
    SHORT_SHA,
    CanaryStep,
    CheckResult,
    GateQuestion,
    ImageMove,
    WriteBack,
    gate_key,
)

#: How much of a resource diff the form shows before it links to the full artifact.
DIFF_LINES = 40
DIFF_CHARS = 4000


#: How many changed fields of one resource the form lists before "… and N more".
FIELDS_PER_RESOURCE = 6


@dataclass(frozen=True, slots=True)
class ResourceChange:
    """One resource a sync changes: what it is, what happens to it, and which fields change."""

    resource: str
    action: str
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DiffDigest:
    """What the form shows of an environment's diff.

    Attributes:
        status: ``Synced`` or ``OutOfSync``.
        changes: Each resource that changes (``create``, ``update``, ``prune``).
        unified: The unified diff of every resource.
        total: How many resources the app has.
        artifact_url: The full diff's artifact, when it was published.
    """

    status: str
    changes: tuple[ResourceChange, ...]
    unified: str
    total: int
    artifact_url: str | None = None


def _show(value: object) -> str:
    if isinstance(value, dict | list):
        return f"({len(value)} {'keys' if isinstance(value, dict) else 'items'})"
    return f"`{value}`"


def field_changes(live: object, desired: object, path: str = "") -> list[str]:
    """Each leaf that differs between ``live`` and ``desired``, as ``path: old → new`` (a list, not a
    diff: one line per field wraps in the Resume modal, where a wide diff line is cut).

    >>> field_changes({"spec": {"replicas": 1, "c": [{"image": "a:v1"}]}},
    ...               {"spec": {"replicas": 2, "c": [{"image": "a:v3"}]}, "x": "y"})
    ['`spec.replicas`: `1` → `2`', '`spec.c[0].image`: `a:v1` → `a:v3`', '`x`: added `y`']
    """
    if isinstance(live, dict) and isinstance(desired, dict):
        found: list[str] = []
        for key in [*live, *(k for k in desired if k not in live)]:
            inner = f"{path}.{key}" if path else str(key)
            if key not in desired:
                found.append(f"`{inner}`: removed")
            elif key not in live:
                found.append(f"`{inner}`: added {_show(desired[key])}")
            else:
                found += field_changes(live[key], desired[key], inner)
        return found
    if isinstance(live, list) and isinstance(desired, list) and len(live) == len(desired):
        return [
            c
            for i, (a, b) in enumerate(zip(live, desired, strict=True))
            for c in field_changes(a, b, f"{path}[{i}]")
        ]
    return [] if live == desired else [f"`{path or '.'}`: {_show(live)} → {_show(desired)}"]


def truncate(text: str, lines: int = DIFF_LINES, chars: int = DIFF_CHARS) -> tuple[str, bool]:
    """The head of ``text``: at most ``lines`` lines and ``chars`` characters; and whether it was cut.

    >>> truncate("a\\nb\\nc\\n", lines=2)
    ('a\\nb\\n', True)
    >>> truncate("a\\n")
    ('a\\n', False)
    """
    kept = text.splitlines(keepends=True)[:lines]
    head = "".join(kept)[:chars]
    return head, head != text


def images_list(images: Sequence[ImageMove]) -> list[str]:
    """One list item per image: name, old → new tag, and the repository."""
    if not images:
        return ["- _no image change recorded_"]
    lines = [f"- **{i.name}**: `{i.old_tag or '—'}` → `{i.new_tag}` (`{i.image}`)" for i in images]
    # Image Updater commits such a change too; the approver should know it deploys nothing new.
    warnings = [
        f"- ⚠ `{i.image}:{i.new_tag}`: the write-back changes nothing that renders; "
        "no manifest reads the values its annotations name."
        for i in images
        if i.renders_unchanged
    ]
    return lines + warnings


def images_summary(images: Sequence[ImageMove]) -> str:
    """``echo-server v1-aaaaaa → v3-5a7147, …`` for the state message."""
    return ", ".join(f"{i.name} {i.old_tag or '—'} → {i.new_tag}" for i in images) or "no image change"


def _short(sha: str) -> str:
    return sha[:SHORT_SHA] or "?"


def _write_back_lines(commit: WriteBack) -> list[str]:
    lines = [f"- commit `{_short(commit.sha)}`" + (f": {commit.subject}" if commit.subject else "")]
    if commit.run_url:
        lines.append(f"- made by [the image-update run]({commit.run_url})")
    return lines


def _checks_lines(checks: Sequence[CheckResult]) -> list[str]:
    if not checks:
        return ["- no checks configured"]
    return [
        f"- {'✅' if c.passed else '❌'} **{c.name}** ({c.attempts} attempt(s))"
        + (f": {c.detail}" if c.detail else "")
        for c in checks
    ]


def dev_verified_question(
    release: str, app: str, commit: WriteBack, images: Sequence[ImageMove], checks: Sequence[CheckResult]
) -> GateQuestion:
    """Gate 1: Dev is Synced and Healthy at the write-back commit and validation ran; is it good?"""
    lines = [
        f"**Release `{release}`**: Dev (`{app}`) is Synced and Healthy at `{_short(commit.sha)}`.",
        "",
        "**Images**",
        "",
        *images_list(images),
        "",
        "**Write-back**",
        "",
        *_write_back_lines(commit),
        "",
        "**Validation**",
        "",
        *_checks_lines(checks),
        "",
        "Approve to go on to Staging; reject to stop this release.",
    ]
    passed = sum(c.passed for c in checks)
    summary = [
        f"Dev verified? {release}: {images_summary(images)}",
        f"write-back {_short(commit.sha)}" + (f" {commit.subject!r}" if commit.subject else ""),
        f"validation {passed}/{len(checks)} passed ({', '.join(c.name for c in checks)})"
        if checks
        else "no validation checks configured",
    ]
    if commit.run_url:
        summary.append(f"made by {commit.run_url}")
    return GateQuestion(
        gate_key("verified", "dev", commit.sha),
        "Dev verified?",
        "\n".join(lines),
        "\n".join(summary),
        commit.sha,
        {"commit": commit.sha, "app": app},
    )


def _diff_lines(diff: DiffDigest) -> list[str]:
    changed = len(diff.changes)
    lines = [f"**Resources**: {diff.status}, {changed} of {diff.total} change", ""]
    for change in diff.changes:
        lines.append(f"- `{change.resource}`: {change.action}")
        shown = change.fields[:FIELDS_PER_RESOURCE]
        lines += [f"    - {field}" for field in shown]
        if len(change.fields) > len(shown):
            lines.append(f"    - … and {len(change.fields) - len(shown)} more")
    if not diff.changes:
        lines.append("- nothing changes")
    if diff.unified:
        head, cut = truncate(diff.unified)
        fence = "~~~~"  # a manifest may itself hold ``` lines
        lines += ["", f"{fence}diff", head.rstrip("\n"), fence]
        if cut:
            total = len(diff.unified.splitlines())
            where = f"[the full diff]({diff.artifact_url})" if diff.artifact_url else "the run's artifacts"
            lines += ["", f"_The diff is cut here ({total} lines in all): see {where}._"]
        elif diff.artifact_url:
            lines += ["", f"[The diff as an artifact]({diff.artifact_url})"]
    return lines


def sync_question(
    env: str,
    app: str,
    commit: WriteBack,
    images: Sequence[ImageMove],
    diff: DiffDigest,
    note: str = "",
) -> GateQuestion:
    """The gate before an environment's sync: what moves, then the resource diff, inline."""
    title = f"Sync {env}?"
    head = f"Sync `{app}` ({env}) to `{_short(commit.sha)}`" + (
        f" ({commit.subject})" if commit.subject else ""
    )
    lines = [f"**{head}?**", ""]
    if note:
        lines += [f"> ⚠️ {note}", ""]
    lines += ["**Images**", "", *images_list(images), "", *_diff_lines(diff)]
    summary = [
        f"{title} {app} to {_short(commit.sha)}: {images_summary(images)}",
        f"{diff.status}: {len(diff.changes)} of {diff.total} resource(s) change",
    ]
    if note:
        summary.append(note)
    return GateQuestion(
        gate_key("sync", env, commit.sha),
        title,
        "\n".join(lines),
        "\n".join(summary),
        commit.sha,
        {"revision": commit.sha, "app": app},
    )


def canary_question(
    env: str, app: str, revision: str, step: CanaryStep, note: str = "", *, place: str | None = None
) -> GateQuestion:
    """The gate at a paused canary step, keyed by ``place`` (default ``env``; a wave's: ``<env>-<app>``)."""
    title = f"Approve canary {step.label()}?"
    lines = [
        f"`{app}` ({env}) at `{_short(revision)}`: the canary is paused at {step.label()}.",
        "",
        "Approve to continue; reject to abort the canary (the stable version keeps serving).",
    ]
    if note:
        lines = [f"> ⚠️ {note}", "", *lines]
    summary = f"{title} {app} ({env}) at {_short(revision)}" + (f"\n{note}" if note else "")
    return GateQuestion(
        gate_key("canary", place or env, revision, step.index),
        title,
        "\n".join(lines),
        summary,
        revision,
        {"revision": revision, "app": app},
    )


def head_moved(gate: str, branch: str, approved: str, head: str) -> str:
    """The warning the next gate carries when the branch moved while ``gate`` waited (else '').

    >>> head_moved("Sync staging?", "main", "aaaa", "aaaa")
    ''
    >>> head_moved("Sync staging?", "main", "a" * 40, "b" * 40).split(" while ")[0]
    'main moved from aaaaaaaaaaaa to bbbbbbbbbbbb'
    """
    if not head or head == approved:
        return ""
    return (
        f"{branch} moved from {_short(approved)} to {_short(head)} while {gate!r} waited; "
        f"{_short(approved)} was synced, as approved"
    )


def wave_question(
    env: str,
    wave: Wave,
    pins: Sequence[tuple[str, str, WriteBack]],
    images: Sequence[ImageMove],
    diffs: Sequence[DiffDigest],
    earlier: Sequence[str],
    note: str = "",
) -> GateQuestion:
    """The gate before one wave: every app's commit and changes, and what the earlier waves did.

    Args:
        env: The environment.
        wave: The wave.
        pins: ``(app, cluster, pinned commit)`` per app of the wave, in order.
        images: The release's image changes.
        diffs: Each app's diff, in the same order.
        earlier: One line per app of the earlier waves (their revision, health and decision).
        note: A warning to show first.
    """
    title = f"Sync {env} {wave.label}?"
    shas = list(dict.fromkeys(pin.sha for _, _, pin in pins))
    lines = [f"**Sync {len(pins)} app(s) of {env} {wave.label}?**", ""]
    if note:
        lines += [f"> ⚠️ {note}", ""]
    lines += ["**Images**", "", *images_list(images), ""]
    if earlier:
        lines += ["**Earlier waves**", "", *(f"- {line}" for line in earlier), ""]
    for (app, cluster, pin), diff in zip(pins, diffs, strict=True):
        lines += [f"### `{app}` on {cluster} → `{_short(pin.sha)}`", "", *_diff_lines(diff), ""]
    changed = sum(1 for d in diffs if d.changes)
    summary = [
        f"{title} {len(pins)} app(s) to {', '.join(_short(s) for s in shas)}: {images_summary(images)}",
        f"{changed} of {len(diffs)} app(s) change",
    ]
    return GateQuestion(
        gate_key("sync", f"{env}-wave-{wave.number}", shas[0] if shas else ""),
        title,
        "\n".join(lines).rstrip() + "\n",
        "\n".join(summary + ([note] if note else [])),
        shas[0] if len(shas) == 1 else "",
        {"revision": ",".join(shas), "app": ",".join(app for app, _, _ in pins), "wave": str(wave.number)},
    )
