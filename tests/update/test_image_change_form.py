"""ImageChange has one JSON form, and the release reads it back as it was written."""

from __future__ import annotations

from ferry.release.gates import ImageMove
from ferry.update.message import ImageChange


def test_the_event_form_round_trips_through_the_release() -> None:
    change = ImageChange("web", "127.0.0.1:5000/team/web", "v1", "v2", renders_unchanged=True)
    assert change.as_dict() == {
        "alias": "web",
        "image": "127.0.0.1:5000/team/web",
        "old_tag": "v1",
        "new_tag": "v2",
        "renders_unchanged": True,
    }
    moved = ImageMove.from_event(change.as_dict())
    assert moved == ImageMove("web", "127.0.0.1:5000/team/web", "v1", "v2", renders_unchanged=True)
