"""The agenda of a case: which reminder, notice, escalation or expiry is due when (DESIGN §3).

Pure: a function of the case, its policy and the time, tested without a server. The workflow
sleeps until :func:`next_time`, then fires what :func:`due_now` returns and records each item
with the effects :func:`fire` gives it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from jianyi.models.actions import (
    deputy,
    escalation_recipients,
    message,
    office,
    open_escalation,
    unit,
)
from jianyi.models.case import CaseState, Effects, EvaluationRecord, MessageRequest, Recipient
from jianyi.models.policy import at_hour, china_day, days_late, end_of_day
from jianyi.models.states import AWAITING_REPLY, HANDLING_STATES, State
from jianyi.models.stuck import is_overdue

# How a timeline names what the agenda fired.
AGENDA_LABELS = {
    "deadline_reminder": "办理期限临近提醒",
    "overdue": "逾期通知",
    "overdue_repeat": "逾期催办",
    "overdue_escalation": "逾期移交督查室",
    "sign_overdue": "超过签收期限提醒",
    "co_opinion_overdue": "协办意见逾期提醒",
    "assign_overdue": "闭会期间建议待交办提醒",
    "evaluation_reminder": "评价提醒",
    "commitment_due": "承诺事项到期提醒",
    "commitment_missed": "承诺事项逾期移交督查室",
    "key_reminder": "重点督办提醒",
    "rectify_overdue": "限期整改到期未完成",
    "expire_evaluation": "评价期满未表态",
}

# A first overdue notice fired later than this after its time was found late (downtime, 补录):
# the weekly repeats then count from when it was sent, not from the deadline.
LATE = timedelta(hours=1)


@dataclass(frozen=True)
class AgendaItem:
    key: str  # unique within the case: fired once
    at: datetime
    kind: str  # the message kind (jianyi/templates/messages.toml), or expire_evaluation
    group: str  # of several due items of one group only one fires; the rest are stale
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


def agenda(case: CaseState, now: datetime) -> list[AgendaItem]:
    """Everything still to fire for the case, in no particular order."""
    items = [
        *_assignment_items(case),
        *_handling_items(case),
        *_evaluation_items(case),
        *_commitment_items(case),
        *_key_items(case, now),
        *_rectify_items(case),
    ]
    return [i for i in items if i.key not in case.fired]


def _assignment_items(case: CaseState) -> list[AgendaItem]:
    st, dl, items = case.state, case.deadlines, []
    if st == State.REGISTERED and "assign" in dl:
        items.append(AgendaItem("assign_overdue", dl["assign"].due_at, "assign_overdue", "assign"))
    if st in (State.ASSIGNED, State.ADJUSTMENT_REQUESTED) and "sign" in dl and not case.signed:
        items.append(AgendaItem(f"sign_overdue@{dl['sign'].last_day}", dl["sign"].due_at, "sign_overdue", "sign"))
    if st in (State.ASSIGNED, State.HANDLING, State.REHANDLING) and "co_opinion" in dl:
        due = dl["co_opinion"]
        for name in case.co_handlers:
            if name not in case.co_opinions:
                items.append(AgendaItem(f"co_opinion:{name}@{due.last_day}", due.due_at, "co_opinion_overdue", f"co:{name}", {"unit": name}))
    return items


def handling_tag(case: CaseState) -> str:
    due = case.handling_deadline
    return f"{due.rule}{case.round}@{due.last_day}" if due else ""


def _handling_items(case: CaseState) -> list[AgendaItem]:
    due = case.handling_deadline
    if case.state not in AWAITING_REPLY or due is None:
        return []
    tag, step = handling_tag(case), timedelta(days=case.policy.overdue_repeat_days)
    items = [
        AgendaItem(f"remind:{tag}:{(due.last_day - china_day(at)).days}", at, "deadline_reminder", "handling",
                   {"days_left": (due.last_day - china_day(at)).days})
        for at in due.reminders
    ]
    items.append(AgendaItem(f"overdue:{tag}", due.due_at, "overdue", "handling"))
    if case.overdue_tag == tag and case.overdue_noticed_at is not None:
        week = len([k for k in case.fired if k.startswith(f"overdue:{tag}:w")]) + 1
        at = case.overdue_noticed_at + step * week
        items.append(AgendaItem(f"overdue:{tag}:w{week}", at, "overdue_repeat", "handling", {"week": week}))
    if due.escalate_at:
        items.append(AgendaItem(f"escalate:{tag}", due.escalate_at, "overdue_escalation", "escalation"))
    return items


def _evaluation_items(case: CaseState) -> list[AgendaItem]:
    ev = case.deadlines.get("evaluation")
    if case.state != State.REPLIED or ev is None:
        return []
    # one group: a window found ended late closes without a stale reminder first
    items = [AgendaItem(f"eval_remind:{case.round}@{ev.last_day}", at, "evaluation_reminder", "evaluation") for at in ev.reminders]
    items.append(AgendaItem(f"eval_expire:{case.round}@{ev.last_day}", ev.due_at, "expire_evaluation", "evaluation"))
    return items


def _commitment_items(case: CaseState) -> list[AgendaItem]:
    if case.state != State.FOLLOW_UP:
        return []
    hour, items = case.policy.reminder_hour, []
    for cm in case.commitments:
        if not cm.fulfilled:
            extra = {"number": cm.number}
            items.append(AgendaItem(f"commitment_due:{cm.number}", at_hour(cm.promised_date, hour), "commitment_due", f"c{cm.number}", extra))
            items.append(AgendaItem(f"commitment_missed:{cm.number}", end_of_day(cm.promised_date), "commitment_missed", f"cm{cm.number}", extra))
    return items


def _key_items(case: CaseState, now: datetime) -> list[AgendaItem]:
    if not (case.key_supervision and case.key_since) or case.state not in (*HANDLING_STATES, State.ESCALATED, State.FOLLOW_UP):
        return []
    step, k = timedelta(days=case.policy.key_supervision_repeat_days), 1
    while case.key_since + step * k <= now:
        k += 1
    return [AgendaItem(f"key:{n}", case.key_since + step * n, "key_reminder", "key") for n in range(1, k + 1)]


def _rectify_items(case: CaseState) -> list[AgendaItem]:
    due = case.deadlines.get("rectify")
    if due is None or case.open_escalation is None or case.state in (State.CLOSED, State.WITHDRAWN):
        return []
    return [AgendaItem(f"rectify_overdue@{due.last_day}", due.due_at, "rectify_overdue", "rectify")]


def next_time(case: CaseState, now: datetime) -> datetime | None:
    """When the workflow should wake up next (after an admin's 补录, not before its hold ends)."""
    nxt = min((i.at for i in agenda(case, now)), default=None)
    hold = case.agenda_hold_until
    if nxt is not None and hold is not None and nxt < hold:
        return hold
    return nxt


def due_now(case: CaseState, now: datetime) -> list[tuple[AgendaItem, list[AgendaItem]]]:
    """What fires now, each with the stale items of its group that are skipped with it.

    Of several due items of one group the latest fires, except that a first overdue notice
    found late still goes out (the unit and the congress office must hear it once).
    """
    if case.agenda_hold_until and now < case.agenda_hold_until:
        return []
    groups: dict[str, list[AgendaItem]] = {}
    for item in sorted((i for i in agenda(case, now) if i.at <= now), key=lambda i: i.at):
        groups.setdefault(item.group, []).append(item)
    out = []
    for items in groups.values():
        first_notice = next((i for i in items if i.kind == "overdue"), None)
        chosen = first_notice or items[-1]
        out.append((chosen, [i for i in items if i is not chosen]))
    return sorted(out, key=lambda pair: pair[0].at)


def fire(case: CaseState, item: AgendaItem, now: datetime) -> Effects:
    """The consequences of an agenda item (not expire_evaluation, which is a transition)."""
    effects = Effects()
    ctx = {k: v for k, v in item.extra.items() if k != "number"}  # a commitment's number is not the suggestion's
    lead, congress = unit(case.lead_unit), office(case.offices.congress)
    kind = item.kind
    to: list[Recipient]
    if kind in ("overdue", "overdue_repeat", "overdue_escalation"):
        return _overdue(case, item, now)
    if kind == "deadline_reminder":
        to = [lead]
    elif kind == "sign_overdue":
        to = [lead, congress]
    elif kind == "co_opinion_overdue":
        to = [unit(item.extra["unit"])]
    elif kind == "assign_overdue":
        to = [congress]
    elif kind == "evaluation_reminder":
        to = [deputy(case.submission.lead_deputy)]
    elif kind == "commitment_due":
        to, ctx = [lead], ctx | _commitment_context(case, item)
    elif kind == "commitment_missed":
        return _commitment_missed(case, item, now)
    elif kind == "rectify_overdue":
        to = [office(case.offices.supervision), lead, congress]
    else:  # key_reminder
        to = [lead]
    effects.messages.append(message(case, kind, item.key, to, **ctx))
    return effects


def _overdue(case: CaseState, item: AgendaItem, now: datetime) -> Effects:
    due = case.handling_deadline
    case.overdue = due is not None and is_overdue(case.state, due.due_at, now)
    effects = Effects()
    lead, congress = unit(case.lead_unit), office(case.offices.congress)
    if item.kind == "overdue":
        case.overdue_tag, case.overdue_noticed_at = handling_tag(case), item.at if now - item.at < LATE else now
        effects.messages.append(message(case, "overdue", item.key, [lead, congress]))
    elif item.kind == "overdue_repeat":
        days = days_late(due.due_at, now) if due else 0  # as the stuck view and the digests count it
        effects.messages.append(message(case, "overdue_repeat", item.key, [lead], days_over=days, **item.extra))
    else:
        effects.messages += _escalation_messages(case, "逾期未答复", item.key, now)
    return effects


def _commitment_context(case: CaseState, item: AgendaItem) -> dict[str, Any]:
    cm = next(x for x in case.commitments if x.number == item.extra["number"])
    return {"text": cm.text, "promised_date": cm.promised_date.isoformat()}


def _commitment_missed(case: CaseState, item: AgendaItem, now: datetime) -> Effects:
    cm = next(x for x in case.commitments if x.number == item.extra["number"])
    cm.missed = True
    effects = Effects()
    context = _commitment_context(case, item)
    effects.messages += _escalation_messages(case, "承诺事项逾期未兑现", item.key, now, kind="commitment_missed", **context)
    return effects


def _escalation_messages(
    case: CaseState, reason: str, cycle: str, now: datetime, kind: str = "overdue_escalation", **context: Any
) -> list[MessageRequest]:
    """Open an escalation without moving the case; 督查室, the unit and the congress office hear it."""
    open_escalation(case, reason, now)
    return [message(case, kind, cycle, escalation_recipients(case), reason=reason, **context)]


def expire_evaluation(case: CaseState, item: AgendaItem, now: datetime) -> Effects:
    """The evaluation window ended without a view: 未表态 (never counted as satisfied)."""
    case.last_result = "未表态"
    case.evaluations.append(
        EvaluationRecord(round=case.round, deputy=case.submission.lead_deputy, work="未表态", result="未表态", evaluated_at=now)
    )
    effects = Effects()
    effects.messages.append(message(case, "closed", item.key, [unit(case.lead_unit)], outcome="代表在评价期限内未表态（按未表态统计）"))
    return effects


