"""Is a notice still worth sending? Checked just before delivery (also after a quiet-hours hold):
a request to act that the case has moved past is skipped and recorded as skipped, never sent."""

from __future__ import annotations

from datetime import datetime, timedelta

from jianyi.models.policy import china_day
from jianyi.models.states import AWAITING_REPLY, OPEN_VALUES, State

# A step recorded (补录) longer than this after it happened is old news: whoever it concerned was told
# on paper back then. Its notices are kept in the outbox as not sent; the reminders from now on run as usual.
OLD_NEWS_AFTER = timedelta(days=1)

# What each outbox status means, said one way for the CLI and the pages.
STATUS_LABELS: dict[str, str] = {
    "pending": "待发送", "held": "暂缓", "sending": "发送中", "sent": "已发送",
    "failed": "发送失败", "no_address": "无地址", "skipped": "不发送",
}
FAILED = ("failed", "no_address")  # what an admin must look at
DIGEST_KINDS = ("monthly_digest", "ledger_request", "daily_digest", "daily_digest_unit")  # one letter listing many cases


def status_text(status: str, hold_until_text: str = "") -> str:
    """An outbox row's status in Chinese (a held row with the moment it waits for)."""
    text = STATUS_LABELS.get(status, status)
    return f"{text}至{hold_until_text}" if status == "held" and hold_until_text else text


# Notices that ask someone to act, with the states in which that act is still possible.
STILL_RELEVANT: dict[str, tuple[str, ...]] = {
    "assigned": tuple(str(s) for s in (*AWAITING_REPLY, State.REPLY_REVIEW)),
    "sign_overdue": (State.ASSIGNED, State.ADJUSTMENT_REQUESTED),
    "deadline_reminder": tuple(AWAITING_REPLY),
    "overdue": tuple(AWAITING_REPLY),
    "overdue_repeat": tuple(AWAITING_REPLY),
    "co_opinion_overdue": tuple(AWAITING_REPLY),
    "assign_overdue": (State.REGISTERED,),
    "reply_review_needed": (State.REPLY_REVIEW,),
    "evaluation_request": (State.REPLIED,),
    "evaluation_reminder": (State.REPLIED,),
    "rehandle_order": (State.REHANDLING, State.REPLY_REVIEW),
    "adjustment_requested": (State.ADJUSTMENT_REQUESTED,),
    "extension_requested": (State.HANDLING, State.REPLY_REVIEW),
    "commitment_due": (State.FOLLOW_UP,),
    "key_reminder": tuple(OPEN_VALUES),
}


def stale_reason(kind: str, state: str) -> str:
    """Why a notice of ``kind`` no longer matters for a case in ``state`` ("" when it still does)."""
    wanted = STILL_RELEVANT.get(kind)
    if wanted is None or state in wanted:
        return ""
    return "已过时：建议已不在需要此通知的阶段"


def old_news(happened_at: datetime, recorded_at: datetime) -> str:
    """Why the notices of a step are not sent at all ("" when they are): it was recorded long after it happened."""
    if recorded_at - happened_at <= OLD_NEWS_AFTER:
        return ""
    return f"补录的步骤发生于{china_day(happened_at):%Y-%m-%d}，当时已在线下办理，不再补发通知"
