"""The calendar jobs: 月度督办 on the first working day, the commitments ledger, the daily digest,
and the guarantees that two schedulers, a catch-up or a re-fire never send twice."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from helpers import (
    RecordingEngine,
    do,
    in_future,
    outbox,
    reply_and_approve,
    rows,
    seed_directory,
    stop_if_open,
    submit_and_assign,
    suggestion,
)

from jianyi.models.calendar import WorkCalendar
from jianyi.models.tables import CommitmentProgress
from jianyi.scheduler import (
    JOBS,
    WorkdayCronTrigger,
    build_scheduler,
    current_period,
    ensure_jobs,
    parse_period,
    set_calendar,
    start_digest,
    start_scheduler,
    trigger_for,
    validate_schedule,
    workflow_id,
)
from jianyi.settings import SettingError, Settings

CST = ZoneInfo("Asia/Shanghai")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=CST)


# -- when the jobs fire (pure: the trigger and the calendar) -------------------------------------
@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(2025, 1, 20), date(2025, 2, 5)),  # after the Spring Festival break (1/28–2/4)
        (at(2025, 9, 20), date(2025, 10, 9)),  # after National Day and Mid-Autumn (10/1–10/8)
        (at(2025, 3, 1, 12), date(2025, 3, 3)),  # 1 March 2025 is a Saturday
        (at(2025, 4, 1, 8), date(2025, 4, 1)),  # the 1st itself, before the fire time
    ],
)
def test_monthly_supervision_fires_on_the_first_working_day_of_the_month(now, expected):
    set_calendar(WorkCalendar())
    fire = trigger_for(JOBS["monthly"], Settings()).get_next_fire_time(None, now)
    assert fire.astimezone(CST).date() == expected
    assert fire.astimezone(CST).date() == WorkCalendar().first_workday_of_month(expected.year, expected.month)
    assert (fire.astimezone(CST).hour, fire.astimezone(CST).minute) == (9, 0)


def test_the_first_working_day_comes_from_admin_overrides_too():
    from jianyi.models.calendar import DayOverride

    set_calendar(WorkCalendar.with_overrides([DayOverride(date(2025, 3, 3), False, "临时调整")]))
    try:
        fire = trigger_for(JOBS["monthly"], Settings()).get_next_fire_time(None, at(2025, 3, 1))
        assert fire.astimezone(CST).date() == date(2025, 3, 4)
    finally:
        set_calendar(WorkCalendar())


def test_daily_digest_skips_rest_days_and_counts_a_make_up_workday():
    set_calendar(WorkCalendar())
    trigger = trigger_for(JOBS["daily"], Settings())
    assert trigger.get_next_fire_time(None, at(2025, 1, 27, 12)).date() == date(2025, 2, 5)
    assert trigger.get_next_fire_time(None, at(2025, 1, 25, 12)).date() == date(2025, 1, 26)  # 调休 Sunday


def test_ledger_runs_every_two_months_and_a_late_catch_up_keeps_its_own_period():
    set_calendar(WorkCalendar())
    spec = JOBS["ledger"]
    trigger = trigger_for(spec, Settings())
    assert trigger.get_next_fire_time(None, at(2025, 1, 20)).date() == date(2025, 3, 3)
    # the January fire was missed; catching up on 4 February still belongs to the 2025-01 period
    assert current_period(spec, trigger, at(2025, 2, 4, 10)) == "2025-01"
    assert current_period(spec, trigger, at(2025, 3, 3, 9, 30)) == "2025-03"
    assert parse_period(spec, "2025-04") == "2025-03"
    assert current_period(JOBS["monthly"], trigger_for(JOBS["monthly"], Settings()), at(2025, 10, 8, 23)) == "2025-09"


def test_the_trigger_survives_the_job_store():
    import pickle

    trigger = WorkdayCronTrigger("0 9 * * *", "Asia/Shanghai", "workday")
    again = pickle.loads(pickle.dumps(trigger))
    assert str(again) == str(trigger)
    assert again.get_next_fire_time(None, at(2025, 10, 1)) == trigger.get_next_fire_time(None, at(2025, 10, 1))


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("schedule_monthly", "0 25 * * *", "schedule_monthly"),
        ("schedule_daily", "every day", "schedule_daily"),
        ("timezone", "Asia/Beijing", "timezone"),
        ("work_start", "9点", "work_start"),
    ],
)
def test_a_bad_schedule_setting_stops_start_up_naming_the_setting(field, value, named):
    with pytest.raises(SettingError) as err:
        validate_schedule(Settings(**{field: value}))
    assert err.value.setting == named
    assert f"环境变量 JIANYI_{named.upper()}" in err.value.message and "无效" in err.value.message


# -- what the jobs send (time-skipping server, real records, real SMTP) ---------------------------
async def _intersession_cases(engine):
    """Two units with open inter-session items, one unit whose only item is closed, one session item."""
    s = engine.settings
    open_a = await submit_and_assign(engine, suggestion(s, number="闭会第33号", title="关于建设华中商业新地标的建议", lead_deputy="饶满琳"), lead="区城管局")
    open_b = await submit_and_assign(engine, suggestion(s, number="闭会第3号", title="关于解决锦绣家园9号楼下水网管堵塞问题的建议", lead_deputy="胡家胜"), lead="区水务局")
    closed = await submit_and_assign(engine, suggestion(s, number="闭会第5号", title="一件已撤回的建议", lead_deputy="王琨"), lead="区科技局")
    await do(engine, closed, "withdraw", "deputy:王琨", reason="问题已自行解决")
    session_item = await submit_and_assign(engine, suggestion(s), lead="区地方金融工作局")
    return open_a, open_b, closed, session_item


async def test_monthly_digest_reaches_each_unit_with_open_intersession_items_once(env, settings, worker, mail):
    seed_directory(settings)
    engine = RecordingEngine(env.client, settings)
    try:
        open_a, open_b, *_ = await _intersession_cases(engine)
        period = "2025-03"
        assert await start_digest(env.client, settings, "monthly", period) is True
        assert await env.client.get_workflow_handle(workflow_id(JOBS["monthly"], period, settings.instance)).result() == 2
        digest = outbox(settings, workflow_id(JOBS["monthly"], period, settings.instance))
        assert sorted(r.recipient for r in digest) == ["区城管局", "区水务局"]  # 区科技局 and 区地方金融工作局 skipped
        body = next(r.body for r in digest if r.recipient == "区城管局")
        assert "闭会第33号" in body and "关于建设华中商业新地标的建议" in body and "交办已" in body and "签收" in body
        received = [m for m in mail.received if m.key.startswith(workflow_id(JOBS["monthly"], period, settings.instance))]
        assert sorted(m.to[0] for m in received) == ["chengguan@example.gov", "shuiwu@example.gov"]

        assert await start_digest(env.client, settings, "monthly", period) is False  # a re-fire sends nothing
        assert len(outbox(settings, workflow_id(JOBS["monthly"], period, settings.instance))) == 2
    finally:
        for sid in engine.started:
            await stop_if_open(env, env.client.get_workflow_handle(sid))


async def _wait_for_runs(schedulers, count: int) -> list[object]:
    """Wait (on APScheduler's own events, not on time) until ``count`` job runs have finished."""
    done: list[object] = []
    finished = asyncio.Event()

    def listener(event) -> None:  # noqa: ANN001
        done.append(event)
        if len(done) >= count:
            finished.set()

    for scheduler in schedulers:
        scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    await asyncio.wait_for(finished.wait(), timeout=60)
    return done


async def test_two_schedulers_on_one_job_store_send_one_digest_per_unit(env, settings, worker, mail):
    seed_directory(settings)
    engine = RecordingEngine(env.client, settings)
    first = second = None
    try:
        await _intersession_cases(engine)
        first = await start_scheduler(env.client, settings, WorkCalendar())
        second = build_scheduler(settings)
        second.start(paused=True)
        ensure_jobs(second, settings)
        assert len(second.get_jobs()) == 3  # added only when missing: the second scheduler added nothing
        now = datetime.now(CST)
        # Both schedulers find the job due; whichever runs first starts the period's digest ...
        runs = _wait_for_runs([first, second], 1)
        first.modify_job("monthly", next_run_time=now)
        second.resume()
        [event] = await runs
        assert "started" in str(event.retval)
        # ... and when the other one fires the same job too, the period's workflow id refuses it.
        runs = _wait_for_runs([second], 1)
        second.modify_job("monthly", next_run_time=datetime.now(CST))
        [event] = await runs
        assert "already sent" in str(event.retval)
        period = current_period(JOBS["monthly"], trigger_for(JOBS["monthly"], settings), now)
        wid = workflow_id(JOBS["monthly"], period, settings.instance)
        await env.client.get_workflow_handle(wid).result()
        assert sorted(r.recipient for r in outbox(settings, wid)) == ["区城管局", "区水务局"]
        assert len([m for m in mail.received if m.key.startswith(wid)]) == 2
    finally:
        for s in (first, second):
            if s is not None and s.running:
                s.shutdown(wait=False)
        for sid in engine.started:
            await stop_if_open(env, env.client.get_workflow_handle(sid))


async def test_downtime_across_a_fire_gives_exactly_one_catch_up(env, settings, worker, mail):
    seed_directory(settings)
    engine = RecordingEngine(env.client, settings)
    scheduler = None
    try:
        await _intersession_cases(engine)
        # the scheduler was down: the job store still says the monthly job was due two days ago
        down = build_scheduler(settings)
        down.start(paused=True)
        ensure_jobs(down, settings)
        two_days_ago = datetime.now(CST) - timedelta(days=2)
        down.modify_job("monthly", next_run_time=two_days_ago)
        down.shutdown(wait=False)

        scheduler = build_scheduler(settings)
        runs = _wait_for_runs([scheduler], 1)
        set_calendar(WorkCalendar())
        from jianyi import scheduler as module

        module._runtime.update(client=env.client, settings=settings)
        scheduler.start()
        events = await runs
        assert len(events) == 1 and "started" in str(events[0].retval)
        assert scheduler.get_job("monthly").next_run_time > datetime.now(CST)  # coalesced: no second run
        wid = str(events[0].retval).split()[0]
        await env.client.get_workflow_handle(wid).result()
        assert len(outbox(settings, wid)) == 2
    finally:
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)
        for sid in engine.started:
            await stop_if_open(env, env.client.get_workflow_handle(sid))


