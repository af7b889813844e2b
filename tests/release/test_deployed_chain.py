"""The deployed system carries a ``git push release-vN``, through deployments on a worker, to the gates.

Nothing here calls a flow: each stage is a deployment run started by its trigger
(source push → ``ci-build`` → ``ferry.image.pushed`` → ``image-updater`` →
``ferry.image.updated`` → ``sync-dev`` and ``release``), and every gate is
answered through the REST API, exactly as the UI's Resume form answers it.
Staging goes out by Ferry's native canary; Production is two waves, one region
each: the session's ``production`` cluster, then ``production-2`` (the
``second_region`` fixture). There the echo server is an Argo Rollout that each
cluster's real controller rolls out, one Ferry gate per pause, after the wave's gate.
"""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest

from ferry.config import load_config
from ferry.devenv.prefect_api import PrefectApi, parse_time
from ferry.devenv.seed import CHART_PATH, PRODUCTION_ROLLOUT, RELEASE_GATES, ROLLOUT_CLUSTERS, workload
from ferry.devenv.system import APPS, System, push_release
from ferry.release.argo import ARGO_API
from ferry.release.canary import canary_name
from ferry.sync.engine import SyncEngine
from tests.fixtures.git import BareRepo

# The session's deployed system takes minutes to come up on a loaded machine (the first test that
# asks for it pays), and every gate of a release is a new Python process.
pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(1800)]


def _engine(system: System) -> SyncEngine:
    assert system.config is not None
    return SyncEngine(load_config(system.config))


def _live(
    system: System, env: str, name: str = "echo-server", kind: tuple[str, str] | None = None
) -> dict[str, Any] | None:
    """The live object ``name`` in ``env``: by default of the kind the seed renders it as there."""
    api_version, kind_name = kind or workload(env, name)
    with _engine(system) as engine:
        cluster, namespace = engine.connect(APPS[env]), engine.target(APPS[env]).namespace
        return cluster.get(api_version, kind_name, name, namespace)


def _image(system: System, env: str) -> str:
    live = _live(system, env)
    assert live is not None, f"no echo-server {workload(env, 'echo-server')[1]} in {env}"
    return str(live["spec"]["template"]["spec"]["containers"][0]["image"])


def _rollout_status(system: System, place: str = "production") -> dict[str, Any]:
    live = _live(system, place, PRODUCTION_ROLLOUT, (ARGO_API, "Rollout"))
    assert live is not None, "Production's echo server is a Rollout"
    return dict(live.get("status") or {})


def _paused_by_the_controller(status: dict[str, Any], step_index: int, canary_pods: int) -> None:
    """The controller (nobody else writes a Rollout's status here) holds the canary at that pause."""
    assert status["currentStepIndex"] == step_index, status
    assert [c["reason"] for c in status.get("pauseConditions") or []] == ["CanaryPauseStep"], status
    assert status["currentPodHash"] != status["stableRS"], "a canary ReplicaSet next to the stable one"
    # Production's 3 replicas: 25 % and 50 % are 1 and 2 canary pods, rounded up as the controller does.
    assert status["updatedReplicas"] == canary_pods, status


def _history(system: System, env: str) -> list[Any]:
    with _engine(system) as engine:
        return list(engine.history(APPS[env]))


def _key(run: dict[str, Any]) -> str:
    return str(((run.get("state") or {}).get("state_details") or {}).get("pause_key") or "")


def _answer(api: PrefectApi, run: dict[str, Any], decision: str, approver: str, comment: str = "") -> None:
    result = api.resume(run["id"], {"decision": decision, "approver": approver, "comment": comment})
    assert result["status"] == "ACCEPT", result


def _next_gate(api: PrefectApi, run_id: str, after_key: str, timeout: float = 600) -> dict[str, Any]:
    """The run once it is paused at a gate other than ``after_key``, or has ended."""

    def moved() -> dict[str, Any] | None:
        run = api.flow_run(run_id)
        if run["state_type"] in ("COMPLETED", "FAILED", "CANCELLED", "CRASHED"):
            return run
        return run if run["state_type"] == "PAUSED" and _key(run) != after_key else None

    return api.wait(moved, timeout, f"run {run_id} to pass gate {after_key}")


def _released(system: System, version: str) -> tuple[str, float, dict[str, Any]]:
    """Push ``release-<version>``; return the new tag, the end of the push and the release run once it
    waits at "Dev verified?"."""
    sha, pushed_at = push_release(system, version)
    run = system.wait_for_gate("verified-dev-*", after=pushed_at - 1, timeout=600)
    return f"{version}-{sha[:6]}", pushed_at, run


def _release_status(api: PrefectApi, run_id: str) -> dict[str, list[str]]:
    """The run's newest ``release-status-echo-server`` artifact: app → its wave, cluster and state cells."""
    versions = [a for a in api.artifacts(run_id) if a["key"] == "release-status-echo-server"]
    assert versions, "the release published its fleet view"
    rows: dict[str, list[str]] = {}
    for line in str(versions[0]["data"]).splitlines():
        # | environment | wave | cluster | app | state | revision | health | canary | gate |
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 9 and cells[3].startswith("`"):
            rows[cells[3].strip("`")] = [cells[1], cells[2], cells[4]]
    return rows


