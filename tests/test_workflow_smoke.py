from __future__ import annotations

from helpers import FIRST, audit, do, reply_and_approve, seed_directory, submit_and_assign

from jianyi.service import Engine


async def test_happy_path_a_class_satisfied_closed_on_time(env, settings, worker):
    seed_directory(settings)
    engine = Engine(env.client, settings)
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", "unit:区地方金融工作局")
    await reply_and_approve(engine, sid)
    case = await do(engine, sid, "evaluate", "deputy:杨永兵", work="满意", result="满意", comment="")
    assert case.state == "closed"
    assert case.outcome == "满意"
    assert case.on_time is True
    handle = env.client.get_workflow_handle(sid)
    await handle.result()
    events = audit(settings, sid)
    assert [e.action for e in events] == ["submit", "review", "assign", "sign", "record_contact", "reply", "review_reply", "evaluate"]
    assert FIRST["title"]
