"""What a real congress office would trip over in its first month (issue 6 §2), each rule a test."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import (
    CONGRESS,
    audit,
    case_handle,
    contact_day,
    delivered,
    do,
    finish,
    mails,
    outbox,
    projection,
    quiesce,
    reminders,
    reply_and_approve,
    rows,
    skip_past,
    submit_and_assign,
    suggestion,
)

from jianyi.models.commands import InputError
from jianyi.models.policy import china_day, end_of_day
from jianyi.models.tables import Commitment, Escalation, Reply
from jianyi.queries import describe_event, timeline

LEAD = "区地方金融工作局"
UNIT = f"unit:{LEAD}"
CO = "区科技局"
DEPUTY = "deputy:杨永兵"
GOV = "government_office:区政府办公室"
SUPERVISION = "supervision_office:区政府督查室"
OFFICE = "区人大常委会代表工作委员会"


async def days_ahead(env, days: int) -> str:  # noqa: ANN001
    return (china_day(await env.get_current_time()) + timedelta(days=days)).isoformat()


# -- merging and review ---------------------------------------------------------------------------
async def test_merge_into_a_missing_a_terminal_or_the_same_suggestion_is_refused(env, engine, settings):
    sid = await engine.submit(suggestion(settings), "杨永兵")
    gone = await engine.submit(suggestion(settings, number="第13号", title="关于普惠金融的建议"), "杨永兵")
    await do(engine, gone, "withdraw", DEPUTY, reason="不再需要")
    for target, phrase in [("第99号", "不存在"), ("第40号", "并入它自己"), ("第13号", "^并入的建议第13号已撤回，不能再并入$")]:
        with pytest.raises(InputError, match=phrase):
            await do(engine, sid, "review", CONGRESS, decision="merge", merge_into=target, reason="内容相近")
    assert [e.action for e in audit(settings, sid)] == ["submit"]


async def test_a_merge_is_recorded_on_the_target_and_the_merged_deputy_receives_its_reply(env, engine, settings):
    target = await submit_and_assign(engine)
    other = await engine.submit(suggestion(settings, number="第41号", title="关于普惠金融的建议", lead_deputy="胡家胜"), "胡家胜")
    await do(engine, other, "review", CONGRESS, decision="merge", merge_into="第40号", reason="内容相同，并案办理")
    await quiesce(env, case_handle(env, target))
    case = await engine.view(target)
    assert case.merged_from == [other] and "胡家胜" in case.submission.co_signers
    assert audit(settings, target)[-1].action == "merge_in"
    await do(engine, target, "sign", UNIT)
    await reply_and_approve(engine, target)
    assert [o.recipient for o in outbox(settings, target, "reply_delivered")] == ["胡家胜"]
    assert [o.recipient for o in outbox(settings, target, "evaluation_request")] == ["杨永兵"]


# -- adjustment ------------------------------------------------------------------------------------
async def test_a_refused_adjustment_is_answered_to_the_unit_that_asked(env, engine, settings):
    sid = await submit_and_assign(engine, co=[CO])
    await do(engine, sid, "request_adjustment", f"unit:{CO}", reason="不属于本单位职责")
    await do(engine, sid, "decide_adjustment", CONGRESS, decision="refuse", comment="请继续协办")
    assert [o.recipient for o in outbox(settings, sid, "adjustment_decided")] == [CO]


async def test_an_approved_adjustment_tells_the_old_lead_unit_it_is_released(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "request_adjustment", UNIT, reason="应由区城管局主办")
    await do(engine, sid, "decide_adjustment", CONGRESS, decision="approve", lead_unit="区城管局")
    [released] = outbox(settings, sid, "adjustment_decided")
    assert released.recipient == LEAD and "不再承办" in released.body
    assert outbox(settings, sid, "assigned")[-1].recipient == "区城管局"


async def test_a_unit_may_ask_for_adjustment_once_per_assignment(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "request_adjustment", UNIT, reason="应由区城管局主办")
    await do(engine, sid, "decide_adjustment", CONGRESS, decision="refuse", comment="职责明确")
    with pytest.raises(InputError, match="每次交办只能申请一次"):
        await do(engine, sid, "request_adjustment", UNIT, reason="再次申请")


# -- replies and commitments -------------------------------------------------------------------------
async def test_a_reply_sent_back_takes_its_commitments_with_it_and_is_not_counted_as_a_reply(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", UNIT)
    await do(engine, sid, "record_contact", UNIT, method="座谈", on=await contact_day(engine, sid))
    draft = [{"text": "设立金融服务站", "promised_date": await days_ahead(env, 60)}]
    await do(engine, sid, "reply", UNIT, reply_class="B", text="初稿", signed_by="局长 张三", commitments=draft)
    case = await do(engine, sid, "review_reply", GOV, decision="refuse", comment="承诺事项不具体")
    assert case.commitments == [] and rows(settings, Commitment, sid) == []
    assert projection(settings, sid).replied_at is None
    final = [{"text": "年内设立三个金融服务站", "promised_date": await days_ahead(env, 90)}]
    await do(engine, sid, "reply", UNIT, reply_class="B", text="正在推进。", signed_by="局长 张三", commitments=final)
    case = await do(engine, sid, "review_reply", GOV, decision="approve")
    assert [(c.number, c.text) for c in case.commitments] == [(1, "年内设立三个金融服务站")]
    assert [r.review_status for r in rows(settings, Reply, sid)] == ["已退回", "已通过"]


async def test_a_promised_date_in_the_past_is_refused(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", UNIT)
    await do(engine, sid, "record_contact", UNIT, method="座谈", on=await contact_day(engine, sid))
    past = [{"text": "设立金融服务站", "promised_date": await days_ahead(env, -1)}]
    with pytest.raises(InputError, match="承诺完成日期应晚于答复日"):
        await do(engine, sid, "reply", UNIT, reply_class="B", text="正在推进。", signed_by="局长 张三", commitments=past)


async def _follow_up(env, engine, settings, commitments: list[tuple[str, int]]) -> str:  # noqa: ANN001
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", UNIT)
    promised = [{"text": t, "promised_date": await days_ahead(env, d)} for t, d in commitments]
    await reply_and_approve(engine, sid, reply_class="C", commitments=promised)
    assert (await do(engine, sid, "evaluate", DEPUTY, work="满意", result="满意")).state == "follow_up"
    return sid


async def test_commitment_notices_name_the_suggestion_and_tell_the_supervision_office_what_to_do(env, engine, settings):
    sid = await _follow_up(env, engine, settings, [("完成道路改造", 30)])
    promised = china_day(await env.get_current_time()) + timedelta(days=30)
    await skip_past(env, end_of_day(promised))
    [due] = outbox(settings, sid, "commitment_due")
    assert "第40号" in due.body and "科技金融" in due.body and "承诺事项1" not in due.body
    to_supervision = next(o for o in outbox(settings, sid, "commitment_missed") if o.recipient == "区政府督查室")
    assert "请通报、责令限期整改" in to_supervision.body and "请立即兑现承诺" not in to_supervision.body


async def test_fulfilling_the_last_commitment_sends_the_deputy_the_supplementary_reply(env, engine, settings):
    sid = await _follow_up(env, engine, settings, [("设立服务站", 60), ("开展对接会", 90)])
    await do(engine, sid, "fulfil_commitment", UNIT, number=1, text="服务站已挂牌")
    assert outbox(settings, sid, "supplementary_reply") == []
    case = await do(engine, sid, "fulfil_commitment", UNIT, number=2, text="对接会已举办")
    assert case.state == "closed"
    told = outbox(settings, sid, "supplementary_reply")
    assert [o.recipient for o in told] == ["杨永兵"] and "服务站已挂牌" in told[0].body and "对接会已举办" in told[0].body


async def test_a_case_with_a_missed_commitment_does_not_close_as_plain_satisfied(env, engine, settings):
    sid = await _follow_up(env, engine, settings, [("完成道路改造", 10)])
    promised = china_day(await env.get_current_time()) + timedelta(days=10)
    await skip_past(env, end_of_day(promised))
    case = await do(engine, sid, "fulfil_commitment", UNIT, number=1, text="已完成（逾期）")
    assert (case.state, case.outcome, case.on_time) == ("closed", "满意（承诺事项曾逾期未兑现）", False)


async def test_only_the_lead_units_contact_satisfies_the_contact_before_reply_rule(env, engine, settings):
    sid = await submit_and_assign(engine, co=[CO])
    await do(engine, sid, "sign", UNIT)
    await do(engine, sid, "record_contact", f"unit:{CO}", method="电话", on=await contact_day(engine, sid))
    with pytest.raises(InputError, match="本轮尚无沟通记录"):
        await do(engine, sid, "reply", UNIT, reply_class="A", text="已解决。", signed_by="局长 张三")


async def test_a_contact_with_the_deputy_dated_in_the_future_is_refused(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", UNIT)
    with pytest.raises(InputError, match="不晚于今天"):
        await do(engine, sid, "record_contact", UNIT, method="电话", on=await days_ahead(env, 3))


# -- evaluation --------------------------------------------------------------------------------------
async def test_the_handling_unit_is_told_the_evaluation(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", UNIT)
    await reply_and_approve(engine, sid)
    await do(engine, sid, "evaluate", DEPUTY, work="满意", result="基本满意")
    [told] = outbox(settings, sid, "evaluated")
    assert told.recipient == LEAD and "办理工作满意" in told.body and "办理结果基本满意" in told.body


async def test_an_evaluation_window_found_ended_late_closes_as_no_view_without_a_stale_reminder(env, engine, settings):
    now = await env.get_current_time()
    t0 = now - timedelta(days=60)
    office, unit = {"on_behalf_of": f"congress_office:{OFFICE}"}, {"on_behalf_of": UNIT}
    admin = ("管理员", "admin")

    async def backfill(sid: str, action: str, day: int, who: dict, **payload) -> None:  # noqa: ANN001
        await engine.act(sid, action, *admin, payload, effective_at=t0 + timedelta(days=day), **who)

    sid = await engine.submit(suggestion(settings), "管理员", role="admin", effective_at=t0)
    await backfill(sid, "review", 1, office, decision="register")
    _, entries = timeline(settings.db_url, sid)  # the deputy proposed it; the admin only recorded it
    assert describe_event(entries[0]) == f"系统管理员「管理员」为代表「{suggestion(settings)['lead_deputy']}」补录提出建议：— → 已提出（待阅看）"
    await backfill(sid, "assign", 2, office, lead_unit=LEAD)
    await backfill(sid, "sign", 3, unit)
    await backfill(sid, "record_contact", 4, unit, method="座谈", on=china_day(t0 + timedelta(days=4)).isoformat())
    await backfill(sid, "reply", 5, unit, reply_class="A", text="已解决。", signed_by="局长 张三")
    await backfill(sid, "review_reply", 6, {"on_behalf_of": GOV}, decision="approve")
    final = await finish(env, sid)
    assert (final.state, final.outcome) == ("closed", "未表态")
    assert [r.skipped for r in reminders(settings, sid, "evaluation_reminder")] == [True]
    assert outbox(settings, sid, "evaluation_reminder") == []


# -- supervision and escalation ----------------------------------------------------------------------
async def _overdue_escalation(env, engine, settings) -> str:  # noqa: ANN001
    """A paper case assigned 130 days ago: overdue, and escalated to 督查室 without a state change."""
    t0 = await env.get_current_time() - timedelta(days=130)
    office = {"on_behalf_of": f"congress_office:{OFFICE}"}
    sid = await engine.submit(suggestion(settings), "管理员", role="admin", effective_at=t0)
    await engine.act(sid, "review", "管理员", "admin", {"decision": "register"}, effective_at=t0 + timedelta(days=1), **office)
    case = await engine.act(sid, "assign", "管理员", "admin", {"lead_unit": LEAD}, effective_at=t0 + timedelta(days=2), **office)
    await skip_past(env, case.agenda_hold_until)
    assert [e.reason for e in rows(settings, Escalation, sid)] == ["逾期未答复"]
    return sid


async def test_supervision_office_acts_on_an_overdue_escalation_by_notice_rectification_or_closing_it(env, engine, settings):
    sid = await _overdue_escalation(env, engine, settings)
    await do(engine, sid, "act_on_escalation", SUPERVISION, decision="notice", comment="予以通报批评")
    assert sorted(o.recipient for o in outbox(settings, sid, "escalation_notice")) == sorted([LEAD, OFFICE])
    case = await do(engine, sid, "act_on_escalation", SUPERVISION, decision="rectify", comment="限期答复代表", workdays=10)
    assert case.deadlines["rectify"].amount == 10 and projection(settings, sid).rectify_due == case.deadlines["rectify"].due_at
    [rectify] = [o for o in outbox(settings, sid, "rectification_ordered") if o.recipient == LEAD]
    assert case.deadlines["rectify"].display_due() in rectify.body
    await do(engine, sid, "act_on_escalation", SUPERVISION, decision="close", comment="已整改到位")
    [esc] = rows(settings, Escalation, sid)
    assert esc.resolved_at is not None and esc.steps == ["通报：予以通报批评", "限期整改：限期答复代表"]
    with pytest.raises(InputError, match="没有待处理的督查事项"):
        await do(engine, sid, "act_on_escalation", SUPERVISION, decision="notice", comment="再通报")


async def test_closing_an_escalated_case_as_unresolved_tells_the_deputy_and_the_unit(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", UNIT)
    for _ in range(2):
        await reply_and_approve(engine, sid)
        case = await do(engine, sid, "evaluate", DEPUTY, work="不满意", result="不满意", comment="问题没有解决")
    assert case.state == "escalated"
    await do(engine, sid, "resolve_escalation", SUPERVISION, decision="close", comment="受客观条件限制")
    assert sorted(o.recipient for o in outbox(settings, sid, "closed_unresolved")) == sorted(["杨永兵", LEAD])


async def test_key_supervision_needs_a_registered_supervisor_who_alone_of_supervisors_may_remark(env, engine, settings):
    sid = await submit_and_assign(engine)
    with pytest.raises(InputError, match="不是已登记的督办人"):
        await do(engine, sid, "mark_key", CONGRESS, key=True, supervisor="张三")
    await do(engine, sid, "mark_key", CONGRESS, key=True, supervisor="王琨")
    assert sorted(o.recipient for o in outbox(settings, sid, "key_marked")) == sorted([LEAD, "王琨"])
    await do(engine, sid, "mark_key", CONGRESS, key=True, supervisor="楚俊")
    assert "接替原督办人王琨" in outbox(settings, sid, "key_marked")[-1].body
    with pytest.raises(InputError, match="「王琨」不是本建议的督办人"):
        await do(engine, sid, "remark", "supervisor:王琨", text="请加快")
    await do(engine, sid, "remark", "supervisor:楚俊", text="请加快")
    await do(engine, sid, "remark", CONGRESS, text="代表工委随时可批注")
    await do(engine, sid, "mark_key", CONGRESS, key=False)
    _, entries = timeline(settings.db_url, sid)
    assert "取消重点督办" in describe_event(entries[-1])


# -- stale notices -----------------------------------------------------------------------------------
async def test_a_notice_the_case_has_moved_past_is_skipped_before_delivery(env, engine, settings):
    """A paper case of this morning entered (补录) all the way to 办结: its 交办通知 must never go out now."""
    t0 = await env.get_current_time() - timedelta(hours=12)
    admin, office, unit = ("管理员", "admin"), {"on_behalf_of": f"congress_office:{OFFICE}"}, {"on_behalf_of": UNIT}
    sid = await engine.submit(suggestion(settings), "管理员", role="admin", effective_at=t0)
    steps = [("review", office, {"decision": "register"}), ("assign", office, {"lead_unit": LEAD}), ("sign", unit, {}),
             ("record_contact", unit, {"method": "座谈", "on": china_day(t0 + timedelta(hours=4)).isoformat()}),
             ("reply", unit, {"reply_class": "A", "text": "已解决。", "signed_by": "局长 张三"}),
             ("review_reply", {"on_behalf_of": GOV}, {"decision": "approve"}),
             ("evaluate", {"on_behalf_of": DEPUTY}, {"work": "满意", "result": "满意"})]
    for hour, (action, who, payload) in enumerate(steps, start=1):
        await engine.act(sid, action, *admin, payload, effective_at=t0 + timedelta(hours=hour), **who)
    await finish(env, sid)
    [notice] = outbox(settings, sid, "assigned")
    assert notice.status == "skipped" and notice.sent_at is None and "已过时" in notice.last_error


async def test_steps_entered_long_after_they_happened_send_nothing_and_the_next_real_step_does(env, engine, settings, mail):
    """A paper case of 40 days ago entered (补录) up to 办理中: the unit and the offices were told on paper then."""
    t0 = await env.get_current_time() - timedelta(days=40)
    admin, office, unit = ("管理员", "admin"), {"on_behalf_of": f"congress_office:{OFFICE}"}, {"on_behalf_of": UNIT}
    sid = await engine.submit(suggestion(settings), "管理员", role="admin", effective_at=t0)
    for day, (action, who, payload) in enumerate([("review", office, {"decision": "register"}), ("assign", office, {"lead_unit": LEAD}),
                                                  ("sign", unit, {})], start=1):
        await engine.act(sid, action, *admin, payload, effective_at=t0 + timedelta(days=day), **who)
    old = outbox(settings, sid)
    assert old and {r.status for r in old} == {"skipped"}
    assert all(f"补录的步骤发生于{china_day(t0 + timedelta(days=2)):%Y-%m-%d}" in r.last_error for r in outbox(settings, sid, "assigned"))
    _, entries = timeline(settings.db_url, sid)
    assert "条通知不再发送" in describe_event(entries[2]) and "暂缓" not in describe_event(entries[2])

    await do(engine, sid, "record_contact", UNIT, method="座谈", on=await contact_day(engine, sid), note="与代表座谈")
    await do(engine, sid, "reply", UNIT, reply_class="A", text="已解决。", signed_by="局长 张三")  # today, by the unit itself
    sent = {r.kind for r in await delivered(env, settings, sid) if r.status == "sent"}
    assert "reply_review_needed" in sent and "assigned" not in sent
    assert {m.key.split("|")[1] for m in mails(mail, sid)} == sent  # the mail server saw exactly those
