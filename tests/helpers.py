"""Test data from the seed reports and a few steps that many tests share."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import SQLModel, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from jianyi import directory
from jianyi.mailcatcher import MailCatcher, Received
from jianyi.models.case import CaseState
from jianyi.models.db import session_for
from jianyi.models.policy import china_day
from jianyi.models.tables import AuditEvent, Outbox, Reminder, Suggestion
from jianyi.service import Engine
from jianyi.settings import Settings
from jianyi.workflows.suggestion import SuggestionWorkflow

CONGRESS = "congress_office:代表工委"
UNITS = {
    "区地方金融工作局": "jinrong@example.gov",
    "区科技局": "keji@example.gov",
    "区城管局": "chengguan@example.gov",
    "区水务局": "shuiwu@example.gov",
    "杨园街道办事处": "yangyuan@example.gov",
    "区人大常委会代表工作委员会": "daigongwei@example.gov",
    "区政府办公室": "zhengfuban@example.gov",
    "区政府督查室": "duchashi@example.gov",
}
DEPUTIES = ["杨永兵", "刘正心", "饶满琳", "胡家胜", "王琨", "楚俊"]
SUPERVISORS = {"王琨": "区人大常委会副主任", "楚俊": "区人大财经工委主任"}
FIRST = {
    "session": "16-3",
    "number": "第40号",
    "title": "关于做好武昌区科技金融、绿色金融、普惠金融、养老金融、数字金融的建议",
    "text": "依托金融网格化工作机制，搭建金融机构服务辖区企业的载体。",
    "category": "经济发展",
    "lead_deputy": "杨永兵",
}


def seed_directory(settings: Settings) -> None:
    """Units, deputies and a session whose code is unique to the test (workflow ids stay apart)."""
    url = settings.db_url
    directory.add_session(url, settings.task_queue, "武昌区第十六届人民代表大会第三次会议")
    for name, email in UNITS.items():
        directory.add_unit(url, name, email)
    for name in DEPUTIES:
        directory.add_deputy(url, name, email=f"{name}@deputy.example")
    for name, title in SUPERVISORS.items():
        directory.add_supervisor(url, name, title, email=f"{name}@supervisor.example")


def who(spec: str) -> tuple[str, str]:
    role, _, name = spec.partition(":")
    return name, role


async def do(engine: Engine, sid: str, action: str, spec: str, **payload: Any):  # noqa: ANN201
    actor, role = who(spec)
    return await engine.act(sid, action, actor, role, payload)


def suggestion(settings: Settings, **changes: Any) -> dict[str, Any]:
    """The 第40号 suggestion of the seed report, in this test's own session."""
    return {**FIRST, "session": settings.task_queue, **changes}


async def submit_and_assign(engine: Engine, data: dict[str, Any] | None = None, lead: str = "区地方金融工作局", co: list[str] | None = None) -> str:
    data = data or suggestion(engine.settings)
    sid = await engine.submit(data, data["lead_deputy"])
    await do(engine, sid, "review", CONGRESS, decision="register")
    await do(engine, sid, "assign", CONGRESS, lead_unit=lead, co_handlers=co or [])
    return sid


async def reply_and_approve(engine: Engine, sid: str, unit: str = "区地方金融工作局", reply_class: str = "A", commitments: list[dict[str, Any]] | None = None) -> None:
    await do(engine, sid, "record_contact", f"unit:{unit}", method="座谈", on=await contact_day(engine, sid), note="与代表座谈")
    await do(engine, sid, "reply", f"unit:{unit}", reply_class=reply_class, text="已组织金融对接活动。", signed_by="局长 张三", commitments=commitments or [])
    await do(engine, sid, "review_reply", "government_office:区政府办公室", decision="approve")


async def contact_day(engine: Engine, sid: str) -> str:
    """A day the unit may record a contact on: after the assignment, not in the future (its day)."""
    return china_day((await engine.view(sid)).assigned_at).isoformat()


def audit(settings: Settings, sid: str) -> list[AuditEvent]:
    with session_for(settings.db_url) as db:
        return list(db.exec(select(AuditEvent).where(AuditEvent.suggestion_id == sid).order_by(AuditEvent.seq)))


def outbox(settings: Settings, sid: str, kind: str | None = None) -> list[Outbox]:
    with session_for(settings.db_url) as db:
        q = select(Outbox).where(Outbox.suggestion_id == sid)
        if kind:
            q = q.where(Outbox.kind == kind)
        return list(db.exec(q.order_by(Outbox.id)))


# -- time on the test server ------------------------------------------------------------------
# A workflow timer fires a few milliseconds after the instant it was computed for (the server
# starts it when the workflow task completes), so "at t" is checked after skipping to t + SETTLE.
SETTLE = timedelta(seconds=1)


async def skip_to(env: WorkflowEnvironment, at: datetime) -> None:
    """Skip the test server's clock to ``at``; timers due on the way fire in order."""
    now = await env.get_current_time()
    if at > now:
        await env.sleep(at - now)


async def skip_past(env: WorkflowEnvironment, at: datetime) -> None:
    """Skip to just after ``at``, so that whatever fell due at ``at`` has been handled."""
    await skip_to(env, at + SETTLE)


