"""Quiet rules (nothing delivered outside working hours) and channels that keep failing."""

from __future__ import annotations

from datetime import time, timedelta

from helpers import (
    RecordingEngine,
    audit,
    case_handle,
    do,
    mails,
    outbox,
    seed_directory,
    skip_past,
    skip_to,
    stop_if_open,
    submit_and_assign,
    suggestion,
)

from jianyi.activities.calendar import load_calendar
from jianyi.models.db import session_for
from jianyi.models.policy import CST, delivery_time
from jianyi.queries import describe_event, outbox_rows, timeline
from jianyi.scheduler import JOBS, start_digest, workflow_id


def quiet(settings):  # noqa: ANN001, ANN201
    return settings.model_copy(update={"quiet_hours": True})


def overdue_line(settings, sid: str) -> str:  # noqa: ANN001
    """The timeline's line for the overdue notice, as `jianyi timeline` and the case page show it."""
    _, entries = timeline(settings.db_url, sid)
    return next(describe_event(e) for e in entries if e.detail.get("kind") == "overdue")


async def test_an_overdue_notice_at_midnight_is_held_to_the_next_working_morning(env, settings, mail):
    from concurrent.futures import ThreadPoolExecutor

    from jianyi.worker import build_worker

    settings = quiet(settings)
    seed_directory(settings)
    engine = RecordingEngine(env.client, settings)
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with build_worker(env.client, settings, executor):
            try:
                sid = await submit_and_assign(engine)
                case = await do(engine, sid, "sign", "unit:区地方金融工作局")
                due = case.deadlines["reply"].due_at  # 24:00 of the last day: outside working hours
                await skip_past(env, due)
                notices = outbox(settings, sid, "overdue")
                assert sorted(n.recipient for n in notices) == ["区人大常委会代表工作委员会", "区地方金融工作局"]
                notice = notices[0]
                with session_for(settings.db_url) as db:
                    expected = delivery_time(notice.created_at, load_calendar(db), time(9), time(17, 30))
                assert notice.created_at.astimezone(CST).time() < time(9)
                assert notice.status == "held" and notice.hold_until == expected
                assert expected.astimezone(CST).time() == time(9)
                fired = [e for e in audit(settings, sid) if e.payload.get("kind") == "overdue"]
                assert fired[0].payload["held_until"] == expected.isoformat()
                assert not [m for m in mails(mail, sid) if "|overdue|" in m.key]
                assert overdue_line(settings, sid).endswith(f"（通知：2条按工作时间暂缓至 {expected.astimezone(CST):%Y-%m-%d} 09:00）")

                await skip_to(env, expected - timedelta(minutes=1))
                assert {n.status for n in outbox(settings, sid, "overdue")} == {"held"}
                await skip_past(env, expected)
                for _ in range(20):  # the delivery activity runs right after the timer fires
                    if {n.status for n in outbox(settings, sid, "overdue")} == {"sent"}:
                        break
                    await env.sleep(timedelta(seconds=1))
                assert {n.status for n in outbox(settings, sid, "overdue")} == {"sent"}
                assert len([m for m in mails(mail, sid) if "|overdue|" in m.key]) == 2  # the unit and the office
                assert overdue_line(settings, sid).endswith("（通知：2条已发送）")  # the timeline says what became of them
            finally:
                for s in engine.started:
                    await stop_if_open(env, case_handle(env, s))


async def test_a_channel_that_keeps_failing_raises_an_admin_notice_and_drops_nothing(env, settings, mail):
    from concurrent.futures import ThreadPoolExecutor

    from temporalio.client import WorkflowExecutionStatus

    from jianyi import directory
    from jianyi.worker import build_worker

    broken = settings.model_copy(update={"smtp_port": 1})  # nothing listens there
    seed_directory(broken)
    directory.add_unit(broken.db_url, broken.admin_name, "admin@example.gov", kind="办公室")
    engine = RecordingEngine(env.client, broken)
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with build_worker(env.client, broken, executor):
            try:
                sid = await submit_and_assign(engine, suggestion(broken, number="闭会第33号", lead_deputy="饶满琳"), lead="区城管局")
                period = "2025-03"
                wid = workflow_id(JOBS["monthly"], period, broken.instance)
                assert await start_digest(env.client, broken, "monthly", period)
                digest_handle = env.client.get_workflow_handle(wid)
                for _ in range(10):  # about four hours of retries with backoff, then the admin notice
                    await env.sleep(timedelta(hours=6))
                    if (await digest_handle.describe()).status != WorkflowExecutionStatus.RUNNING:
                        break
                assert await digest_handle.result() == 1

                [digest] = outbox(broken, wid, "monthly_digest")
                assert digest.status == "failed" and digest.attempts >= 12 and digest.last_error
                [notice] = outbox(broken, wid, "admin_notice")
                assert notice.recipient == broken.admin_name
                assert "区城管局" in notice.body and "email" in notice.body
                failed = {r.id for r in outbox_rows(broken.db_url, failed_only=True)}
                assert {digest.id, notice.id} <= failed  # visible in `jianyi outbox --failed`, not dropped

                # the suggestion's own notice failed the same way: its audit says so, the admin is told
                [failure] = [e for e in audit(broken, sid) if e.action == "delivery_failed"]
                assert failure.role == "system" and failure.payload["outbox_ids"]
                assert outbox(broken, sid, "admin_notice")
                assert {r.status for r in outbox(broken, sid, "assigned")} == {"failed"}
            finally:
                await env.sleep(timedelta(hours=12))  # let the admin notices' own retries run out
                for s in engine.started:
                    await stop_if_open(env, case_handle(env, s))
