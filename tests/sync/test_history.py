"""History encoding and retention, and the automated-sync decision."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ferry.argocd.application import parse_application
from ferry.sync.engine import auto_sync_decision
from ferry.sync.history import Attempt, SyncState, append_entry, configmap_name, decode, encode
from ferry.sync.model import HistoryEntry, SyncStatus


def entry(revision: str = "a" * 40) -> HistoryEntry:
    return HistoryEntry(
        0, revision, ("r/echo:v1",), "2024-05-01T10:00:00Z", "alice", "run-1", {"repoURL": "file:///d.git"}
    )


@pytest.mark.parametrize(
    "attempt",
    [Attempt("b" * 40, False, "t", "boom"), Attempt("b" * 40, False, "t", "syncing (run r)", running=True)],
    ids=["failed", "running"],
)
def test_state_round_trips_through_configmap_data(attempt: Attempt) -> None:
    state = SyncState(append_entry((), entry(), 10), attempt, (("apps/v1", "Deployment"), ("v1", "Service")))
    assert decode(encode(state)) == state


def test_an_attempt_written_before_running_was_recorded_reads_as_finished() -> None:
    """ConfigMaps written before ``running`` existed carry no such key: their attempt ended."""
    old = {"lastAttempt": '{"at": "t", "message": "ok", "revision": "%s", "succeeded": true}' % ("b" * 40)}
    attempt = decode(old).last_attempt
    assert attempt is not None and (attempt.running, attempt.phase) == (False, "Succeeded")


@pytest.mark.parametrize(
    "data",
    [None, {}, {"history": "not json", "lastAttempt": "{", "kinds": "7"}],
    ids=["no configmap", "empty data", "garbage"],
)
def test_unreadable_state_is_empty(data) -> None:
    assert decode(data) == SyncState()


@given(st.integers(min_value=1, max_value=15), st.integers(min_value=0, max_value=30))
def test_history_keeps_the_newest_limit_entries_with_rising_ids(limit: int, syncs: int) -> None:
    history: tuple[HistoryEntry, ...] = ()
    for _ in range(syncs):
        history = append_entry(history, entry(), limit)
    assert len(history) == min(limit, syncs)
    assert [e.id for e in history] == list(range(syncs - len(history) + 1, syncs + 1))


def test_configmap_name_fits_kubernetes_limits() -> None:
    assert len(configmap_name("a" * 253)) <= 253


def app(automated: dict | None):
    policy = {"automated": automated} if automated is not None else {}
    return parse_application(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "a"},
            "spec": {"source": {"repoURL": "file:///r"}, "syncPolicy": policy},
        },
        source="t",
    )


SHA, OLD = "c" * 40, "d" * 40


@pytest.mark.parametrize(
    ("automated", "status", "attempt", "go"),
    [
        (None, SyncStatus.OUT_OF_SYNC, None, False),
        ({}, SyncStatus.SYNCED, None, False),
        ({}, SyncStatus.OUT_OF_SYNC, None, True),
        ({}, SyncStatus.OUT_OF_SYNC, Attempt(OLD, True, "t"), True),
        ({}, SyncStatus.OUT_OF_SYNC, Attempt(SHA, False, "t"), False),
        ({"selfHeal": True}, SyncStatus.OUT_OF_SYNC, Attempt(SHA, False, "t"), True),
        ({}, SyncStatus.OUT_OF_SYNC, Attempt(SHA, True, "t"), False),
        ({"selfHeal": True}, SyncStatus.OUT_OF_SYNC, Attempt(SHA, True, "t"), True),
        ({}, SyncStatus.OUT_OF_SYNC, Attempt(SHA, False, "t", running=True), True),
        ({}, SyncStatus.SYNCED, Attempt(SHA, False, "t", running=True), True),
        (None, SyncStatus.OUT_OF_SYNC, Attempt(SHA, False, "t", running=True), False),
    ],
    ids=[
        "not automated",
        "already synced",
        "first sync",
        "new revision",
        "failed revision not retried",
        "failed revision retried with selfHeal",
        "drift ignored without selfHeal",
        "drift healed",
        "an interrupted sync is finished",
        "an interrupted sync that applied everything is still recorded",
        "an interrupted sync of a manual app waits for a human",
    ],
)
def test_auto_sync_decision(automated, status, attempt, go) -> None:
    assert auto_sync_decision(app(automated), status, SHA, attempt)[0] is go