async def test_commitments_ledger_asks_for_progress_and_keeps_the_answers(env, settings, worker, mail):
    seed_directory(settings)
    engine = RecordingEngine(env.client, settings)
    try:
        sid = await submit_and_assign(engine, lead="区科技局")
        await do(engine, sid, "sign", "unit:区科技局")
        now = await env.get_current_time()
        promise = {"text": "对接落地院士专家牵头的成果转化项目", "promised_date": in_future(now, 200)}
        await reply_and_approve(engine, sid, unit="区科技局", reply_class="B", commitments=[promise])
        case = await do(engine, sid, "evaluate", "deputy:杨永兵", work="满意", result="基本满意")
        assert case.state == "follow_up"

        assert await start_digest(env.client, settings, "ledger", "2025-03")
        await env.client.get_workflow_handle(f"{settings.instance}-ledger-2025-03").result()
        [ask] = outbox(settings, f"{settings.instance}-ledger-2025-03")
        assert ask.recipient == "区科技局" and "对接落地院士专家牵头的成果转化项目" in ask.body and "尚未报告" in ask.body

        refused = None
        try:
            await do(engine, sid, "report_progress", "unit:区水务局", number=1, text="进展")
        except Exception as exc:  # noqa: BLE001
            refused = exc
        assert refused is not None and "主办单位" in str(refused)
        await do(engine, sid, "report_progress", "unit:区科技局", number=1, period="2025-03", text="已签约3个成果转化项目")
        [entry] = rows(settings, CommitmentProgress, sid)
        assert (entry.number, entry.period, entry.text, entry.reported_by) == (1, "2025-03", "已签约3个成果转化项目", "区科技局")

        assert await start_digest(env.client, settings, "ledger", "2025-05")
        await env.client.get_workflow_handle(f"{settings.instance}-ledger-2025-05").result()
        [again] = outbox(settings, f"{settings.instance}-ledger-2025-05")
        assert "已签约3个成果转化项目" in again.body
        await do(engine, sid, "fulfil_commitment", "unit:区科技局", number=1, text="项目已落地")
        assert await start_digest(env.client, settings, "ledger", "2025-07")
        assert await env.client.get_workflow_handle(f"{settings.instance}-ledger-2025-07").result() == 0  # nothing open: nothing sent
    finally:
        for s in engine.started:
            await stop_if_open(env, env.client.get_workflow_handle(s))


