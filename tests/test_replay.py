"""Replay: workflow code must still reproduce the histories it wrote (DESIGN §4, Determinism).

tests/histories/ keeps histories of full lifecycles written by earlier versions of
SuggestionWorkflow, one JSON file per workflow, named by its workflow id. A change to the
workflow that would break a case in flight fails here; guard it with ``workflow.patched``.
To add a history of the current code, run this module with JIANYI_SAVE_HISTORY=1 and commit
the new file (keep the old ones).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from helpers import (
    CONGRESS,
    audit,
    case_handle,
    contact_day,
    do,
    finish,
    skip_past,
    submit_and_assign,
    suggestion,
)
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from jianyi.models.case import CaseState
from jianyi.models.commands import InputError
from jianyi.service import Engine
from jianyi.temporal import DATA_CONVERTER
from jianyi.workflows.suggestion import StartCase, SuggestionWorkflow

HISTORIES = Path(__file__).parent / "histories"
LEAD = "区地方金融工作局"
UNIT = f"unit:{LEAD}"
DEPUTY = "deputy:杨永兵"
GOV = "government_office:区政府办公室"


def replayer() -> Replayer:
    return Replayer(workflows=[SuggestionWorkflow], data_converter=DATA_CONVERTER)


async def full_lifecycle(env, engine: Engine) -> str:
    """One case through most of what a workflow does: co-handler, key supervision, extension,
    reminders on the clock, a reply sent back, a refused update, re-handling, commitments."""
    data = suggestion(engine.settings, co_signers=["刘正心", "饶满琳"])
    sid = await submit_and_assign(engine, data, co=["区科技局"])
    await do(engine, sid, "mark_key", CONGRESS, key=True, supervisor="王琨")
    await do(engine, sid, "co_opinion", "unit:区科技局", text="将提供科技企业名单。")
    await do(engine, sid, "sign", UNIT)
    await do(engine, sid, "request_extension", UNIT, reason="涉及多部门协调")
    await do(engine, sid, "decide_extension", CONGRESS, decision="approve", comment="同意")
    due = (await engine.view(sid)).deadlines["reply"]
    await skip_past(env, due.reminders[0])  # key-supervision reminders and the first deadline reminder fire
    await do(engine, sid, "remark", "supervisor:王琨", text="请加快进度")
    await do(engine, sid, "record_contact", UNIT, method="座谈", on=await contact_day(engine, sid))
    await do(engine, sid, "reply", UNIT, reply_class="B", text="初稿", signed_by="局长 张三")
    await do(engine, sid, "review_reply", GOV, decision="refuse", comment="请列明承诺事项")
    now = await env.get_current_time()
    promised = (now + timedelta(days=400)).date().isoformat()
    await do(engine, sid, "reply", UNIT, reply_class="B", text="正在推进。", signed_by="局长 张三",
             commitments=[{"text": "设立金融服务站", "promised_date": promised}])
    await do(engine, sid, "review_reply", GOV, decision="approve")
    await do(engine, sid, "evaluate", DEPUTY, work="基本满意", result="不满意", comment="进度太慢")
    try:  # refused in the validator: leaves no command in the history, and replay must agree
        await do(engine, sid, "reply", UNIT, reply_class="A", text="x", signed_by="s")
    except InputError:
        pass
    await do(engine, sid, "record_contact", UNIT, method="上门", on=await contact_day(engine, sid))
    await do(engine, sid, "reply", UNIT, reply_class="A", text="已加快推进。", signed_by="局长 张三")
    await do(engine, sid, "review_reply", GOV, decision="approve")
    case = await do(engine, sid, "evaluate", DEPUTY, work="满意", result="基本满意")
    assert case.state == "follow_up"
    await do(engine, sid, "fulfil_commitment", UNIT, number=1, text="服务站已挂牌。")
    final = await finish(env, sid)
    assert (final.state, final.outcome, final.round) == ("closed", "基本满意", 2)
    return sid


async def test_saved_histories_replay_with_the_current_workflow_code():
    files = sorted(HISTORIES.glob("*.json"))
    assert files, f"no saved histories in {HISTORIES}"
    for path in files:
        history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
        result = await replayer().replay_workflow(history)
        assert result.replay_failure is None, path.name


async def test_a_fresh_full_lifecycle_replays(env, engine, settings):
    sid = await full_lifecycle(env, engine)
    actions = [e.action for e in audit(settings, sid)]
    assert {"agenda", "mark_key", "remark", "decide_extension", "fulfil_commitment"} <= set(actions)
    history = await case_handle(env, sid).fetch_history()
    result = await replayer().replay_workflow(history)
    assert result.replay_failure is None
    # the JSON form is what is kept under tests/histories/
    again = WorkflowHistory.from_json(sid, history.to_json())
    assert again.events == history.events
    await replayer().replay_workflow(again)
    if os.environ.get("JIANYI_SAVE_HISTORY"):
        HISTORIES.mkdir(exist_ok=True)
        (HISTORIES / f"{sid}.json").write_text(history.to_json(), encoding="utf-8")


@workflow.defn(name="SuggestionWorkflow", sandboxed=False)
class ChangedWithoutPatch(SuggestionWorkflow):
    """The workflow as a careless change would leave it: one more timer before every write."""

    @workflow.run
    async def run(self, start: StartCase) -> CaseState:
        return await super().run(start)

    async def _commit(self, *args, **kwargs) -> None:  # type: ignore[override]
        await workflow.sleep(1)
        await super()._commit(*args, **kwargs)


async def test_replay_catches_a_change_that_would_break_cases_in_flight():
    path = sorted(HISTORIES.glob("*.json"))[0]
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    changed = Replayer(workflows=[ChangedWithoutPatch], data_converter=DATA_CONVERTER)
    result = await changed.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None
    assert isinstance(result.replay_failure, workflow.NondeterminismError)