IN_FLIGHT = (EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED)


async def quiesce(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any], within: float = 15.0) -> None:
    """Wait until the workflow has no task and no activity in flight (an I/O barrier, not time).

    Neither describe() (the time-skipping server does not report a pending workflow task) nor a
    query (answered between activations, while a local activity may still be writing) will do;
    the test server's history shows a task in flight as its last event, so that is polled.
    """
    loop = asyncio.get_running_loop()
    give_up = loop.time() + within
    while True:
        last = (await handle.fetch_history()).events[-1].event_type
        desc = await handle.describe()
        if desc.status != WorkflowExecutionStatus.RUNNING:
            return
        if last not in IN_FLIGHT and not desc.raw_description.pending_activities:
            return
        assert loop.time() < give_up, f"{handle.id} still busy: last event {last}, {desc.raw_description.pending_activities}"
        await asyncio.sleep(0.01)


# -- what the workflow history shows ------------------------------------------------------------
async def accepted_updates(handle: WorkflowHandle[Any, Any]) -> list[str]:
    """The names of the updates the workflow accepted, in order."""
    history = await handle.fetch_history()
    return [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]


# -- records --------------------------------------------------------------------------------------
def rows(settings: Settings, table: type[SQLModel], sid: str) -> list[Any]:
    """All rows of ``table`` for suggestion ``sid``, oldest first."""
    with session_for(settings.db_url) as db:
        q = select(table).where(table.suggestion_id == sid).order_by(table.id)  # type: ignore[attr-defined]
        return list(db.exec(q))


def reminders(settings: Settings, sid: str, kind: str) -> list[Reminder]:
    return [r for r in rows(settings, Reminder, sid) if r.kind == kind]


def mails(catcher: MailCatcher, sid: str) -> list[Received]:
    """What the SMTP server received about suggestion ``sid``."""
    return [r for r in catcher.received if r.key.startswith(f"{sid}|")]


def in_future(now: datetime, days: int) -> str:
    """A date ``days`` after the test server's ``now`` (ISO), e.g. for promised commitment dates."""
    return (china_day(now) + timedelta(days=days)).isoformat()


class RecordingEngine(Engine):
    """The engine, remembering the cases it started so a test can stop those it left open."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.started: list[str] = []

    async def submit(self, data: dict[str, Any], actor: str, *args: Any, **kwargs: Any) -> str:
        sid = await super().submit(data, actor, *args, **kwargs)
        self.started.append(sid)
        return sid


async def stop_if_open(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> None:
    """Cancel a case the test left open, once nothing is in flight, and wait until it has ended.

    On the time-skipping server an open workflow whose worker is gone holds the shared clock (its
    timers make tasks nobody runs), and so can a workflow terminated from outside right after a
    rejected update; either way every later test that skips time would hang. A cancellation is
    handled by the workflow in a task of its own, which leaves the server's books straight.
    """
    desc = await handle.describe()
    if desc.status != WorkflowExecutionStatus.RUNNING:
        return
    await quiesce(env, handle)
    await handle.cancel()
    with contextlib.suppress(WorkflowFailureError):
        await handle.result()


async def stop_all(env: WorkflowEnvironment, settings: Settings) -> None:
    """Stop every case of this test's records (also those started through the pages, not by the engine fixture)."""
    with session_for(settings.db_url) as db:
        ids = list(db.exec(select(Suggestion.id)))
    for sid in ids:
        await stop_if_open(env, env.client.get_workflow_handle(sid))


def case_handle(env: WorkflowEnvironment, sid: str) -> WorkflowHandle[Any, CaseState]:
    """The suggestion's workflow, with its result typed as the final CaseState."""
    return env.client.get_workflow_handle_for(SuggestionWorkflow.run, sid)


def projection(settings: Settings, sid: str) -> Suggestion:
    with session_for(settings.db_url) as db:
        row = db.get(Suggestion, sid)
        assert row is not None, sid
        return row


async def finish(env: WorkflowEnvironment, sid: str, within: timedelta = timedelta(days=30)) -> CaseState:
    """The final CaseState of a case that has reached its end, once its workflow completes.

    A closed case's workflow still waits for its deliveries, which quiet hours may hold until the
    next working morning; the test server's clock is moved on an hour at a time until it is done.
    """
    handle = case_handle(env, sid)
    waited = timedelta(0)
    while (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
        assert waited < within, f"{sid} still running after {within}"
        await env.sleep(timedelta(hours=1))
        waited += timedelta(hours=1)
    return await handle.result()


async def delivered(env: WorkflowEnvironment, settings: Settings, sid: str, within: timedelta = timedelta(days=10)) -> list[Outbox]:
    """The case's outbox once nothing in it waits to be sent (moving the clock past quiet hours)."""
    waited = timedelta(0)
    while any(o.status in ("pending", "held") for o in outbox(settings, sid)):
        assert waited < within, f"{sid}: notices still waiting after {within}"
        await env.sleep(timedelta(hours=1))
        waited += timedelta(hours=1)
    await quiesce(env, case_handle(env, sid))
    return outbox(settings, sid)
