"""Must-show: a registry push notification starts an image-updater run.

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
    # The run was created by the trigger after the push, then started. How fast is measured in
    # bench/ (a test bounding wall time only measures the machine's load).
    assert 0 < sample.to_run_created < sample.to_run_started, sample
