"""Deadline maths as an activity step: the calendar comes from the database (overrides, loaded years)."""

from __future__ import annotations

from sqlmodel import Session as DbSession
from sqlmodel import select

from jianyi.models.calendar import DayOverride, WorkCalendar
from jianyi.models.case import DeadlineRequest
from jianyi.models.policy import Deadline, Policy, compute
from jianyi.models.tables import CalendarOverride, CalendarYear


def load_calendar(db: DbSession) -> WorkCalendar:
    overrides = [DayOverride(o.day, o.workday, o.name) for o in db.exec(select(CalendarOverride))]
    years = [y.year for y in db.exec(select(CalendarYear))]
    return WorkCalendar.with_overrides(overrides, years)


def compute_requested(
    requests: list[DeadlineRequest], policy: Policy, calendar: WorkCalendar
) -> dict[str, Deadline]:
    return {
        r.kind: compute(r.rule, r.start, policy, calendar, base_day=r.base_day) for r in requests
    }
