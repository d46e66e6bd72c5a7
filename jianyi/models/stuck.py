"""What makes a case stuck; each fact defined once (the workflow flag, `stuck` and the digests use these)."""

from __future__ import annotations

from datetime import datetime

from jianyi.models.states import AWAITING_REPLY, State
from jianyi.models.tables import Suggestion


def is_overdue(state: str, reply_due: datetime | None, now: datetime) -> bool:
    """The lead unit owes a reply and its (re-)handling deadline has passed."""
    return state in AWAITING_REPLY and reply_due is not None and reply_due < now


# What makes a case stuck, read from its projection at ``now`` (used by `stuck` and the daily digest).
def is_overdue_row(s: Suggestion, now: datetime) -> bool:
    return is_overdue(s.state, s.reply_due, now)


def unsigned_past_window(s: Suggestion, now: datetime) -> bool:
    return s.state == State.ASSIGNED and s.sign_due is not None and s.sign_due < now


def not_assigned_in_time(s: Suggestion, now: datetime) -> bool:
    return s.state == State.REGISTERED and s.assign_due is not None and s.assign_due < now


def waiting_for_evaluation(s: Suggestion) -> bool:
    return s.state == State.REPLIED


def with_supervision_office(s: Suggestion) -> bool:
    return s.state == State.ESCALATED
