from __future__ import annotations

from helpers import audit, do, outbox, reply_and_approve, rows, seed_directory, submit_and_assign

from jianyi.models.tables import Assignment, Contact
from jianyi.service import Engine


async def test_happy_path_a_class_satisfied_closed_on_time(env, settings, worker):
    seed_directory(settings)
    engine = Engine(env.client, settings)
    sid = await submit_and_assign(engine, co=["区科技局"])
    await do(engine, sid, "sign", "unit:区地方金融工作局")
    await do(engine, sid, "co_opinion", "unit:区科技局", text="可联合科技金融服务平台开展对接。")
    await reply_and_approve(engine, sid)
    case = await do(engine, sid, "evaluate", "deputy:杨永兵", work="满意", result="满意", comment="")
    assert case.state == "closed"
    assert case.outcome == "满意"
    assert case.on_time is True
    handle = env.client.get_workflow_handle(sid)
    await handle.result()
    events = audit(settings, sid)
    assert [e.action for e in events] == [
        "submit", "review", "assign", "sign", "co_opinion", "record_contact", "reply", "review_reply", "evaluate",
    ]
    lead, co = rows(settings, Assignment, sid)
    assert (lead.unit, lead.role, lead.signed_at is not None) == ("区地方金融工作局", "主办", True)
    assert (co.unit, co.role, co.opinion) == ("区科技局", "协办", "可联合科技金融服务平台开展对接。")
    assert [(c.unit, c.method, c.round) for c in rows(settings, Contact, sid)] == [("区地方金融工作局", "座谈", 1)]
    [told] = outbox(settings, sid, "co_opinion")
    assert told.recipient == "区地方金融工作局" and "可联合科技金融服务平台" in told.body
