"""The records never disagree with the workflow (issue 7 §1): writes keyed by seq and content,
the projection written from the whole case, and `audit verify` (plain and --deep)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import (
    audit,
    case_handle,
    do,
    projection,
    quiesce,
    reply_and_approve,
    rows,
    seed_directory,
    stop_if_open,
    submit_and_assign,
    suggestion,
)
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import select
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

import jianyi.workflows.suggestion as suggestion_module
from jianyi import directory
from jianyi.activities.records import RecordActivities
from jianyi.adminlog import CHAIN
from jianyi.crosscheck import check_case, cross_check
from jianyi.models.audit import GENESIS, event_hash, hashed_fields
from jianyi.models.commands import InputError
from jianyi.models.db import session_for
from jianyi.models.tables import AuditEvent, Evaluation, Suggestion
from jianyi.queries import verify_audit

UNIT = "unit:区地方金融工作局"
DEPUTY = "deputy:杨永兵"

pytestmark = pytest.mark.both_databases  # the records layer, on SQLite and PostgreSQL


def rechain(settings, sid: str) -> None:
    """What a database administrator could do: re-hash a chain after editing it, head included."""
    with session_for(settings.db_url) as db:
        prev = GENESIS
        for e in db.exec(select(AuditEvent).where(AuditEvent.suggestion_id == sid).order_by(AuditEvent.seq)):
            e.prev_hash = prev
            e.hash = event_hash(prev, hashed_fields(e))
            prev = e.hash
            db.add(e)
            last = e
        row = db.get(Suggestion, sid)
        row.chain_seq, row.chain_hash = last.seq, last.hash
        db.add(row)
        db.commit()


async def test_a_write_whose_task_never_completed_is_replaced_and_records_audit_and_history_agree(env, settings, monkeypatch):
    """The §1 reproduction: the satisfied evaluation is written, then the task fails after the
    write; the next, different evaluation must not be silently skipped."""
    seed_directory(settings)
    real_upsert, failed = suggestion_module.upsert_for, []

    def fault_after_the_write(case):  # noqa: ANN001, ANN202
        if case.state == "closed" and not failed:
            failed.append(case.seq)
            raise RuntimeError("injected fault after the record write")
        real_upsert(case)

    monkeypatch.setattr(suggestion_module, "upsert_for", fault_after_the_write)
    from helpers import RecordingEngine

    with ThreadPoolExecutor(max_workers=4) as executor:
        # unsandboxed, so that the fault patched into this module reaches the workflow
        unsandboxed = Worker(env.client, task_queue=settings.task_queue, workflows=[suggestion_module.SuggestionWorkflow],
                             activities=_activities(settings), activity_executor=executor, workflow_runner=UnsandboxedWorkflowRunner())
        async with unsandboxed:
            engine = RecordingEngine(env.client, settings)
            sid = await submit_and_assign(engine)
            await do(engine, sid, "sign", UNIT)
            await reply_and_approve(engine, sid)
            with pytest.raises(InputError, match="处理异常"):
                await do(engine, sid, "evaluate", DEPUTY, work="满意", result="满意")
            case = await do(engine, sid, "evaluate", DEPUTY, work="不满意", result="不满意", comment="问题没有解决")
            assert (case.state, case.round) == ("rehandling", 2)
            await quiesce(env, case_handle(env, sid))
            events = audit(settings, sid)
            [error] = [e for e in events if e.action == "processing_error"]
            assert error.seq == failed[0] and error.payload["replaced"]["action"] == "evaluate"
            assert events[-1].action == "evaluate" and events[-1].payload["result"] == "不满意"
            assert [(e.work, e.result) for e in rows(settings, Evaluation, sid)] == [("不满意", "不满意")]
            assert projection(settings, sid).state == "rehandling"
            assert verify_audit(settings.db_url)[2] == []
            assert await check_case(env.client, settings.db_url, sid) == []
            await stop_if_open(env, case_handle(env, sid))


def _activities(settings):  # noqa: ANN001, ANN202
    from jianyi.activities.notify import NotifyActivities

    records = RecordActivities(settings)
    return [records.record_transition, records.record_admin_notice, NotifyActivities(settings).deliver_outbox]


async def test_a_retried_write_with_the_same_content_writes_nothing_and_a_different_one_replaces_it(env, engine, settings):
    sid = await submit_and_assign(engine)
    await quiesce(env, case_handle(env, sid))
    records = RecordActivities(settings)
    from jianyi.models.case import Transition

    last = audit(settings, sid)[-1]
    case = await engine.view(sid)
    t = Transition(suggestion_id=sid, seq=case.seq + 1, key="k1", actor="代表工委", role="congress_office", action="remark",
                   from_state=case.state, to_state=case.state, payload={"text": "请抓紧"}, at=last.at, effective_at=last.at, case=case)
    first = records.record_transition(t)
    again = records.record_transition(t)
    assert (again.seq, again.content_hash) == (first.seq, first.content_hash) and len(audit(settings, sid)) == t.seq
    other = records.record_transition(t.model_copy(update={"payload": {"text": "另一条"}, "key": "k2"}))
    events = audit(settings, sid)
    assert len(events) == t.seq and other.replaced
    assert events[-1].payload["text"] == "另一条" and events[-1].payload["replaced"]["key"] == "k1"
    assert verify_audit(settings.db_url)[2] == []


async def test_deep_verification_catches_a_consistently_rehashed_chain(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", UNIT)
    await quiesce(env, case_handle(env, sid))
    assert await cross_check(env.client, settings.db_url) == (1, [])
    with session_for(settings.db_url) as db:
        e = db.exec(select(AuditEvent).where(AuditEvent.suggestion_id == sid, AuditEvent.action == "assign")).one()
        e.payload = {**e.payload, "lead_unit": "区城管局"}
        db.add(e)
        db.commit()
    rechain(settings, sid)
    assert verify_audit(settings.db_url)[2] == []  # the chain alone cannot tell
    _, problems = await cross_check(env.client, settings.db_url)
    assert [p.problem for p in problems] == ["审计事件的内容与工作流历史不符（事件被改写）"]


async def test_deep_verification_reports_a_workflow_stopped_from_outside(env, engine, settings):
    """(Cancelled here: on the time-skipping server a terminated case can hold the shared clock.)"""
    sid = await submit_and_assign(engine)
    await stop_if_open(env, case_handle(env, sid))  # an operator's cancel in Temporal's UI
    problems = await check_case(env.client, settings.db_url, sid)
    assert any("外部取消" in p.problem for p in problems)


async def test_audit_verify_detects_a_deleted_last_event(env, engine, settings):
    sid = await submit_and_assign(engine)
    await quiesce(env, case_handle(env, sid))
    with session_for(settings.db_url) as db:
        last = db.exec(select(AuditEvent).where(AuditEvent.suggestion_id == sid).order_by(AuditEvent.seq.desc())).first()
        db.delete(last)
        db.commit()
    [broken] = verify_audit(settings.db_url)[2]
    assert broken.suggestion_id == sid and "链头不符" in broken.problem


def test_directory_changes_an_admin_makes_are_audit_events(settings):
    directory.add_unit(settings.db_url, "区城管局", "chengguan@example.gov", actor="管理员甲")
    directory.add_supervisor(settings.db_url, "王琨", "区人大常委会副主任", actor="管理员甲")
    with session_for(settings.db_url) as db:
        log = list(db.exec(select(AuditEvent).where(AuditEvent.suggestion_id == CHAIN).order_by(AuditEvent.seq)))
    assert [(e.actor, e.action) for e in log] == [("管理员甲", "directory_unit"), ("管理员甲", "directory_supervisor")]
    assert verify_audit(settings.db_url)[2] == []


def test_a_directory_change_reads_only_the_head_of_a_long_admin_log(settings):
    """A national directory (thousands of deputies) is loaded one change at a time: each change
    reads the log's head, never the whole log (the year's directory took minutes before)."""
    for n in range(30):
        directory.add_deputy(settings.db_url, f"代表{n:03d}", email=f"d{n}@deputy.example", actor="管理员甲")
    loaded: list[object] = []

    def count(_session: object, obj: object) -> None:
        loaded.append(obj)

    sa_event.listen(OrmSession, "loaded_as_persistent", count)
    try:
        directory.add_deputy(settings.db_url, "代表999", email="d999@deputy.example", actor="管理员甲")
    finally:
        sa_event.remove(OrmSession, "loaded_as_persistent", count)
    assert sum(isinstance(o, AuditEvent) for o in loaded) == 1
    assert verify_audit(settings.db_url)[2] == []


# -- honest answers while a part is down (issue 7 §3) ------------------------------------------------
async def test_an_action_retried_with_the_same_update_id_is_applied_once(env, engine, settings):
    sid = await submit_and_assign(engine)
    first = await engine.act(sid, "remark", "代表工委", "congress_office", {"text": "请抓紧办理"}, update_id="retry-1")
    again = await engine.act(sid, "remark", "代表工委", "congress_office", {"text": "请抓紧办理"}, update_id="retry-1")
    assert again.seq == first.seq
    assert [e.action for e in audit(settings, sid)].count("remark") == 1


def test_a_read_the_service_cannot_answer_says_nothing_was_done_and_names_no_update_id():
    from temporalio.service import RPCError, RPCStatusCode

    from jianyi.service import _rpc_error

    down = _rpc_error(RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b""), "suggestion-16-3-1")
    assert down.exit_code == 3 and "处理服务暂时不可用" in down.message
    assert "没有办理任何操作" in down.message and "--update-id" not in down.message


async def test_an_action_while_no_worker_runs_answers_unavailable_within_the_timeout(env, settings):
    from helpers import RecordingEngine, suggestion

    from jianyi.service import Unavailable

    seed_directory(settings)
    settings.action_timeout_seconds = 1.0
    engine = RecordingEngine(env.client, settings)
    sid = await engine.submit(suggestion(settings), "杨永兵")  # starting needs no worker
    with pytest.raises(Unavailable) as down:
        await engine.act(sid, "review", "代表工委", "congress_office", {"decision": "register"}, update_id="while-down")
    assert "处理服务暂时不可用" in down.value.message and "--update-id while-down" in down.value.message
    assert down.value.exit_code == 3
    with ThreadPoolExecutor(max_workers=4) as executor:
        from jianyi.worker import build_worker

        async with build_worker(env.client, settings, executor):  # the worker is back: the same id, once
            case = await engine.act(sid, "review", "代表工委", "congress_office", {"decision": "register"}, update_id="while-down")
            assert case.state == "registered"
            assert [e.action for e in audit(settings, sid)] == ["submit", "review"]
            await stop_if_open(env, case_handle(env, sid))


async def test_deep_verification_passes_on_steps_entered_afterwards_with_their_beijing_time(env, engine, settings):
    """A 补录 carries the time it happened as typed (Beijing time); the records keep it in UTC. Both
    are the same moment, so the workflow's history and the audit must agree (they did not)."""
    from datetime import timedelta

    from jianyi.models.policy import CST, china_day

    t0 = (await env.get_current_time()).astimezone(CST) - timedelta(days=20)
    sid = await engine.submit(suggestion(settings), "管理员", role="admin", effective_at=t0)
    office = {"on_behalf_of": "congress_office:区人大常委会代表工作委员会"}
    await engine.act(sid, "review", "管理员", "admin", {"decision": "register"}, effective_at=t0 + timedelta(days=1), **office)
    await engine.act(sid, "assign", "管理员", "admin", {"lead_unit": "区地方金融工作局"}, effective_at=t0 + timedelta(days=2), **office)
    assert china_day(t0) == audit(settings, sid)[0].effective_at.astimezone(CST).date()
    await quiesce(env, case_handle(env, sid))
    assert await check_case(env.client, settings.db_url, sid) == []


def test_deep_verification_accepts_a_backfill_hashed_in_beijing_time_by_an_earlier_version_and_nothing_else():
    from datetime import UTC, datetime

    from jianyi.crosscheck import Written, compare
    from jianyi.models.audit import event_content_hash
    from jianyi.models.policy import CST

    e = AuditEvent(id=1, suggestion_id="s", seq=1, actor="管理员", role="admin", action="submit", from_state="", to_state="submitted",
                   payload={}, at=datetime(2026, 12, 5, 8, tzinfo=UTC), effective_at=datetime(2026, 7, 18, 2, tzinfo=UTC), key="submit")
    earlier = Written(1, "submit", event_content_hash(e, CST))  # the moment written as 2026-07-18T10:00:00+08:00
    assert compare("s", [earlier], [], [e]) == []
    e.payload = {"text": "改过"}
    assert [b.problem for b in compare("s", [earlier], [], [e])] == ["审计事件的内容与工作流历史不符（事件被改写）"]
