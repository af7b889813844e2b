"""The pydantic base of every ``ferry.yaml`` model: frozen, strict about unknown keys."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["FrozenModel"]


class FrozenModel(BaseModel):
    """Immutable once validated; an unknown key is an error (a typo must not be ignored silently).

    ``populate_by_name`` lets Python code build a model by field name where the YAML uses an alias.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
