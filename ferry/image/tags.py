"""Tags as the update strategies see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ImageTag:
    """One tag of one image repository, with the metadata a strategy may need.

    ``created`` is the image config's creation time (not the push time): the
    ``newest-build`` strategy orders by it. ``digest`` is the manifest digest the
    tag points at: the ``digest`` strategy follows it. Both stay ``None`` when the
    strategy did not need them, so that a semver cycle costs no manifest fetches.
    """

    name: str
    created: datetime | None = None
    digest: str | None = None

    def with_digest(self) -> str:
        """The tag as Image Updater writes it when it pins a digest: ``tag@sha256:…``.

        >>> ImageTag("latest", digest="sha256:ab").with_digest()
        'latest@sha256:ab'
        >>> ImageTag("v1").with_digest()
        'v1'
        """
        return f"{self.name}@{self.digest}" if self.digest else self.name
