"""Every refused input: a Chinese message, nothing written, no trace in history, and the case goes on.

"No trace" is checked on the workflow history: at a quiet moment the events are snapshotted, the
refused input is sent, and afterwards the history holds no new event other than workflow-task
bookkeeping (the time-skipping server keeps the task that ran a rejecting validator; a real
server drops it). In particular no update is accepted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from helpers import (
    CONGRESS,
    accepted_updates,
    audit,
    case_handle,
    contact_day,
    do,
    finish,
    quiesce,
    reply_and_approve,
    submit_and_assign,
    suggestion,
)
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from jianyi.models.commands import ActionRequest, InputError
from jianyi.service import Engine

LEAD = "区地方金融工作局"
UNIT = f"unit:{LEAD}"
DEPUTY = "deputy:杨永兵"
BOOKKEEPING = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
}


async def refused(env, engine: Engine, sid: str, phrase: str, attempt: Callable[[], Awaitable[Any]]) -> InputError:
    """``attempt`` is refused with ``phrase`` in its message and leaves no trace anywhere."""
    handle = case_handle(env, sid)
    await quiesce(env, handle)
    written = audit(engine.settings, sid)
    history = (await handle.fetch_history()).events
    updates = await accepted_updates(handle)
    case = await engine.view(sid)

    with pytest.raises(InputError) as info:
        await attempt()
    assert phrase in info.value.message, info.value.message

    assert [e.hash for e in audit(engine.settings, sid)] == [e.hash for e in written]
    after = (await handle.fetch_history()).events
    assert after[: len(history)] == history
    assert {e.event_type for e in after[len(history):]} <= BOOKKEEPING
    assert await accepted_updates(handle) == updates
    assert (await engine.view(sid)) == case
    return info.value


async def test_action_on_an_unknown_suggestion_is_refused(env, engine, settings):
    sid = await submit_and_assign(engine)
    missing = f"suggestion-{settings.task_queue}-999"
    await refused(env, engine, sid, f"找不到建议「{missing}」", lambda: do(engine, missing, "sign", UNIT))
    assert audit(settings, missing) == []
    assert (await do(engine, sid, "sign", UNIT)).state == "handling"


async def test_assignment_to_an_unknown_unit_is_refused(env, engine, settings):
    sid = await engine.submit(suggestion(settings), "杨永兵")
    await do(engine, sid, "review", CONGRESS, decision="register")
    await refused(
        env, engine, sid, "未知的承办单位：区不存在局",
        lambda: do(engine, sid, "assign", CONGRESS, lead_unit="区不存在局", co_handlers=["区科技局"]),
    )
    assert (await do(engine, sid, "assign", CONGRESS, lead_unit=LEAD)).state == "assigned"


async def test_action_the_state_does_not_allow_is_refused(env, engine, settings):
    sid = await engine.submit(suggestion(settings), "杨永兵")
    await do(engine, sid, "review", CONGRESS, decision="register")
    await refused(env, engine, sid, "建议当前状态为「已立案（待交办）」，不能签收", lambda: do(engine, sid, "sign", UNIT))
    assert (await do(engine, sid, "assign", CONGRESS, lead_unit=LEAD)).state == "assigned"


async def test_action_the_role_does_not_allow_is_refused(env, engine, settings):
    sid = await engine.submit(suggestion(settings), "杨永兵")
    await do(engine, sid, "review", CONGRESS, decision="register")
    await refused(
        env, engine, sid, "角色「代表」不能交办（可由代表工委、政府办办理）",
        lambda: do(engine, sid, "assign", DEPUTY, lead_unit=LEAD),
    )
    await refused(env, engine, sid, "未知的角色「mayor」", lambda: do(engine, sid, "assign", "mayor:市长", lead_unit=LEAD))
    assert (await do(engine, sid, "assign", CONGRESS, lead_unit=LEAD)).state == "assigned"


async def test_reply_without_a_recorded_contact_is_refused(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", UNIT)
    reply = {"reply_class": "A", "text": "已解决。", "signed_by": "局长 张三"}
    await refused(env, engine, sid, "答复前须先记录与代表的沟通", lambda: do(engine, sid, "reply", UNIT, **reply))
    await do(engine, sid, "record_contact", UNIT, method="电话", on=await contact_day(engine, sid))
    assert (await do(engine, sid, "reply", UNIT, **reply)).state == "reply_review"


async def test_second_extension_is_refused(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", UNIT)
    await do(engine, sid, "request_extension", UNIT, reason="情况复杂")
    await do(engine, sid, "decide_extension", CONGRESS, decision="approve")
    await refused(
        env, engine, sid, "延期最多只能申请1次，本建议已经延期过",
        lambda: do(engine, sid, "request_extension", UNIT, reason="还需要时间"),
    )
    assert (await do(engine, sid, "record_contact", UNIT, method="座谈", on=await contact_day(engine, sid))).state == "handling"


async def test_evaluation_by_someone_not_the_lead_deputy_is_refused(env, engine, settings):
    sid = await submit_and_assign(engine, suggestion(settings, co_signers=["刘正心"]))
    await do(engine, sid, "sign", UNIT)
    await reply_and_approve(engine, sid)
    await refused(
        env, engine, sid, "只有领衔代表（杨永兵）可以评价，「刘正心」不能",
        lambda: do(engine, sid, "evaluate", "deputy:刘正心", work="满意", result="满意"),
    )
    assert (await do(engine, sid, "evaluate", DEPUTY, work="满意", result="满意")).state == "closed"


async def test_date_in_the_wrong_format_is_refused(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", UNIT)
    await refused(
        env, engine, sid, "「沟通日期」日期格式错误，应为 YYYY-MM-DD",
        lambda: do(engine, sid, "record_contact", UNIT, method="座谈", on="2025-13-01"),
    )
    assert (await do(engine, sid, "record_contact", UNIT, method="座谈", on=await contact_day(engine, sid))).contact_rounds == [1]


async def test_submission_with_an_empty_title_is_refused_and_starts_nothing(env, engine, settings):
    data = suggestion(settings, title="   ")
    with pytest.raises(InputError) as info:
        await engine.submit(data, "杨永兵")
    assert "「标题」不能为空" in info.value.message
    assert engine.started == []
    wid = f"suggestion-{settings.task_queue}-40"
    assert audit(settings, wid) == []
    with pytest.raises(RPCError):  # no workflow, so no history at all
        await case_handle(env, wid).describe()
    sid = await engine.submit(suggestion(settings), "杨永兵")  # the same number, now with a title
    assert (await engine.view(sid)).state == "submitted"


async def test_duplicate_submission_is_refused(env, engine, settings):
    sid = await engine.submit(suggestion(settings), "杨永兵")
    first_run = (await case_handle(env, sid).describe()).run_id
    await refused(
        env, engine, sid, "已经提出过，不能重复提交",
        lambda: engine.submit(suggestion(settings, title="换个标题再提一次"), "杨永兵"),
    )
    assert (await case_handle(env, sid).describe()).run_id == first_run
    assert (await do(engine, sid, "review", CONGRESS, decision="register")).state == "registered"


async def test_action_on_a_finished_case_is_refused(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "withdraw", DEPUTY, reason="已解决")
    await finish(env, sid)
    before = audit(settings, sid)
    with pytest.raises(InputError, match="已经办结，不能再操作"):
        await do(engine, sid, "sign", UNIT)
    assert audit(settings, sid) == before


async def test_later_commitment_numbers_and_payload_errors_are_refused_in_chinese(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", UNIT)
    await do(engine, sid, "record_contact", UNIT, method="座谈", on=await contact_day(engine, sid))
    await refused(
        env, engine, sid, "只有B类、C类答复可以列承诺事项",
        lambda: do(engine, sid, "reply", UNIT, reply_class="A", text="t", signed_by="s", commitments=[{"text": "x", "promised_date": "2030-01-01"}]),
    )
    await refused(
        env, engine, sid, "不认识的字段「colour」",
        lambda: do(engine, sid, "reply", UNIT, reply_class="A", text="t", signed_by="s", colour="红"),
    )
    assert (await do(engine, sid, "reply", UNIT, reply_class="A", text="t", signed_by="s")).state == "reply_review"


# -- the workflow's own validator, reached without the client-side checks ------------------------
async def _raw(env, sid: str, action: str, **request: Any) -> ApplicationError:
    """Send an update straight to the workflow (as another client might) and return its refusal."""
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await case_handle(env, sid).execute_update(action, ActionRequest(**request))
    assert isinstance(info.value.cause, ApplicationError)
    return info.value.cause


@pytest.mark.parametrize(
    ("action", "request_", "code", "phrase"),
    [
        ("record_contact", {"actor": LEAD, "role": "unit", "payload": {"method": "座谈", "on": "2025-13-01"}}, "invalid_input", "日期格式错误"),
        ("expire_evaluation", {"actor": "杨永兵", "role": "deputy"}, "role_not_allowed", "系统操作不能由人发起"),
        ("sign", {"actor": "系统", "role": "system"}, "role_not_allowed", "系统操作不能由人发起"),
        ("take_bribe", {"actor": LEAD, "role": "unit"}, "invalid_input", "未知的操作「take_bribe」"),
        ("sign", {"actor": "区科技局", "role": "unit"}, "not_lead_unit", "只有主办单位（区地方金融工作局）可以签收"),
        ("sign", {"actor": "管理员", "role": "unit", "on_behalf_of": "unit:区地方金融工作局"}, "role_not_allowed", "只有系统管理员可以补录"),
        ("sign", {"actor": "管理员", "role": "admin", "on_behalf_of": "区地方金融工作局"}, "invalid_input", "格式为 角色:名称"),
    ],
)
async def test_workflow_validator_refuses_what_the_client_would_have_caught(env, engine, settings, action, request_, code, phrase):
    sid = await submit_and_assign(engine)
    handle = case_handle(env, sid)
    await quiesce(env, handle)
    history = (await handle.fetch_history()).events
    written = len(audit(settings, sid))

    cause = await _raw(env, sid, action, **request_)
    assert (cause.type, phrase in cause.message) == (code, True), cause.message

    after = (await handle.fetch_history()).events
    assert {e.event_type for e in after[len(history):]} <= BOOKKEEPING
    assert len(audit(settings, sid)) == written
    assert (await do(engine, sid, "sign", UNIT)).state == "handling"


async def test_backfill_dated_in_the_future_is_refused(env, engine, settings):
    sid = await submit_and_assign(engine)
    future = await env.get_current_time() + timedelta(days=1)
    cause = await _raw(
        env, sid, "sign", actor="管理员", role="admin", on_behalf_of=UNIT, effective_at=future,
    )
    assert "补录的发生时间不能晚于现在" in cause.message
    assert [e.action for e in audit(settings, sid)] == ["submit", "review", "assign"]
    assert (await do(engine, sid, "sign", UNIT)).state == "handling"
