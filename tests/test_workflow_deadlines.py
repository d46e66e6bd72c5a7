"""Deadlines on the time-skipping server: reminders, overdue notices and escalation at the policy's times.

Expected times come from the policy (jianyi.models.policy.compute) for the same start: the
workflow must fire what the policy computed, exactly when it says.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import (
    CONGRESS,
    SETTLE,
    audit,
    case_handle,
    delivered,
    do,
    finish,
    outbox,
    projection,
    quiesce,
    reminders,
    reply_and_approve,
    rows,
    skip_past,
    skip_to,
    submit_and_assign,
    suggestion,
)

from jianyi.models.calendar import WorkCalendar
from jianyi.models.commands import InputError
from jianyi.models.policy import CST, Policy, add_months, at_hour, china_day, compute, end_of_day
from jianyi.models.tables import Assignment, Commitment, Escalation, Evaluation, Reminder, Reply
from jianyi.workflows import search

LEAD = "区地方金融工作局"
UNIT = f"unit:{LEAD}"
DEPUTY = "deputy:杨永兵"
OFFICE = "区人大常委会代表工作委员会"
CAL = WorkCalendar()


def fired_between(settings, sid, kind, at):
    """The outbox rows of ``kind`` were written when the agenda item at ``at`` fired (a timer is a few ms late)."""
    created = {o.created_at for o in outbox(settings, sid, kind)}
    return bool(created) and all(at <= c < at + SETTLE for c in created)


async def test_reminders_fire_at_the_policy_times_then_overdue_notices_weekly_and_escalation(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", UNIT)
    case = await engine.view(sid)
    reply = case.deadlines["reply"]
    expected = compute("reply", case.assigned_at, Policy(), CAL)
    assert (reply.last_day, reply.due_at, reply.escalate_at) == (expected.last_day, expected.due_at, expected.escalate_at)
    assert reply.reminders == expected.reminders
    assert [(reply.last_day - china_day(t)).days for t in reply.reminders] == [15, 5, 1, 0]
    assert all(t.astimezone(CST).hour == 9 for t in reply.reminders)

    # Nothing before the first reminder; then each at its time, and only that one.
    await skip_to(env, reply.reminders[0] - SETTLE)
    assert reminders(settings, sid, "deadline_reminder") == []
    for k, at in enumerate(reply.reminders, start=1):
        await skip_past(env, at)
        fired = reminders(settings, sid, "deadline_reminder")
        assert [r.due_at for r in fired] == reply.reminders[:k]
        assert at <= fired[-1].fired_at < at + SETTLE
        rows_now = outbox(settings, sid, "deadline_reminder")
        assert len(rows_now) == k and rows_now[-1].recipient == LEAD
        assert at <= rows_now[-1].created_at < at + SETTLE
    bodies = [o.body for o in outbox(settings, sid, "deadline_reminder")]
    assert [f"还有{d}天" in b for d, b in zip((15, 5, 1, 0), bodies, strict=True)] == [True] * 4

    # Overdue at 24:00 of the last day: the unit and the congress office are told.
    await skip_to(env, reply.due_at - SETTLE)
    assert reminders(settings, sid, "overdue") == []
    assert (await engine.view(sid)).overdue is False
    await skip_past(env, reply.due_at)
    [notice] = reminders(settings, sid, "overdue")
    assert notice.due_at == reply.due_at
    assert sorted(o.recipient for o in outbox(settings, sid, "overdue")) == sorted([LEAD, OFFICE])
    assert fired_between(settings, sid, "overdue", reply.due_at)
    assert (await engine.view(sid)).overdue is True
    assert projection(settings, sid).overdue is True
    assert (await case_handle(env, sid).describe()).typed_search_attributes.get(search.OVERDUE) is True

    # Weekly while overdue; escalation to 督查室 after 10 working days overdue.
    week = timedelta(days=7)
    await skip_past(env, reply.due_at + week)
    assert [r.due_at for r in reminders(settings, sid, "overdue_repeat")] == [reply.due_at + week]
    [repeat] = [o for o in outbox(settings, sid, "overdue_repeat")]
    assert "本建议已逾期8天" in repeat.body  # the 8th day after the last day, as the stuck view counts it then
    assert reminders(settings, sid, "overdue_escalation") == []
    assert rows(settings, Escalation, sid) == []
    await skip_to(env, reply.escalate_at - SETTLE)
    assert reminders(settings, sid, "overdue_escalation") == []
    await skip_past(env, reply.escalate_at)
    [escalation_fire] = reminders(settings, sid, "overdue_escalation")
    assert escalation_fire.due_at == reply.escalate_at
    assert fired_between(settings, sid, "overdue_escalation", reply.escalate_at)
    assert "区政府督查室" in {o.recipient for o in outbox(settings, sid, "overdue_escalation")}
    [escalation] = rows(settings, Escalation, sid)
    assert escalation.reason == "逾期未答复"
    case = await engine.view(sid)
    assert (case.escalation_count, case.overdue, case.state) == (1, True, "handling")
    repeats = [r.due_at for r in reminders(settings, sid, "overdue_repeat")]
    expected_repeats = []
    while (t := reply.due_at + week * (len(expected_repeats) + 1)) <= reply.escalate_at:
        expected_repeats.append(t)
    assert repeats == expected_repeats

    # The late reply ends the overdue state and is recorded as late.
    await reply_and_approve(engine, sid)
    case = await engine.view(sid)
    assert case.overdue is False
    assert [r.on_time for r in rows(settings, Reply, sid)] == [False]
    case = await do(engine, sid, "evaluate", DEPUTY, work="基本满意", result="基本满意")
    assert (case.state, case.on_time) == ("closed", False)
    await finish(env, sid)
    assert projection(settings, sid).on_time is False
    assert [r.due_at for r in reminders(settings, sid, "overdue_repeat")] == expected_repeats  # none after the reply


async def test_unit_that_does_not_sign_within_five_working_days_is_reminded(env, engine, settings):
    sid = await submit_and_assign(engine)
    sign = (await engine.view(sid)).deadlines["sign"]
    assert sign.last_day == CAL.add_workdays(sign.start_day, 5)[0]
    await skip_to(env, sign.due_at - SETTLE)
    assert reminders(settings, sid, "sign_overdue") == []
    await skip_past(env, sign.due_at)
    [fire] = reminders(settings, sid, "sign_overdue")
    assert fire.due_at == sign.due_at
    assert sorted(o.recipient for o in outbox(settings, sid, "sign_overdue")) == sorted([LEAD, OFFICE])
    case = await do(engine, sid, "sign", UNIT)  # late, but still possible
    assert case.state == "handling"


async def test_adjustment_requested_inside_the_window_is_approved_and_the_clock_restarts(env, engine, settings):
    sid = await submit_and_assign(engine)
    old = (await engine.view(sid)).deadlines
    await env.sleep(timedelta(days=2))
    case = await do(engine, sid, "request_adjustment", UNIT, reason="属科技部门职责", suggested_unit="区科技局")
    assert case.state == "adjustment_requested"
    assert [o.recipient for o in outbox(settings, sid, "adjustment_requested")] == [OFFICE]
    await env.sleep(timedelta(days=1))

    case = await do(engine, sid, "decide_adjustment", CONGRESS, decision="approve", lead_unit="区科技局", comment="同意")
    decided_at = audit(settings, sid)[-1].at
    assert (case.state, case.lead_unit, case.assigned_at) == ("assigned", "区科技局", decided_at)
    for kind in ("sign", "reply"):
        new = case.deadlines[kind]
        assert new.start == decided_at
        assert new.due_at == compute(kind, decided_at, Policy(), CAL).due_at
        assert new.due_at > old[kind].due_at
    assert [(a.unit, a.active) for a in rows(settings, Assignment, sid)] == [(LEAD, False), ("区科技局", True)]
    assert [o.recipient for o in outbox(settings, sid, "assigned")] == [LEAD, "区科技局"]
    assert (await case_handle(env, sid).describe()).typed_search_attributes.get(search.LEAD_UNIT) == "区科技局"

    # The old sign-for deadline passes without a notice: it is no longer the unit's deadline.
    await skip_past(env, old["sign"].due_at)
    assert reminders(settings, sid, "sign_overdue") == []
    with pytest.raises(InputError, match="只有主办单位（区科技局）可以签收"):
        await do(engine, sid, "sign", UNIT)
    assert (await do(engine, sid, "sign", "unit:区科技局")).state == "handling"


async def test_adjustment_requested_after_the_window_is_refused(env, engine, settings):
    sid = await submit_and_assign(engine)
    sign = (await engine.view(sid)).deadlines["sign"]
    await skip_past(env, sign.due_at)
    before = len(audit(settings, sid))
    with pytest.raises(InputError) as refused:
        await do(engine, sid, "request_adjustment", UNIT, reason="属科技部门职责")
    assert refused.value.message == f"已超过申请调整的期限（{sign.display_due()}），不能再申请调整"
    assert "adjustment_window_closed" in refused.value.detail
    assert len(audit(settings, sid)) == before
    assert (await do(engine, sid, "sign", UNIT)).state == "handling"


async def test_extension_once_moves_the_reply_deadline_three_months_and_a_second_is_refused(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", UNIT)
    old = (await engine.view(sid)).deadlines["reply"]
    case = await do(engine, sid, "request_extension", UNIT, reason="涉及多部门协调，情况复杂")
    assert case.extension_pending is True
    assert [o.recipient for o in outbox(settings, sid, "extension_requested")] == [OFFICE]
    with pytest.raises(InputError, match="已有一项待审批的延期申请"):
        await do(engine, sid, "request_extension", UNIT, reason="再申请")
    await env.sleep(timedelta(days=3))

    case = await do(engine, sid, "decide_extension", CONGRESS, decision="approve", comment="同意延期三个月")
    decided_at = audit(settings, sid)[-1].at
    new = case.deadlines["reply"]
    assert (new.rule, new.start, case.extensions_used, case.extension_pending) == ("extension", decided_at, 1, False)
    assert new.nominal_end == add_months(old.nominal_end, 3)
    assert new.last_day == CAL.next_workday(new.nominal_end)[0]
    assert new.due_at == compute("extension", decided_at, Policy(), CAL, base_day=old.nominal_end).due_at
    assert new.reminders[0] == at_hour(new.last_day - timedelta(days=15), 9)
    assert projection(settings, sid).reply_due == new.due_at
    assert [a.due_at for a in rows(settings, Assignment, sid)] == [new.due_at]
    assert (await case_handle(env, sid).describe()).typed_search_attributes.get(search.REPLY_DUE) == new.due_at

    with pytest.raises(InputError, match="延期最多只能申请1次"):
        await do(engine, sid, "request_extension", UNIT, reason="还需要时间")

    # The original deadline passes quietly; the reply before the new one is on time.
    await skip_past(env, old.due_at)
    assert reminders(settings, sid, "overdue") == []
    assert [r.due_at for r in reminders(settings, sid, "deadline_reminder")] == [t for t in new.reminders if t <= old.due_at]
    await reply_and_approve(engine, sid)
    case = await do(engine, sid, "evaluate", DEPUTY, work="满意", result="满意")
    assert (case.state, case.on_time) == ("closed", True)
    await finish(env, sid)


async def test_no_evaluation_within_twenty_working_days_closes_with_no_view(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", UNIT)
    await reply_and_approve(engine, sid)
    approved_at = audit(settings, sid)[-1].at
    ev = (await engine.view(sid)).deadlines["evaluation"]
    assert ev.due_at == compute("evaluation", approved_at, Policy(), CAL).due_at
    assert ev.last_day == CAL.add_workdays(china_day(approved_at), 20)[0]
    tenth = CAL.add_workdays(china_day(approved_at), 10)[0]
    assert ev.reminders == [at_hour(tenth, 9)]

    await skip_to(env, ev.reminders[0] - SETTLE)
    assert reminders(settings, sid, "evaluation_reminder") == []
    await skip_past(env, ev.reminders[0])
    [reminder] = reminders(settings, sid, "evaluation_reminder")
    assert reminder.due_at == ev.reminders[0]
    assert [o.recipient for o in outbox(settings, sid, "evaluation_reminder")] == ["杨永兵"]
    assert (await engine.view(sid)).state == "replied"

    await skip_to(env, ev.due_at - SETTLE)
    assert (await engine.view(sid)).state == "replied"
    await skip_past(env, ev.due_at)
    final = await finish(env, sid)
    assert (final.state, final.outcome) == ("closed", "未表态")
    [expiry] = reminders(settings, sid, "expire_evaluation")
    assert expiry.due_at == ev.due_at
    last = audit(settings, sid)[-1]
    assert (last.action, last.actor, last.role, last.to_state) == ("expire_evaluation", "系统", "system", "closed")
    assert ev.due_at <= last.at < ev.due_at + SETTLE
    assert [(e.work, e.result) for e in rows(settings, Evaluation, sid)] == [("未表态", "未表态")]
    assert projection(settings, sid).outcome == "未表态"
    assert [o.recipient for o in outbox(settings, sid, "closed")] == [LEAD]


async def test_refused_extension_may_be_asked_again_and_each_request_and_decision_is_sent(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", UNIT)
    await do(engine, sid, "request_extension", UNIT, reason="第一次申请")
    await do(engine, sid, "decide_extension", CONGRESS, decision="refuse", comment="理由不充分")
    case = await do(engine, sid, "request_extension", UNIT, reason="第二次申请，补充了理由")
    assert (case.extension_pending, case.extensions_used) == (True, 0)
    case = await do(engine, sid, "decide_extension", CONGRESS, decision="approve", comment="同意")
    assert (case.extensions_used, case.deadlines["reply"].rule) == (1, "extension")
    rows_ = await delivered(env, settings, sid)
    requests = [o.body for o in rows_ if o.kind == "extension_requested"]
    decisions = [o.body for o in rows_ if o.kind == "extension_decided"]
    assert [("第一次申请" in b, "第二次申请" in b) for b in requests] == [(True, False), (False, True)]
    assert [("不同意延期" in b, "同意延期" in b) for b in decisions] == [(True, True), (False, True)]
    assert all(o.status == "sent" for o in rows_)


async def test_approved_extension_of_an_overdue_case_lifts_the_overdue_flag(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", UNIT)
    due = (await engine.view(sid)).deadlines["reply"]
    await skip_past(env, due.due_at)
    assert (await engine.view(sid)).overdue is True
    await do(engine, sid, "request_extension", UNIT, reason="情况复杂")
    case = await do(engine, sid, "decide_extension", CONGRESS, decision="approve")
    new = case.deadlines["reply"]
    assert new.due_at > await env.get_current_time()
    assert case.overdue is False
    assert projection(settings, sid).overdue is False
    assert (await case_handle(env, sid).describe()).typed_search_attributes.get(search.OVERDUE) is False
    # and it is overdue again when the new deadline passes
    await skip_past(env, new.due_at)
    assert (await engine.view(sid)).overdue is True
    assert [r.due_at for r in reminders(settings, sid, "overdue")] == [due.due_at, new.due_at]


async def test_co_handler_without_an_opinion_after_a_month_is_reminded(env, engine, settings):
    sid = await submit_and_assign(engine, co=["区科技局", "区水务局"])
    await do(engine, sid, "co_opinion", "unit:区水务局", text="已提供排水资料。")
    await do(engine, sid, "sign", UNIT)
    co = (await engine.view(sid)).deadlines["co_opinion"]
    assert co.due_at == compute("co_opinion", co.start, Policy(), CAL).due_at
    await skip_to(env, co.due_at - SETTLE)
    assert reminders(settings, sid, "co_opinion_overdue") == []
    await skip_past(env, co.due_at)
    [fire] = reminders(settings, sid, "co_opinion_overdue")
    assert fire.due_at == co.due_at
    assert [o.recipient for o in outbox(settings, sid, "co_opinion_overdue")] == ["区科技局"]  # not 区水务局, which answered


async def test_inter_session_suggestion_not_assigned_within_five_working_days_is_flagged(env, engine, settings):
    sid = await engine.submit(suggestion(settings, number="闭会第33号"), "杨永兵")
    assert sid.endswith("-bh33")
    await quiesce(env, case_handle(env, sid))
    submitted_at = (await engine.view(sid)).submitted_at
    assert submitted_at == audit(settings, sid)[0].at
    await do(engine, sid, "review", CONGRESS, decision="register")
    assign = (await engine.view(sid)).deadlines["assign"]
    assert assign.last_day == CAL.add_workdays(china_day(submitted_at), 5)[0]
    await skip_to(env, assign.due_at - SETTLE)
    assert reminders(settings, sid, "assign_overdue") == []
    await skip_past(env, assign.due_at)
    [fire] = reminders(settings, sid, "assign_overdue")
    assert fire.due_at == assign.due_at
    assert [o.recipient for o in outbox(settings, sid, "assign_overdue")] == [OFFICE]
    case = await do(engine, sid, "assign", CONGRESS, lead_unit=LEAD)
    assert "assign" not in case.deadlines


async def test_commitment_not_fulfilled_by_its_date_is_escalated(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", UNIT)
    promised = china_day(await env.get_current_time()) + timedelta(days=30)
    await reply_and_approve(engine, sid, reply_class="C", commitments=[{"text": "完成道路改造", "promised_date": promised.isoformat()}])
    await do(engine, sid, "evaluate", DEPUTY, work="满意", result="满意")

    due_at, missed_at = at_hour(promised, 9), end_of_day(promised)
    await skip_to(env, due_at - SETTLE)
    assert reminders(settings, sid, "commitment_due") == []
    await skip_past(env, due_at)
    assert [r.due_at for r in reminders(settings, sid, "commitment_due")] == [due_at]
    assert [o.recipient for o in outbox(settings, sid, "commitment_due")] == [LEAD]
    assert rows(settings, Escalation, sid) == []
    await skip_past(env, missed_at)
    assert [r.due_at for r in reminders(settings, sid, "commitment_missed")] == [missed_at]
    # 督查室 is asked to act; the unit and the congress office hear it too
    assert sorted(o.recipient for o in outbox(settings, sid, "commitment_missed")) == sorted(["区政府督查室", LEAD, OFFICE])
    assert [e.reason for e in rows(settings, Escalation, sid)] == ["承诺事项逾期未兑现"]
    assert [c.status for c in rows(settings, Commitment, sid)] == ["逾期"]
    case = await engine.view(sid)
    assert (case.state, case.escalation_count, case.commitments[0].missed) == ("follow_up", 1, True)

    case = await do(engine, sid, "fulfil_commitment", UNIT, number=1, text="道路改造已完成。")
    assert case.state == "closed"
    await finish(env, sid)
    assert [c.status for c in rows(settings, Commitment, sid)] == ["已兑现"]


async def test_key_supervision_reminds_every_two_weeks_and_copies_the_supervisor(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "mark_key", CONGRESS, key=True, supervisor="王琨")
    await do(engine, sid, "sign", UNIT)
    since = (await engine.view(sid)).key_since
    fortnight = timedelta(days=14)
    await skip_to(env, since + fortnight - SETTLE)
    assert reminders(settings, sid, "key_reminder") == []
    await skip_past(env, since + 2 * fortnight)
    assert [r.due_at for r in reminders(settings, sid, "key_reminder")] == [since + fortnight, since + 2 * fortnight]
    assert sorted(o.recipient for o in outbox(settings, sid, "key_reminder")) == sorted([LEAD, "王琨"] * 2)
    assert (await case_handle(env, sid).describe()).typed_search_attributes.get(search.KEY_SUPERVISION) is True


async def test_backfilled_overdue_case_sends_only_the_latest_notice_of_each_kind_and_records_the_stale_ones(env, engine, settings):
    """An admin enters a paper case assigned 130 days ago: its reminders and first overdue notices
    are long stale. Of each group only the latest is sent; the rest are recorded as skipped,
    with the notice of their own group."""
    now = await env.get_current_time()
    t0 = now - timedelta(days=130)
    office = {"on_behalf_of": "congress_office:代表工委"}
    sid = await engine.submit(suggestion(settings), "管理员", role="admin", effective_at=t0)
    await engine.act(sid, "review", "管理员", "admin", {"decision": "register"}, effective_at=t0 + timedelta(days=1), **office)
    case = await engine.act(sid, "assign", "管理员", "admin", {"lead_unit": LEAD}, effective_at=t0 + timedelta(days=2), **office)
    reply, sign = case.deadlines["reply"], case.deadlines["sign"]
    assert reply.start == t0 + timedelta(days=2) and reply.escalate_at < now
    await skip_past(env, case.agenda_hold_until)

    week = timedelta(days=7)
    fired = {r.kind: r for r in rows(settings, Reminder, sid) if not r.skipped}
    # a case found overdue late still gets its first overdue notice (to the unit and the office) …
    assert set(fired) == {"sign_overdue", "overdue_escalation", "overdue"}
    assert fired["sign_overdue"].due_at == sign.due_at
    assert fired["overdue_escalation"].due_at == reply.escalate_at
    assert fired["overdue"].due_at == reply.due_at
    assert sorted(o.recipient for o in outbox(settings, sid, "overdue")) == sorted([LEAD, OFFICE])
    stale = sorted((r.kind, r.due_at) for r in rows(settings, Reminder, sid) if r.skipped)
    assert stale == sorted(("deadline_reminder", t) for t in reply.reminders)
    assert {o.kind for o in outbox(settings, sid)} == {"assigned", "sign_overdue", "overdue_escalation", "overdue"}
    by_kind = {e.payload["kind"]: e.payload["skipped"] for e in audit(settings, sid) if e.action == "agenda"}
    assert by_kind["sign_overdue"] == [] and by_kind["overdue_escalation"] == []
    assert len(by_kind["overdue"]) == len(stale)
    # … and the weekly repeats count from when it was sent
    noticed = (await engine.view(sid)).overdue_noticed_at
    assert noticed is not None and noticed >= case.agenda_hold_until
    await skip_past(env, noticed + week)
    assert [r.due_at for r in rows(settings, Reminder, sid) if r.kind == "overdue_repeat"] == [noticed + week]
    case = await engine.view(sid)
    assert (case.overdue, case.escalation_count) == (True, 1)
