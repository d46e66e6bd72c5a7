"""A case in follow-up for years continues as new before its history grows past a bound (issue 10 §4)."""

from __future__ import annotations

from datetime import timedelta

from helpers import audit, case_handle, contact_day, do, quiesce, skip_to, submit_and_assign
from temporalio.api.enums.v1 import EventType

from jianyi.crosscheck import all_runs, check_case
from jianyi.queries import verify_audit

UNIT = "unit:区地方金融工作局"
BOUND = 300


async def test_a_five_year_follow_up_continues_as_new_within_the_history_bound_and_loses_nothing(env, engine, settings):
    settings.history_bound = BOUND
    sid = await submit_and_assign(engine)
    await do(engine, sid, "mark_key", "congress_office:代表工委", key=True, supervisor="王琨")
    await do(engine, sid, "sign", UNIT)
    start = await env.get_current_time()
    promised = (start + timedelta(days=5 * 365)).date().isoformat()
    await do(engine, sid, "record_contact", UNIT, method="座谈", on=await contact_day(engine, sid))
    await do(engine, sid, "reply", UNIT, reply_class="C", text="列入五年规划。", signed_by="局长 张三",
             commitments=[{"text": "建成区级金融服务中心", "promised_date": promised}])
    await do(engine, sid, "review_reply", "government_office:区政府办公室", decision="approve")
    case = await do(engine, sid, "evaluate", "deputy:杨永兵", work="满意", result="满意")
    assert case.state == "follow_up"
    key_since = case.key_since

    await skip_to(env, start + timedelta(days=5 * 365 - 30))
    handle = case_handle(env, sid)
    await quiesce(env, handle)
    case = await engine.view(sid)
    assert case.state == "follow_up" and case.seq > 100  # years of key-supervision reminders, all recorded

    runs = await all_runs(env.client, sid)
    assert len(runs) >= 3
    for history in runs[1:]:  # every finished run stopped near the bound, continuing as new
        assert len(history.events) <= BOUND + 60
        assert history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    fired = [e for e in audit(settings, sid) if e.action == "agenda" and e.payload["kind"] == "key_reminder"]
    now = await env.get_current_time()
    expected = int((now - key_since) / timedelta(days=14))
    assert len(fired) == expected  # one every two weeks, none lost across the runs, none twice
    assert [e.seq for e in audit(settings, sid)] == list(range(1, case.seq + 1))
    assert verify_audit(settings.db_url)[2] == []
    assert await check_case(env.client, settings.db_url, sid) == []

    case = await do(engine, sid, "fulfil_commitment", UNIT, number=1, text="服务中心已建成")
    assert case.state == "closed"
