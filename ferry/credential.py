"""The :class:`Credential` value: resolved secret material, as adapters receive it.

It is a leaf (it imports nothing of Ferry) so that an adapter can take a
credential without importing the resolver, and with it the configuration: the
resolver lives in :mod:`ferry.credentials`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Credential"]


@dataclass(frozen=True, slots=True)
class Credential:
    """Resolved secret material. ``repr`` never shows it."""

    username: str | None = field(default=None)
    password: str | None = field(default=None, repr=False)
    ssh_private_key: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        shown = [f"username={self.username!r}"]
        if self.password:
            shown.append("password='***'")
        if self.ssh_private_key:
            shown.append("ssh_private_key='***'")
        return f"Credential({', '.join(shown)})"
