"""Kubernetes label selectors (``matchLabels``, ``matchExpressions``), as the clusters generator uses them.

Argo CD matches a ``clusters`` selector against the cluster Secret's labels with
``metav1.LabelSelectorAsSelector``, and a generator's own ``selector`` against its flattened
parameters with a copy of it that accepts any value (so that a URL can be matched). The semantics
are the same: every requirement must hold; ``In`` needs the key with one of the values, ``NotIn``
holds when the key is absent or its value is none of them, ``Exists``/``DoesNotExist`` test the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ferry.errors import ConfigError

__all__ = ["LabelSelector", "Requirement", "parse_selector"]

_OPERATORS = frozenset({"In", "NotIn", "Exists", "DoesNotExist"})


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        if self.operator == "In":
            return present and labels[self.key] in self.values
        return not present or labels[self.key] not in self.values


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A parsed selector; the empty one matches everything."""

    requirements: tuple[Requirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, labels: Mapping[str, str]) -> bool:
        """
        >>> parse_selector({"matchLabels": {"env": "prod"}}, "selector").matches({"env": "prod"})
        True
        """
        return all(r.matches(labels) for r in self.requirements)


def parse_selector(raw: Any, where: str) -> LabelSelector:
    """Validate a selector mapping; a bad one is a :class:`ConfigError` naming the field."""
    if raw is None:
        return LabelSelector()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a mapping")
    unknown = sorted(set(raw) - {"matchLabels", "matchExpressions"})
    if unknown:
        raise ConfigError(f"{where}: unknown field {unknown[0]!r} (matchLabels, matchExpressions)")
    requirements: list[Requirement] = []
    labels = raw.get("matchLabels") or {}
    if not isinstance(labels, Mapping):
        raise ConfigError(f"{where}.matchLabels must be a mapping of strings")
    for key, value in sorted(labels.items()):
        if not isinstance(key, str) or not isinstance(value, str):
            raise ConfigError(f"{where}.matchLabels.{key}: keys and values must be strings")
        requirements.append(Requirement(key, "In", (value,)))
    expressions = raw.get("matchExpressions") or []
    if not isinstance(expressions, list):
        raise ConfigError(f"{where}.matchExpressions must be a list")
    for index, expression in enumerate(expressions):
        at = f"{where}.matchExpressions[{index}]"
        if not isinstance(expression, Mapping):
            raise ConfigError(f"{at} must be a mapping")
        key, operator, values = (
            expression.get("key"),
            expression.get("operator"),
            expression.get("values") or [],
        )
        if not isinstance(key, str) or not key:
            raise ConfigError(f"{at}.key must be a non-empty string")
        if operator not in _OPERATORS:
            raise ConfigError(f"{at}.operator {operator!r} is not one of In, NotIn, Exists, DoesNotExist")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ConfigError(f"{at}.values must be a list of strings")
        if operator in ("In", "NotIn") and not values:
            raise ConfigError(f"{at}.values: for 'in', 'notin' operators, values set can't be empty")
        if operator in ("Exists", "DoesNotExist") and values:
            raise ConfigError(f"{at}.values: values set must be empty for exists and does not exist")
        requirements.append(Requirement(key, str(operator), tuple(values)))
    return LabelSelector(tuple(requirements))
