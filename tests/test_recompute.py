"""When the calendar changes, open deadlines are recomputed and the change is audited (DESIGN §3)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from helpers import audit, do, submit_and_assign

from jianyi import directory
from jianyi.models.commands import InputError
from jianyi.models.policy import china_day


async def test_loading_next_years_holidays_moves_a_provisional_deadline_and_audits_it(env, engine, settings):
    sid = await submit_and_assign(engine)
    case = await do(engine, sid, "sign", "unit:区地方金融工作局")
    before = case.deadlines["reply"]
    last = before.last_day
    # the State Council's schedule arrives (an admin's file beats the package's data): the
    # deadline's last day is a holiday, the day after too
    holidays = [last, last + timedelta(days=1)]
    text = "\n".join(f"{d.isoformat()} 休 春节" for d in holidays) + f"\n{(last + timedelta(days=5)).isoformat()} 班 春节调休\n"
    text += whole_year_rest(last.year, away_from=last)
    assert directory.load_calendar_file(settings.db_url, text, "2027.txt") == sorted({d.year for d in holidays})

    [(recomputed, moved)] = [r for r in await engine.recompute_open("系统管理员", "载入节假日安排") if r[0] == sid]
    after = (await engine.view(sid)).deadlines["reply"]
    assert after.last_day > last + timedelta(days=1)
    if china_day(after.escalate_at).year == last.year:  # the whole span now has loaded data
        assert not after.provisional
    assert {s.day for s in after.skipped} >= set(holidays) and "春节" in after.explanation
    [reply_moved] = [m for m in moved if m.startswith(before.label)]
    assert f"{before.display_due()} → {after.display_due()}" in reply_moved
    event = audit(settings, sid)[-1]
    assert (event.action, event.role, event.from_state, event.to_state) == ("recompute_deadlines", "admin", "handling", "handling")
    assert event.payload["previous"]["reply"] == before.display_due()
    assert event.payload["deadlines"]["reply"]["last_day"] == after.last_day.isoformat()
    assert china_day(after.due_at - timedelta(seconds=1)) == after.last_day


def whole_year_rest(year: int, away_from: date) -> str:
    """The year's other statutory holidays, on Saturdays far from ``away_from`` (a file covers whole years)."""
    names = ["元旦", "清明", "劳动节", "端午", "中秋", "国庆"]
    saturdays = [d for d in (date(year, 1, 1) + timedelta(days=i) for i in range(366)) if d.year == year and d.weekday() == 5]
    far = [d for d in saturdays if abs((d - away_from).days) > 30]
    return "".join(f"{d.isoformat()} 休 {n}\n" for d, n in zip(far, names, strict=False))


def test_a_calendar_file_that_does_not_cover_a_whole_year_is_refused_naming_the_missing_holidays(settings):
    with pytest.raises(InputError) as refused:
        directory.load_calendar_file(settings.db_url, "2027-01-01 休 元旦\n2027-02-06 休 春节\n", "2027.txt")
    assert "清明、劳动节、端午、中秋、国庆" in refused.value.message


async def test_only_an_admin_may_recompute_deadlines(env, engine, settings):
    sid = await submit_and_assign(engine)
    with pytest.raises(InputError) as refused:
        await do(engine, sid, "recompute_deadlines", "unit:区地方金融工作局", reason="想延后")
    assert "系统管理员" in refused.value.message
