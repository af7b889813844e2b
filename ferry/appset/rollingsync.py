"""``strategy.type: RollingSync``: an ApplicationSet's steps, read as ordered waves of Applications.

Argo CD's ``buildAppDependencyList`` is the spec, and :func:`waves` keeps its selection exactly:

- every ``matchExpressions`` entry of a step must hold (AND);
- ``In`` holds when the Application has the label with one of the values; without the label it fails;
- ``NotIn`` fails when the label has one of the values; without the label it holds;
- an Application selected by several steps belongs to the first (Argo CD records the others as a
  validation issue, and so does :class:`Waves`);
- an Application no step selects is in no wave: RollingSync never syncs it (Argo CD leaves it to a
  manual sync), and :attr:`Waves.unselected` lists it.

``maxUpdate`` (an integer, or a percentage of the step's Applications rounded down but at least 1,
default 100 %) bounds how many of a wave's Applications sync at once; :attr:`Wave.max_parallel`
resolves it. Where Argo CD records an invalid operator or ``maxUpdate`` as a condition and goes on,
Ferry refuses the ApplicationSet when it is read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ferry.errors import ConfigError

__all__ = ["MatchExpression", "RollingStep", "Wave", "Waves", "parse_strategy", "waves"]

_PERCENT = re.compile(r"^([0-9]+)%$")


@dataclass(frozen=True, slots=True)
class MatchExpression:
    key: str
    operator: str  # "In" or "NotIn"
    values: tuple[str, ...]

    def selects(self, labels: Mapping[str, str]) -> bool:
        if self.key not in labels:
            return self.operator == "NotIn"
        return (labels[self.key] in self.values) == (self.operator == "In")


@dataclass(frozen=True, slots=True)
class RollingStep:
    match_expressions: tuple[MatchExpression, ...]
    max_update: int | str | None = None  # None: 100 %; "25%"; or a count

    def selects(self, labels: Mapping[str, str]) -> bool:
        return all(e.selects(labels) for e in self.match_expressions)

    def max_parallel(self, total: int) -> int:
        """How many of the step's ``total`` Applications may sync at once."""
        if self.max_update is None:
            return max(total, 1)
        if isinstance(self.max_update, int):
            return self.max_update
        percent = int(_PERCENT.match(self.max_update).group(1))  # type: ignore[union-attr]
        return max(total * percent // 100, 1)


@dataclass(frozen=True, slots=True)
class Wave:
    """One step's Applications, in the order they were generated."""

    step: int  # 1-based, as Argo CD reports it
    applications: tuple[str, ...]
    max_parallel: int


@dataclass(frozen=True, slots=True)
class Waves:
    waves: tuple[Wave, ...]
    selections: tuple[tuple[str, ...], ...]  # every step's selection, duplicates included (Argo CD's list)
    unselected: tuple[str, ...]
    duplicates: Mapping[str, tuple[int, ...]]  # app -> every 1-based step that selects it
    empty_steps: tuple[int, ...]  # 1-based

    def step_of(self, application: str) -> int:
        """The 1-based step of ``application``, or -1 when no step selects it (Argo CD's ``getAppStep``)."""
        for wave in self.waves:
            if application in wave.applications:
                return wave.step
        return -1


def _expressions(raw: Any, where: str) -> tuple[MatchExpression, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{where} must be a list")
    out: list[MatchExpression] = []
    for index, item in enumerate(raw):
        at = f"{where}[{index}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{at} must be a mapping")
        key, operator, values = item.get("key"), item.get("operator"), item.get("values") or []
        if not isinstance(key, str) or not key:
            raise ConfigError(f"{at}.key must be a non-empty string")
        if operator not in ("In", "NotIn"):
            raise ConfigError(
                f"{at}.operator {operator!r} is invalid: supported operators are 'In' and 'NotIn'"
            )
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ConfigError(f"{at}.values must be a list of strings")
        out.append(MatchExpression(key, str(operator), tuple(values)))
    return tuple(out)


def _max_update(raw: Any, where: str) -> int | str | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ConfigError(f"{where} must be an integer or a percentage such as '25%'")
    if isinstance(raw, int):
        if raw < 1:
            # Argo CD would never update an Application of the step: a wave that can never finish.
            raise ConfigError(f"{where} must be at least 1, got {raw}")
        return raw
    match = _PERCENT.match(raw)
    if match is None:
        raise ConfigError(f"{where} {raw!r} is neither an integer nor a percentage such as '25%'")
    if int(match.group(1)) == 0:
        raise ConfigError(f"{where} '0%' lets no Application of the step sync")
    return raw


def parse_strategy(raw: Any, where: str) -> tuple[RollingStep, ...] | None:
    """``spec.strategy``: the steps of a RollingSync, or None for AllAtOnce (the default)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a mapping")
    kind = raw.get("type") or "AllAtOnce"
    if kind == "AllAtOnce":
        return None
    if kind != "RollingSync":
        raise ConfigError(f"{where}.type {kind!r} is neither AllAtOnce nor RollingSync")
    rolling = raw.get("rollingSync")
    if not isinstance(rolling, Mapping):
        raise ConfigError(f"{where}.rollingSync is required with type RollingSync")
    steps = rolling.get("steps") or []
    if not isinstance(steps, list):
        raise ConfigError(f"{where}.rollingSync.steps must be a list")
    out: list[RollingStep] = []
    for index, step in enumerate(steps):
        at = f"{where}.rollingSync.steps[{index}]"
        if not isinstance(step, Mapping):
            raise ConfigError(f"{at} must be a mapping")
        out.append(
            RollingStep(
                _expressions(step.get("matchExpressions"), f"{at}.matchExpressions"),
                _max_update(step.get("maxUpdate"), f"{at}.maxUpdate"),
            )
        )
    return tuple(out)


def waves(steps: Sequence[RollingStep], applications: Sequence[tuple[str, Mapping[str, str]]]) -> Waves:
    """Group ``(name, labels)`` Applications into the steps' waves.

    >>> step = RollingStep((MatchExpression("env", "In", ("dev",)),))
    >>> waves([step], [("app-dev", {"env": "dev"}), ("app-qa", {"env": "qa"})]).unselected
    ('app-qa',)
    """
    members: list[list[str]] = [[] for _ in steps]
    selections: list[list[str]] = [[] for _ in steps]
    selected_by: dict[str, list[int]] = {}
    for name, labels in applications:
        for index, step in enumerate(steps):
            if step.selects(labels):
                selected_by.setdefault(name, []).append(index)
                selections[index].append(name)
        if name in selected_by:
            members[selected_by[name][0]].append(name)
    return Waves(
        waves=tuple(
            Wave(index + 1, tuple(apps), step.max_parallel(len(apps)))
            for index, (step, apps) in enumerate(zip(steps, members, strict=True))
        ),
        selections=tuple(tuple(s) for s in selections),
        unselected=tuple(name for name, _ in applications if name not in selected_by),
        duplicates={n: tuple(i + 1 for i in s) for n, s in sorted(selected_by.items()) if len(s) > 1},
        empty_steps=tuple(index + 1 for index, selection in enumerate(selections) if not selection),
    )
