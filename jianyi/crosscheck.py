"""`jianyi audit verify --deep`: the records against the workflows' own histories.

Two independent stores must tell the same story: every record write that became part of a
workflow's history (its local activity marker carries the seq, key and content hash) has exactly
one audit event whose own fields give that content hash, and the other way round; every update
the workflow completed has its event. A workflow terminated or reset from outside is reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlmodel import select
from temporalio.api.enums.v1 import WorkflowTaskFailedCause
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory
from temporalio.service import RPCError

from jianyi.models.audit import event_content_hash
from jianyi.models.db import session_for
from jianyi.models.policy import CST
from jianyi.models.tables import AuditEvent, Suggestion
from jianyi.queries import ChainBreak

OUTSIDE = {
    WorkflowExecutionStatus.TERMINATED: "工作流已被外部终止（Temporal 界面或命令行），记录停留在终止前的状态",
    WorkflowExecutionStatus.CANCELED: "工作流已被外部取消，记录停留在取消前的状态",
    WorkflowExecutionStatus.TIMED_OUT: "工作流已超时结束，记录停留在超时前的状态",
}


@dataclass
class Written:
    seq: int
    key: str
    content_hash: str


async def cross_check(client: Client, url: str) -> tuple[int, list[ChainBreak]]:
    """Compare every suggestion's audit with its workflow's history; returns (cases, problems)."""
    with session_for(url) as db:
        ids = list(db.exec(select(Suggestion.id).order_by(Suggestion.id)))
    problems: list[ChainBreak] = []
    for sid in ids:
        problems += await check_case(client, url, sid)
    return len(ids), problems


async def check_case(client: Client, url: str, sid: str) -> list[ChainBreak]:
    handle = client.get_workflow_handle(sid)
    try:
        status = (await handle.describe()).status
        histories = await all_runs(client, sid)
    except RPCError as exc:
        return [ChainBreak(sid, 0, None, f"无法读取工作流历史：{exc.message}")]
    with session_for(url) as db:
        events = list(db.exec(select(AuditEvent).where(AuditEvent.suggestion_id == sid).order_by(AuditEvent.seq)))
    out = [ChainBreak(sid, 0, None, OUTSIDE[status])] if status in OUTSIDE else []
    if any(was_reset(h) for h in histories):
        out.append(ChainBreak(sid, 0, None, "工作流曾被外部重置（reset），重置点之后的记录须人工核对"))
    marks = [m for h in histories for m in written(h)]
    updates = [u for h in histories for u in completed_updates(h)]
    return out + compare(sid, marks, updates, events)


async def all_runs(client: Client, sid: str) -> list[WorkflowHistory]:
    """Every run of a case, newest first: a long case continues as new, each run naming the one before."""
    histories = [await client.get_workflow_handle(sid).fetch_history()]
    while True:
        started = histories[-1].events[0].workflow_execution_started_event_attributes
        previous = started.continued_execution_run_id
        if not previous:
            return histories
        histories.append(await client.get_workflow_handle(sid, run_id=previous).fetch_history())


def compare(sid: str, marks: list[Written], updates: list[str], events: list[AuditEvent]) -> list[ChainBreak]:
    out: list[ChainBreak] = []
    by_seq = {e.seq: e for e in events}
    # a write the workflow did not keep (its step failed after it) was replaced at the same seq, and said so
    replaced = {(e.seq, e.payload.get("replaced", {}).get("content_hash")) for e in events}
    for m in marks:
        if (m.seq, m.content_hash) in replaced:
            continue
        e = by_seq.get(m.seq)
        if e is None:
            out.append(ChainBreak(sid, m.seq, None, "工作流历史中有此事件，审计记录中却没有（记录被删除）"))
        elif m.content_hash not in (event_content_hash(e), event_content_hash(e, CST)):  # CST: hashed before 2026-12-05
            out.append(ChainBreak(sid, m.seq, e.id, "审计事件的内容与工作流历史不符（事件被改写）"))
    marked = {m.seq for m in marks}
    out += [ChainBreak(sid, e.seq, e.id, "审计记录中有此事件，工作流历史中却没有（凭空插入或来自未完成的处理）")
            for e in events if e.content_hash and e.seq not in marked]
    keys = [e.key for e in events]
    out += [ChainBreak(sid, 0, None, f"工作流已完成的操作（更新 {u}）在审计记录中出现{keys.count(u)}次，应恰好1次")
            for u in updates if keys.count(u) != 1]
    return out


def written(history: WorkflowHistory) -> list[Written]:
    """The record writes in the history: each record_transition marker's seq, key and content hash."""
    out = []
    for e in history.events:
        if not e.HasField("marker_recorded_event_attributes"):
            continue
        details = e.marker_recorded_event_attributes.details
        data = json.loads(details["data"].payloads[0].data) if "data" in details else {}
        if data.get("activity_type") != "record_transition" or "result" not in details:
            continue
        result = json.loads(details["result"].payloads[0].data)
        if result.get("content_hash"):  # written before writes were keyed: nothing to compare
            out.append(Written(result["seq"], result.get("key", ""), result["content_hash"]))
    return out


def completed_updates(history: WorkflowHistory) -> list[str]:
    """Ids of the updates the workflow completed successfully (each must have one audit event)."""
    return [
        e.workflow_execution_update_completed_event_attributes.meta.update_id
        for e in history.events
        if e.HasField("workflow_execution_update_completed_event_attributes")
        and e.workflow_execution_update_completed_event_attributes.outcome.HasField("success")
    ]


def was_reset(history: WorkflowHistory) -> bool:
    return any(
        e.HasField("workflow_task_failed_event_attributes")
        and e.workflow_task_failed_event_attributes.cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW
        for e in history.events
    )