async def test_daily_digest_tells_both_offices_and_each_unit_exactly_what_stuck_shows(env, settings, worker, mail):
    seed_directory(settings)
    engine = RecordingEngine(env.client, settings)
    try:
        waiting = await submit_and_assign(engine)
        await do(engine, waiting, "sign", "unit:区地方金融工作局")
        await reply_and_approve(engine, waiting)
        day = (await env.get_current_time()).astimezone(CST).date().isoformat()
        assert await start_digest(env.client, settings, "daily", day)
        await env.client.get_workflow_handle(f"{settings.instance}-digest-daily-{day}").result()
        sent = outbox(settings, f"{settings.instance}-digest-daily-{day}")
        assert sorted(r.recipient for r in sent) == sorted([settings.congress_office, settings.supervision_office, "区地方金融工作局"])
        assert all("等待代表评价" in r.body and "第40号" in r.body for r in sent)
        from jianyi.queries import stuck_cases

        shown = stuck_cases(settings.db_url, await env.get_current_time(), "区地方金融工作局")
        [to_unit] = [r for r in sent if r.recipient == "区地方金融工作局"]
        assert all(reason in to_unit.body for c in shown.cases for reason in c.reasons)
        assert "你单位主办的下列1件建议" in to_unit.body and "督促有关承办单位" not in to_unit.body
        assert all("需要关注的建议共1件" in r.body for r in sent if r.recipient != "区地方金融工作局")
    finally:
        for s in engine.started:
            await stop_if_open(env, env.client.get_workflow_handle(s))


async def test_a_calendar_loaded_while_the_scheduler_runs_moves_a_fire_off_a_new_holiday(env, settings):
    """E.g. 2027-01-01 under the Monday–Friday guess: once the year's schedule says it is a holiday, the
    running scheduler no longer fires on it but on the first working day (no restart needed)."""
    from jianyi.models.calendar import DayOverride
    from jianyi.scheduler import refresh_calendar

    scheduler = await start_scheduler(env.client, settings, WorkCalendar())
    try:
        assert scheduler.get_job("calendar") is not None  # the hourly upkeep that calls refresh_calendar
        guessed = scheduler.get_job("monthly").next_run_time.astimezone(CST).date()
        loaded = WorkCalendar.with_overrides([DayOverride(guessed, False, "元旦")])
        assert await refresh_calendar(scheduler, settings, loaded) is True
        moved = scheduler.get_job("monthly").next_run_time.astimezone(CST).date()
        assert moved > guessed and moved.month == guessed.month  # that month's first working day now
        assert await refresh_calendar(scheduler, settings, loaded) is False  # unchanged: nothing rescheduled
    finally:
        scheduler.shutdown(wait=False)
        set_calendar(WorkCalendar())
