"""Deadline maths as an activity step: the calendar comes from the database (overrides, loaded years)."""

from __future__ import annotations

from jianyi.models.calendar import WorkCalendar
from jianyi.models.case import DeadlineRequest
from jianyi.models.db import load_calendar
from jianyi.models.policy import ComputedDeadline, Policy, compute


def compute_requested(
    requests: list[DeadlineRequest], policy: Policy, calendar: WorkCalendar
) -> dict[str, ComputedDeadline]:
    return {
        r.kind: compute(r.rule, r.start, policy, calendar, base_day=r.base_day, amount=r.amount) for r in requests
    }


__all__ = ["compute_requested", "load_calendar"]
