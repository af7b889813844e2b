"""An index's creation time: the newest among the manifests of a wanted platform."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ferry.image.platform import Platform
from ferry.registry.model import IndexChild, newest_matching_created

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64")
ARM_V6 = Platform("linux", "arm", "v6")
ARM_V7 = Platform("linux", "arm", "v7")

CASES = [
    # (scenario, children as (platform, hour or None), wanted, expected (matched, hour or None))
    ("platform filter ignores a newer foreign manifest", [(AMD64, 1), (ARM64, 5)], (AMD64,), (True, 1)),
    ("newest among several matching", [(AMD64, 1), (AMD64, 3), (ARM64, 5)], (AMD64,), (True, 3)),
    ("several wanted platforms", [(AMD64, 1), (ARM64, 5), (ARM_V7, 9)], (AMD64, ARM64), (True, 5)),
    ("variant must match when wanted", [(ARM_V6, 5), (ARM_V7, 2)], (ARM_V7,), (True, 2)),
    (
        "wanted without variant accepts any",
        [(ARM_V6, 5), (ARM_V7, 2)],
        (Platform("linux", "arm"),),
        (True, 5),
    ),
    ("nothing matches: the tag is dropped", [(ARM64, 5)], (AMD64,), (False, None)),
    ("matching child without time is skipped", [(AMD64, None), (AMD64, 2)], (AMD64,), (True, 2)),
    ("only timeless matches", [(AMD64, None)], (AMD64,), (True, None)),
    ("empty index", [], (AMD64,), (False, None)),
]


def at(hour: int | None) -> datetime | None:
    return None if hour is None else datetime(2024, 5, 1, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("children", "wanted", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_newest_matching_created(
    children: list[tuple[Platform, int | None]],
    wanted: tuple[Platform, ...],
    expected: tuple[bool, int | None],
) -> None:
    kids = tuple(IndexChild(f"sha256:{i}", platform) for i, (platform, _) in enumerate(children))
    times = {f"sha256:{i}": at(hour) for i, (_, hour) in enumerate(children)}
    assert newest_matching_created(kids, times, wanted) == (expected[0], at(expected[1]))
