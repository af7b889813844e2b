"""Must-show: a registry push notification starts an image-updater run within seconds.

Real pieces only: the harness's Prefect server (its triggers and actions services run in
ephemeral mode), ``image-updater`` served with the same trigger prefect.yaml declares,
``ferry receive`` with the Prefect emitter, and Distribution notifying it. The measured figures
for a standalone ``prefect server start`` are in bench/RESULTS.md (bench/push_latency.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.push_latency import measure


@pytest.mark.slow
def test_push_notification_starts_image_updater(prefect_harness: str, tmp_path: Path) -> None:
    (sample,) = measure(prefect_harness, tmp_path, runs=1, poll=1.0, timeout=90)
    assert 0 < sample.to_run_created < sample.to_run_started
    # "Within seconds": generous, because the 2-core test machine runs other suites at once.
    assert sample.to_run_started < 45, sample
