"""Concurrency that SQLite hides, on a real PostgreSQL server (issue 10 §1): two writers on one
suggestion's audit chain, and the outbox claimed by two deliverers at once."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from helpers import audit, case_handle, quiesce, submit_and_assign
from sqlmodel import select

from jianyi.activities.notify import NotifyActivities
from jianyi.activities.records import RecordActivities
from jianyi.models.case import Transition
from jianyi.models.db import session_for
from jianyi.models.tables import Outbox
from jianyi.queries import verify_audit

pytestmark = pytest.mark.both_databases


async def test_two_writers_at_one_seq_of_a_chain_leave_exactly_one_event_and_a_sound_chain(env, engine, settings):
    sid = await submit_and_assign(engine)
    await quiesce(env, case_handle(env, sid))
    case = await engine.view(sid)
    at = audit(settings, sid)[-1].at
    records = RecordActivities(settings)

    def write(text: str) -> str:
        t = Transition(suggestion_id=sid, seq=case.seq + 1, key=text, actor="代表工委", role="congress_office", action="remark",
                       from_state=case.state, to_state=case.state, payload={"text": text}, at=at, effective_at=at, case=case)
        for _ in range(5):  # a write that lost the race is retried, as Temporal retries the local activity
            try:
                return records.record_transition(t).content_hash
            except Exception:  # noqa: BLE001, S112
                continue
        raise AssertionError("never written")

    with ThreadPoolExecutor(max_workers=2) as pool:
        await asyncio.gather(*(asyncio.get_running_loop().run_in_executor(pool, write, text) for text in ("甲", "乙")))
    events = [e for e in audit(settings, sid) if e.seq == case.seq + 1]
    assert len(events) == 1 and events[0].payload["text"] in ("甲", "乙")
    assert verify_audit(settings.db_url)[2] == []


async def test_the_outbox_claimed_by_two_deliverers_sends_each_row_once(settings, mail):
    ids = []
    with session_for(settings.db_url) as db:
        for n in range(20):
            row = Outbox(suggestion_id=f"claim-{settings.task_queue}", recipient=f"单位{n}", address=f"unit{n}@example.gov",
                         kind="remark", cycle=str(n), subject=f"督办意见 {n}", body="请抓紧", created_at=datetime.now(UTC))
            db.add(row)
            db.flush()
            ids.append(row.id)
        db.commit()
    first, second = NotifyActivities(settings), NotifyActivities(settings)
    answers = await asyncio.gather(first.deliver_outbox(ids), second.deliver_outbox(ids), return_exceptions=True)
    # a deliverer that found rows the other still held says so and is retried; it never reports them delivered
    assert all(isinstance(a, int) or getattr(a, "type", "") == "DeliveryBusy" for a in answers), answers
    received = [m for m in mail.received if f"claim-{settings.task_queue}" in m.key]
    assert len(received) == 20 and len({m.key for m in received}) == 20
    with session_for(settings.db_url) as db:
        assert {r.status for r in db.exec(select(Outbox).where(Outbox.id.in_(ids)))} == {"sent"}