def _runs_since(api: PrefectApi, since: float) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Deployment → names of its runs that started after ``since``; and of those a trigger created."""
    names = {d["id"]: d["name"] for d in api.deployments()}
    started: dict[str, list[str]] = {}
    triggered: dict[str, list[str]] = {}
    for run in api.flow_runs():
        if (parse_time(run.get("start_time")) or 0) < since:
            continue
        started.setdefault(names[run["deployment_id"]], []).append(run["name"])
        if (run.get("created_by") or {}).get("type") == "AUTOMATION":
            triggered.setdefault(names[run["deployment_id"]], []).append(run["name"])
    return started, triggered


def test_a_git_push_reaches_every_gate_and_production_runs_the_new_tag(deployed_system: System) -> None:
    system = deployed_system
    assert system.deploy_repo is not None
    v1 = system.notes[0]
    before = {env: _image(system, env) for env in ("staging", *ROLLOUT_CLUSTERS)}
    assert all(image.endswith(f":{v1}") for image in before.values()), before
    tag, pushed_at, release = _released(system, "v3")

    with system.api() as api:
        # Every stage was a run of its deployment that its trigger created, named after what it did.
        assert all(r["deployment_id"] for r in api.flow_runs()), "every flow run belongs to a deployment"
        started, triggered = _runs_since(api, pushed_at - 1)
        # The push's event starts ci-build; which of its runs builds the tag (a scheduled run may
        # hold the deployment's one slot at that moment) does not matter.
        assert triggered.get("ci-build") and "ci-build echo-server release-v3" in started["ci-build"], started
        assert "image-update 4 apps" in started["image-updater"] and triggered.get("image-updater"), started
        assert triggered.get("sync-dev"), "ferry.image.updated started sync-dev"
        assert release["name"] == f"release echo-server {tag}" and release["name"] in triggered["release"]
        assert release["state"]["message"].count("→") == 2, "both images moved"

        # The question is on the run before anyone resumes it: state message, artifact, form description.
        assert release["state_name"] == "Suspended", "the run's process exited: the worker is free"
        message = release["state"]["message"]
        assert f"→ {tag}" in message and "validation 1/1 passed (smoke-job)" in message
        assert "build: automatic update of app-helm-dev" in message and "/runs/flow-run/" in message
        question = next(a for a in api.artifacts(release["id"]) if a["key"] == f"gate-{_key(release)}")
        assert "Waiting for a decision" in question["data"] and f"`{tag}`" in question["data"]
        keyset = release["state"]["state_details"]["run_input_keyset"]
        described = api.run_input_description(release["id"], keyset)
        assert described is not None and "**Validation**" in described and f"`{tag}`" in described

        # The worker goes away while the run waits (no clean shutdown); a new one carries on.
        system.stop_worker()
        _answer(api, release, "approve", "alice", "dev looks good")
        system.start_worker()

        run, approver = release, "alice"
        seen: list[str] = []
        moved_head = ""
        for pattern in RELEASE_GATES:
            if seen:
                run = _next_gate(api, release["id"], seen[-1])
            key = _key(run)
            assert fnmatch.fnmatchcase(key, pattern), f"expected a gate {pattern}, the run is at {key!r}"
            seen.append(key)
            if pattern == "verified-dev-*":
                continue  # answered above, across the worker restart
            if pattern == "sync-staging-*":
                assert _image(system, "staging") == before["staging"], "nothing is synced before its gate"
                # The branch moves while the gate waits: the approval still means the commit it showed.
                moved_head = BareRepo(system.deploy_repo).commit(
                    {f"{CHART_PATH}/NOTES.txt": "echo-server\n"}, "docs: a commit nobody approved for staging"
                )
            if pattern == "canary-staging-*-step-1":
                canary = _live(system, "staging", canary_name("echo-server"))
                assert canary is not None and canary["spec"]["template"]["spec"]["containers"][0][
                    "image"
                ].endswith(tag)
                assert _image(system, "staging") == before["staging"], (
                    "the stable version changes after the last step"
                )
                assert f"moved from {key.split('-')[2]}" in run["state"]["message"], (
                    "the next gate says the branch moved"
                )
            if pattern == "sync-production-wave-1-*":
                assert _image(system, "staging").endswith(f":{tag}")
                assert all(_image(system, place) == before[place] for place in ROLLOUT_CLUSTERS)
                assert "Sync production wave 1 (cn-hangzhou)?" in run["state"]["message"]
                stable_before = {p: _rollout_status(system, p)["stableRS"] for p in ROLLOUT_CLUSTERS}
            if pattern == "sync-production-wave-2-*":
                # Wave 1 is done before wave 2 is asked: its region fully promoted, the second still on v1.
                done = _rollout_status(system, "production")
                assert done["phase"] == "Healthy" and done["stableRS"] == done["currentPodHash"], done
                assert _image(system, "production").endswith(f":{tag}")
                assert _image(system, "production-2") == before["production-2"], "wave 2 waits for its gate"
                assert _rollout_status(system, "production-2")["stableRS"] == stable_before["production-2"]
                assert "Sync production wave 2 (cn-beijing)?" in run["state"]["message"]
                asked = next(a for a in api.artifacts(run["id"]) if a["key"] == f"gate-{key}")["data"]
                earlier = asked.split("**Earlier waves**", 1)[-1].split("###", 1)[0]
                assert "wave 1 `app-helm-production` on production: released" in earlier, asked
                # Suspended between the waves, the worker dies; a new one resumes the next wave.
                system.stop_worker()
                _answer(api, run, "approve", "carol")
                system.start_worker()
                continue
            # The longest app name first: app-helm-production is a prefix of app-helm-production-2.
            by_length = sorted(ROLLOUT_CLUSTERS, key=lambda p: -len(APPS[p]))
            place = next((p for p in by_length if f"-{APPS[p]}-" in pattern), "")
            if pattern.endswith("-step-2") and place:
                # Argo's gates: the sync already changed the Rollout; the controller paused after 25 %.
                assert _image(system, place).endswith(f":{tag}")
                _paused_by_the_controller(_rollout_status(system, place), 1, 1)
                assert "step 2/4 (traffic 25%" in run["state"]["message"], run["state"]["message"]
            if pattern.endswith("-step-4") and place:
                _paused_by_the_controller(_rollout_status(system, place), 3, 2)
            approver = "carol" if "production" in pattern else "bob"
            _answer(api, run, "approve", approver)
        final = api.wait_final(release["id"], 600)
        fleet = _release_status(api, release["id"])

    assert final["state_type"] == "COMPLETED", final["state"]
    assert len(seen) == len(RELEASE_GATES) == 10, seen
    for env in ("staging", *ROLLOUT_CLUSTERS):
        assert _image(system, env).endswith(f":{tag}"), env
    assert _live(system, "staging", canary_name("echo-server")) is None, "the staging canary was cleaned up"
    # Production took the Argo path in both regions: each controller promoted its Rollout fully to a new
    # ReplicaSet, and no Deployment of Ferry's native canary (nor a plain one) ever ran the echo server.
    for place in ROLLOUT_CLUSTERS:
        done = _rollout_status(system, place)
        assert done["phase"] == "Healthy" and done["stableRS"] == done["currentPodHash"], (place, done)
        assert done["stableRS"] != stable_before[place], (place, done)
        assert not done.get("pauseConditions") and done["currentStepIndex"] == 4, (place, done)
        for name in ("echo-server", canary_name("echo-server")):
            assert _live(system, place, name, ("apps/v1", "Deployment")) is None, (place, name)
    # The run's last fleet view: both waves released, each on its own cluster.
    assert fleet["app-helm-production"][:3] == ["1", "production", "released"], fleet
    assert fleet["app-helm-production-2"][:3] == ["2", "production-2", "released"], fleet
    assert {row[2] for row in fleet.values()} == {"released"}, fleet
    staging_synced = _history(system, "staging")[-1].revision
    sync_staging_key = next(k for k in seen if k.startswith("sync-staging-"))
    assert staging_synced.startswith(sync_staging_key.removeprefix("sync-staging-")), (
        "staging got the approved SHA"
    )
    assert staging_synced != moved_head, "not the head that moved while the gate waited"
    for place in ROLLOUT_CLUSTERS:
        assert _history(system, place)[-1].revision == moved_head, "production's gates showed the new head"


def _synced(system: System) -> dict[str, tuple[str, int]]:
    return {env: (_image(system, env), len(_history(system, env))) for env in ("staging", *ROLLOUT_CLUSTERS)}


def test_a_rejection_ends_cancelled_naming_the_gate_with_nothing_synced(deployed_system: System) -> None:
    system = deployed_system
    before = _synced(system)
    _, _, release = _released(system, "v4")
    with system.api() as api:
        _answer(api, release, "approve", "alice")
        gate = _next_gate(api, release["id"], _key(release))
        assert _key(gate).startswith("sync-staging-"), _key(gate)
        refused = api.resume(release["id"], {"decision": "maybe", "approver": "bob"})
        assert refused["status"] != "ACCEPT", "a form without a valid decision is refused"
        assert api.flow_run(release["id"])["state_type"] == "PAUSED"
        _answer(api, gate, "reject", "bob", "not during the freeze")
        final = api.wait_final(release["id"], 600)
    assert final["state_type"] == "CANCELLED", "a rejection is a decision, not a failure"
    assert final["state"]["message"].startswith("release echo-server rejected at gate 'Sync staging?' by bob")
    assert "not during the freeze" in final["state"]["message"]
    assert _synced(system) == before, "nothing was synced"
