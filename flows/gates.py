"""Human gates as paused (or, under a deployment, suspended) flow runs with a decision form.

Prefect's ``pause_flow_run``/``suspend_flow_run`` propose a bare "Paused" state,
so the run page says nothing until someone opens the Resume modal. A gate here
proposes the same state itself, with the question's summary as the state
message, and publishes the question as an artifact the moment it opens. The
rest follows Prefect 3.9's own implementation step for step: the form's schema
and description are saved under the pause's run-input keyset, a suspended run
exits its process (``Pause``) and is re-executed from the top on resume, and a
pause key that already fired is refused by the server, which is how a
re-executed run finds the answer it already got.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from prefect import get_run_logger, task
from prefect._flow_run_suspension import mark_flow_run_suspension_requested
from prefect.artifacts import create_markdown_artifact
from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey
from prefect.context import FlowRunContext
from prefect.exceptions import Abort, FlowPauseTimeout, Pause
from prefect.input import RunInput, keyset_from_paused_state
from prefect.settings import get_current_settings
from prefect.states import Paused, Suspended
from prefect.utilities.engine import propose_state_sync
from pydantic import Field

from ferry.errors import GateTimedOut, Rejected
from ferry.release.gates import GateDecision, GateQuestion, Verdict, notification_text, run_link, timed_out
from ferry.schema.releases import ReleaseConfig
from tasks.release import ONCE

POLL_SECONDS = 1.0


class GateForm(RunInput):
    """The form of every gate: a decision that must be made, who made it, and why."""

    decision: Verdict = Field(title="Decision", description="approve: go on; reject: stop the release here")
    approver: str = Field(title="Approver", min_length=1, description="Your name, recorded with the decision")
    comment: str = Field(default="", title="Comment", description="Why (recorded with the decision)")


@dataclass(frozen=True, slots=True)
class GateSettings:
    """How gates wait (pause, or suspend under a deployment), whom they notify, and for which release."""

    timeout: float
    release: str
    suspend: bool = False
    notify_block: str | None = None
    ui_url: str | None = None

    @classmethod
    def of(cls, config: ReleaseConfig, suspend: bool) -> GateSettings:
        ui = config.ui_url or get_current_settings().ui_url
        return cls(config.gate_timeout, config.name, suspend, config.notify, ui)


def _flow_run() -> Any:
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        raise RuntimeError("a gate can only open inside a flow run")
    return context.flow_run


def notify(block: str | None, question: GateQuestion, link: str) -> None:
    """Send the gate's notification through a Prefect notification block (``slug/name`` or a webhook name)."""
    if not block:
        return
    subject, body = notification_text(question, link)
    slug_name = block if "/" in block else f"custom-webhook/{block}"
    try:
        loaded: Any = Block.load(slug_name)
        loaded.notify(body=body, subject=subject)
    except Exception as exc:  # noqa: BLE001 - a failed notification must not stop the release
        get_run_logger().warning("notification through %s failed: %s", slug_name, exc)


def publish_once(key: str, markdown: str, description: str) -> UUID:
    """This run's artifact ``key``: created the first time, reused when the run is re-executed."""
    run_id = _flow_run().id
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[key]), flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])
            ),
            limit=1,
        )
    if found:
        return found[0].id
    return create_markdown_artifact(key=key, markdown=markdown, description=description)


def _question_markdown(question: GateQuestion) -> str:
    return f"# {question.title}\n\n{question.description}\n"


@task(name="record-decision", task_run_name="record the decision on {key}", **ONCE)
def record_decision(key: str, question: GateQuestion, decision: GateDecision) -> GateDecision:
    """Log the decision and add it to the gate's artifact, once per gate (re-executions get it back)."""
    logger = get_run_logger()
    logger.log(30 if decision.timed_out else 20, decision.log_line())
    create_markdown_artifact(
        key=f"gate-{key}",
        markdown=_question_markdown(question) + "\n" + decision.markdown(),
        description=f"{question.title} {decision.verdict}",
    )
    return decision


def _opened(question: GateQuestion, settings: GateSettings, run_id: UUID) -> None:
    link = run_link(settings.ui_url, str(run_id))
    since = datetime.now(UTC).isoformat(timespec="seconds")
    create_markdown_artifact(
        key=f"gate-{question.key}",
        markdown=_question_markdown(question)
        + f"\n_Waiting for a decision since {since}: [the run]({link})._\n",
        description=f"{question.title} (waiting for a decision)",
    )
    get_run_logger().info(
        "gate %r is open, waiting up to %.0fs:\n%s", question.title, settings.timeout, question.summary
    )
    notify(settings.notify_block, question, link)


def _wait_for_answer(question: GateQuestion, settings: GateSettings) -> GateForm | None:
    """Open the gate (or find it answered); return the answer, or None when nobody answered in time."""
    flow_run = _flow_run()
    form = GateForm.with_initial_data(description=_question_markdown(question))
    suspend = settings.suspend and flow_run.deployment_id is not None
    timeout = int(settings.timeout)
    if suspend:
        proposed = Suspended(timeout_seconds=timeout, pause_key=question.key, message=question.summary)
    else:
        proposed = Paused(
            timeout_seconds=timeout, reschedule=False, pause_key=question.key, message=question.summary
        )
    keyset = keyset_from_paused_state(proposed)
    proposed.state_details.run_input_keyset = keyset
    with get_client(sync_client=True) as client:
        try:
            state = propose_state_sync(client=client, state=proposed, flow_run_id=flow_run.id)
        except Abort as exc:
            raise RuntimeError(f"gate {question.title!r} cannot open: {exc}") from exc
        if state.is_running():
            return form.load(keyset)  # this pause key fired before: the run was resumed with an answer
        if not state.is_paused():
            raise RuntimeError(f"gate {question.title!r} cannot open: the run is {state.type.value}")
        form.save(keyset)
        _opened(question, settings, flow_run.id)
        if suspend:
            # The process exits; the worker is free until someone answers.
            mark_flow_run_suspension_requested(flow_run.id, state)
            raise Pause(state=state)
        deadline = time.monotonic() + timeout
        while True:
            time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
            current = client.read_flow_run(flow_run.id).state
            if current is not None and current.is_running():
                return form.load(keyset)
            if time.monotonic() >= deadline:
                return None


def ask(question: GateQuestion, settings: GateSettings) -> GateDecision:
    """Stop the run at ``question`` until someone decides; return the approval.

    Raises:
        Rejected: The operator rejected the gate.
        GateTimedOut: Nobody answered within the release's ``gate_timeout``.
    """
    try:
        answer = _wait_for_answer(question, settings)
    except FlowPauseTimeout:
        answer = None
    if answer is None:
        decision = timed_out(question.title, key=question.key, revision=question.revision)
    else:
        decision = GateDecision(
            gate=question.title,
            approved=answer.decision is Verdict.APPROVE,
            comment=answer.comment,
            approver=answer.approver,
            decided_at=datetime.now(UTC),
            key=question.key,
            revision=question.revision,
        )
    decision = record_decision(question.key, question, decision)
    if decision.timed_out:
        raise GateTimedOut(decision.ended(settings.release), decision=decision)
    if not decision.approved:
        raise Rejected(decision.ended(settings.release), decision=decision)
    return decision
