"""Whole lifecycles on the time-skipping server: 提 → 交 → 办 → 督 → 评, through the engine's client side."""

from __future__ import annotations

import pytest
from helpers import (
    CONGRESS,
    accepted_updates,
    audit,
    case_handle,
    contact_day,
    delivered,
    do,
    finish,
    in_future,
    mails,
    outbox,
    projection,
    quiesce,
    reply_and_approve,
    rows,
    submit_and_assign,
    suggestion,
)
from temporalio.client import WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from jianyi.models.calendar import WorkCalendar
from jianyi.models.case import CaseState
from jianyi.models.commands import ActionRequest, InputError, parse_submit
from jianyi.models.policy import Policy, compute
from jianyi.models.tables import Assignment, Commitment, Escalation, Evaluation, Reply
from jianyi.workflows import search
from jianyi.workflows.suggestion import StartCase, SuggestionWorkflow

LEAD = "区地方金融工作局"
UNIT = f"unit:{LEAD}"
DEPUTY = "deputy:杨永兵"
GOV = "government_office:区政府办公室"
SUPERVISION = "supervision_office:区政府督查室"


@pytest.mark.both_databases
async def test_b_class_reply_with_commitments_is_followed_up_until_every_commitment_is_fulfilled(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", UNIT)
    now = await env.get_current_time()
    promised = [in_future(now, 120), in_future(now, 200)]
    await reply_and_approve(
        engine, sid, reply_class="B",
        commitments=[{"text": "设立金融服务站", "promised_date": promised[0]}, {"text": "开展普惠金融培训", "promised_date": promised[1]}],
    )

    case = await do(engine, sid, "evaluate", DEPUTY, work="满意", result="满意")
    assert case.state == "follow_up"
    assert [(c.number, c.promised_date.isoformat()) for c in case.commitments] == [(1, promised[0]), (2, promised[1])]
    assert case.open_commitments == [1, 2]

    case = await do(engine, sid, "fulfil_commitment", UNIT, number=1, text="金融服务站已挂牌运行。")
    assert case.state == "follow_up"
    assert case.open_commitments == [2]
    with pytest.raises(InputError, match="没有编号为 1 的未兑现承诺事项"):
        await do(engine, sid, "fulfil_commitment", UNIT, number=1, text="重复兑现")

    case = await do(engine, sid, "fulfil_commitment", UNIT, number=2, text="已开展培训3场。")
    assert case.state == "closed"
    assert case.outcome == "满意"
    assert case.on_time is True

    final = await finish(env, sid)
    assert final.state == "closed"
    ledger = rows(settings, Commitment, sid)
    assert [(c.number, c.status, c.fulfilment) for c in ledger] == [
        (1, "已兑现", "金融服务站已挂牌运行。"),
        (2, "已兑现", "已开展培训3场。"),
    ]
    assert [e.action for e in audit(settings, sid)][-4:] == ["review_reply", "evaluate", "fulfil_commitment", "fulfil_commitment"]
    assert [(e.from_state, e.to_state) for e in audit(settings, sid)][-3:] == [
        ("replied", "follow_up"), ("follow_up", "follow_up"), ("follow_up", "closed"),
    ]


@pytest.mark.both_databases
async def test_unsatisfied_first_round_is_rehandled_in_round_two_then_satisfied_closes(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", UNIT)
    await reply_and_approve(engine, sid)

    case = await do(engine, sid, "evaluate", DEPUTY, work="基本满意", result="不满意", comment="服务站点太少")
    assert (case.state, case.round) == ("rehandling", 2)
    evaluated_at = audit(settings, sid)[-1].at
    rehandle = case.deadlines["rehandle"]
    assert rehandle.rule == "rehandle"
    assert rehandle.start == evaluated_at
    assert rehandle.last_day == compute("rehandle", evaluated_at, Policy(), WorkCalendar()).last_day
    assert case.handling_deadline == rehandle
    assert "evaluation" not in case.deadlines
    assert [o.recipient for o in outbox(settings, sid, "rehandle_order")] == [LEAD]

    # The contact with the deputy is asked for again in the new round.
    with pytest.raises(InputError, match="本轮尚无沟通记录"):
        await do(engine, sid, "reply", UNIT, reply_class="A", text="再答复", signed_by="局长 张三")
    await reply_and_approve(engine, sid)
    case = await do(engine, sid, "evaluate", DEPUTY, work="满意", result="满意")
    assert (case.state, case.outcome, case.round) == ("closed", "满意", 2)

    await finish(env, sid)
    assert [(e.round, e.result) for e in rows(settings, Evaluation, sid)] == [(1, "不满意"), (2, "满意")]
    assert [r.round for r in rows(settings, Reply, sid)] == [1, 2]
    assert rows(settings, Escalation, sid) == []


async def _to_escalation(engine, settings, sid: str) -> None:
    await do(engine, sid, "sign", UNIT)
    await reply_and_approve(engine, sid)
    await do(engine, sid, "evaluate", DEPUTY, work="不满意", result="不满意", comment="问题没有解决")
    await reply_and_approve(engine, sid)
    case = await do(engine, sid, "evaluate", DEPUTY, work="不满意", result="不满意", comment="仍未解决")
    assert (case.state, case.round, case.escalation_count) == ("escalated", 2, 1)
    [escalation] = rows(settings, Escalation, sid)
    assert escalation.reason.startswith("评价不满意") and escalation.resolved_at is None
    # 督查室 has something to do; the unit and the congress office hear of it too
    assert [o.recipient for o in outbox(settings, sid, "escalated")] == ["区政府督查室", "区地方金融工作局", "区人大常委会代表工作委员会"]


async def test_unsatisfied_in_the_last_round_escalates_to_supervision_office_which_orders_round_three(env, engine, settings):
    sid = await submit_and_assign(engine)
    await _to_escalation(engine, settings, sid)

    with pytest.raises(InputError, match="角色「代表工委」不能处理督查事项"):
        await do(engine, sid, "resolve_escalation", CONGRESS, decision="rehandle", comment="限期整改")
    case = await do(engine, sid, "resolve_escalation", SUPERVISION, decision="rehandle", comment="限期一个月整改")
    assert (case.state, case.round) == ("rehandling", 3)
    assert case.deadlines["rehandle"].start == audit(settings, sid)[-1].at
    [escalation] = rows(settings, Escalation, sid)
    assert escalation.resolution.startswith("责令重新办理") and escalation.resolved_at is not None
    assert [o.cycle for o in outbox(settings, sid, "rehandle_order")] == ["round-2", "round-3"]

    await reply_and_approve(engine, sid)
    case = await do(engine, sid, "evaluate", DEPUTY, work="满意", result="基本满意")
    assert (case.state, case.outcome, case.round) == ("closed", "基本满意", 3)
    await finish(env, sid)
    assert [(e.round, e.result) for e in rows(settings, Evaluation, sid)] == [(1, "不满意"), (2, "不满意"), (3, "基本满意")]


async def test_supervision_office_may_close_an_escalated_case_as_unresolved(env, engine, settings):
    sid = await submit_and_assign(engine)
    await _to_escalation(engine, settings, sid)

    case = await do(engine, sid, "resolve_escalation", SUPERVISION, decision="close", comment="受客观条件限制，暂无法解决")
    assert (case.state, case.outcome) == ("closed", "未解决")
    await finish(env, sid)
    [escalation] = rows(settings, Escalation, sid)
    assert escalation.resolution.startswith("按未解决办结")
    row = projection(settings, sid)
    assert (row.state, row.outcome, row.closed_at is not None) == ("closed", "未解决", True)


async def test_deputy_withdraws_before_the_reply_and_the_units_are_told(env, engine, settings):
    sid = await submit_and_assign(engine, co=["区科技局"])
    await do(engine, sid, "sign", UNIT)
    with pytest.raises(InputError, match="只有领衔代表"):
        await do(engine, sid, "withdraw", "deputy:刘正心", reason="不是我提的")
    case = await do(engine, sid, "withdraw", DEPUTY, reason="问题已由其他渠道解决")
    assert (case.state, case.outcome) == ("withdrawn", "已撤回")
    final = await finish(env, sid)
    assert final.state == "withdrawn"
    assert sorted(o.recipient for o in outbox(settings, sid, "withdrawn")) == sorted([LEAD, "区科技局"])
    assert audit(settings, sid)[-1].to_state == "withdrawn"


async def test_withdrawal_is_possible_until_an_approved_reply_reaches_the_deputy(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", UNIT)
    await do(engine, sid, "record_contact", UNIT, method="电话", on=await contact_day(engine, sid))
    await do(engine, sid, "reply", UNIT, reply_class="A", text="已解决。", signed_by="局长 张三")
    case = await do(engine, sid, "withdraw", DEPUTY, reason="问题已自行解决")  # a draft in review has not reached the deputy
    assert (case.state, case.outcome) == ("withdrawn", "已撤回")
    await finish(env, sid)


async def test_withdrawal_after_the_reply_is_refused_and_the_case_goes_on(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", UNIT)
    await reply_and_approve(engine, sid)
    with pytest.raises(InputError, match="不能撤回"):  # delivered: no withdrawal from 已答复
        await do(engine, sid, "withdraw", DEPUTY, reason="想撤回")
    case = await do(engine, sid, "evaluate", DEPUTY, work="满意", result="满意")
    assert case.state == "closed"
    await finish(env, sid)
    assert "withdraw" not in [e.action for e in audit(settings, sid)]


async def test_reply_sent_back_by_the_government_office_returns_to_handling(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", UNIT)
    await do(engine, sid, "record_contact", UNIT, method="上门", on=await contact_day(engine, sid))
    await do(engine, sid, "reply", UNIT, reply_class="A", text="初稿", signed_by="局长 张三")
    with pytest.raises(InputError, match="退回答复时须写明理由"):
        await do(engine, sid, "review_reply", GOV, decision="refuse")
    case = await do(engine, sid, "review_reply", GOV, decision="refuse", comment="答复过于简单")
    assert case.state == "handling"
    assert [o.recipient for o in outbox(settings, sid, "reply_sent_back")] == [LEAD]
    await do(engine, sid, "reply", UNIT, reply_class="A", text="详细答复", signed_by="局长 张三")  # the round's contact still counts
    await do(engine, sid, "review_reply", GOV, decision="approve")
    case = await do(engine, sid, "evaluate", DEPUTY, work="满意", result="满意")
    assert case.state == "closed"
    await finish(env, sid)
    assert [r.review_status for r in rows(settings, Reply, sid)] == ["已退回", "已通过"]


async def test_happy_path_history_stays_small_and_search_attributes_follow_the_case(env, engine, settings):
    sid = await submit_and_assign(engine)
    handle = case_handle(env, sid)
    attrs = (await handle.describe()).typed_search_attributes
    assert attrs.get(search.STATE) == "assigned"
    assert attrs.get(search.STAGE) == "交"
    assert attrs.get(search.LEAD_UNIT) == LEAD
    assert attrs.get(search.SESSION) == settings.task_queue
    assert attrs.get(search.PERIOD) == "大会期间"
    assert attrs.get(search.OVERDUE) is False
    reply_due = (await engine.view(sid)).deadlines["reply"].due_at
    assert attrs.get(search.REPLY_DUE) == reply_due

    await do(engine, sid, "sign", UNIT)
    assert (await handle.describe()).typed_search_attributes.get(search.STAGE) == "办"
    await reply_and_approve(engine, sid)
    assert (await handle.describe()).typed_search_attributes.get(search.STATE) == "replied"
    await do(engine, sid, "evaluate", DEPUTY, work="满意", result="满意")
    await finish(env, sid)

    attrs = (await handle.describe()).typed_search_attributes
    assert attrs.get(search.STATE) == "closed"
    assert attrs.get(search.STAGE) == "结"
    assert attrs.get(search.OVERDUE) is False
    history = await handle.fetch_history()
    assert len(history.events) < 150
    assert await accepted_updates(handle) == ["review", "assign", "sign", "record_contact", "reply", "review_reply", "evaluate"]


async def test_every_notice_is_delivered_once_by_email_to_its_recipient(env, engine, settings, mail):
    data = suggestion(settings, co_signers=["刘正心", "饶满琳"])
    sid = await submit_and_assign(engine, data, co=["区科技局"])
    await do(engine, sid, "co_opinion", "unit:区科技局", text="将提供科技企业名单。")
    await do(engine, sid, "sign", UNIT)
    await reply_and_approve(engine, sid)
    await do(engine, sid, "evaluate", DEPUTY, work="满意", result="满意")
    await finish(env, sid)

    sent = [o for o in outbox(settings, sid) if o.status == "sent"]
    assert sent and len(sent) == len(outbox(settings, sid))  # every recipient has an address here
    received = mails(mail, sid)
    assert len(received) == len(sent)
    delivered = sorted((r.to[0], r.key) for r in received)
    assert delivered == sorted((o.address, f"{sid}|{o.kind}|{o.cycle}") for o in sent)
    assert len(set(delivered)) == len(delivered)  # nothing twice

    def to(kind: str) -> list[str]:
        return sorted(r.to[0] for r in received if r.key.split("|")[1] == kind)

    assert to("assigned") == ["jinrong@example.gov", "keji@example.gov"]
    assert to("co_opinion") == ["jinrong@example.gov"]
    assert to("reply_review_needed") == ["zhengfuban@example.gov"]
    # only the lead deputy is asked to evaluate; the co-signers receive the reply
    assert to("evaluation_request") == ["杨永兵@deputy.example"]
    assert to("reply_delivered") == sorted(f"{n}@deputy.example" for n in ("刘正心", "饶满琳"))
    assigned = next(r for r in received if r.key.split("|")[1] == "assigned" and r.to == ["jinrong@example.gov"])
    assert "交办通知" in assigned.subject and "第40号" in assigned.subject
    assert "主办" in assigned.body and "签收" in assigned.body


async def test_notices_of_an_open_case_are_delivered_without_waiting_for_its_end(env, engine, settings, mail):
    sid = await submit_and_assign(engine)
    [row] = await delivered(env, settings, sid)
    assert (row.kind, row.status) == ("assigned", "sent")
    assert [r.to for r in mails(mail, sid)] == [["jinrong@example.gov"]]


async def test_suggestion_returned_twice_tells_the_deputy_each_time(env, engine, settings, mail):
    sid = await engine.submit(suggestion(settings), "杨永兵")
    await do(engine, sid, "review", CONGRESS, decision="return", reason="请补充具体措施")
    await do(engine, sid, "resubmit", DEPUTY, text="补充了措施。")
    await do(engine, sid, "review", CONGRESS, decision="return", reason="请补充数据")
    case = await do(engine, sid, "resubmit", DEPUTY, text="补充了数据。")
    assert (case.state, case.submission.text) == ("submitted", "补充了数据。")
    rows_ = await delivered(env, settings, sid)
    returned = [o for o in rows_ if o.kind == "returned"]
    assert [("请补充具体措施" in o.body, "请补充数据" in o.body) for o in returned] == [(True, False), (False, True)]
    assert [r.to for r in mails(mail, sid) if "|returned|" in r.key] == [["杨永兵@deputy.example"]] * 2


async def test_adjustment_to_a_co_handler_makes_it_lead_and_no_longer_co_handler(env, engine, settings):
    sid = await submit_and_assign(engine, co=["区科技局", "区水务局"])
    await do(engine, sid, "request_adjustment", UNIT, reason="主要职责在科技局")
    with pytest.raises(InputError, match="主办单位不能同时是协办单位"):
        await do(engine, sid, "decide_adjustment", CONGRESS, decision="approve", lead_unit="区科技局", co_handlers=["区科技局"])
    case = await do(engine, sid, "decide_adjustment", CONGRESS, decision="approve", lead_unit="区科技局")
    assert (case.lead_unit, case.co_handlers) == ("区科技局", ["区水务局"])
    roles = [(a.unit, a.role) for a in rows(settings, Assignment, sid) if a.active]
    assert roles == [("区科技局", "主办"), ("区水务局", "协办")]
    with pytest.raises(InputError, match="不是本建议的协办单位"):
        await do(engine, sid, "co_opinion", "unit:区科技局", text="作为主办单位不应提交协办意见")


async def test_an_action_arriving_with_the_submission_is_recorded_after_it(env, engine, settings):
    """An update that reaches the workflow in its first task (here: update-with-start, as any
    client racing the worker may) runs after the submission is recorded, not before it."""
    sub = parse_submit(suggestion(settings))
    start = WithStartWorkflowOperation(
        SuggestionWorkflow.run, StartCase(submission=sub, actor="杨永兵"),
        id=sub.workflow_id, task_queue=settings.task_queue, id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
    )
    review = ActionRequest(actor="代表工委", role="congress_office", payload={"decision": "register"})
    case = await env.client.execute_update_with_start_workflow(
        "review", review, start_workflow_operation=start, result_type=CaseState
    )
    engine.started.append(sub.workflow_id)
    assert (case.state, case.seq) == ("registered", 2)
    await quiesce(env, case_handle(env, sub.workflow_id))
    events = audit(settings, sub.workflow_id)
    assert [(e.seq, e.action, e.from_state, e.to_state) for e in events] == [
        (1, "submit", "", "submitted"),
        (2, "review", "submitted", "registered"),
    ]
    assert events[1].prev_hash == events[0].hash


@pytest.mark.parametrize(
    ("decision", "extra", "state", "outcome"),
    [
        ("merge", {"merge_into": "第12号"}, "merged", "已并案"),
        ("not_register", {"reason": "属于个人诉求，转来信处理"}, "not_registered", "不予立案"),
    ],
)
async def test_review_may_merge_or_not_register_and_the_case_ends_there(env, engine, settings, decision, extra, state, outcome):
    await engine.submit(suggestion(settings, number="第12号", title="关于金融服务的建议"), "杨永兵")
    sid = await engine.submit(suggestion(settings), "杨永兵")
    case = await do(engine, sid, "review", CONGRESS, decision=decision, **extra)
    assert (case.state, case.outcome) == (state, outcome)
    final = await finish(env, sid)
    assert final.state == state
    row = projection(settings, sid)
    assert (row.state, row.outcome) == (state, outcome)
    assert (await case_handle(env, sid).describe()).typed_search_attributes.get(search.STAGE) == "提"
    [told] = outbox(settings, sid, state)  # the deputy hears how the suggestion was handled
    assert told.recipient == "杨永兵" and told.status == "sent"
    assert "第12号" in told.body if decision == "merge" else "转来信处理" in told.body


async def test_policy_without_reply_review_or_second_round_goes_straight_to_deputies_and_supervision(env, engine, settings):
    engine.policy = Policy(reply_review_required=False, max_rounds=1)
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", UNIT)
    await do(engine, sid, "record_contact", UNIT, method="书面", on=await contact_day(engine, sid))
    case = await do(engine, sid, "reply", UNIT, reply_class="A", text="已解决。", signed_by="局长 张三")
    assert case.state == "replied"
    assert "evaluation" in case.deadlines
    assert outbox(settings, sid, "reply_review_needed") == []
    assert [o.recipient for o in outbox(settings, sid, "evaluation_request")] == ["杨永兵"]
    case = await do(engine, sid, "evaluate", DEPUTY, work="不满意", result="不满意", comment="未解决")
    assert (case.state, case.round, case.escalation_count) == ("escalated", 1, 1)
    await do(engine, sid, "resolve_escalation", SUPERVISION, decision="close", comment="按未解决办结")
    assert (await finish(env, sid)).outcome == "未解决"
