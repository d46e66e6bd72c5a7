"""The deadline and supervision policy (DESIGN §3): "by when?".

Periods are counted as the Civil Code counts them (民法典 第二百零一条至第二百零三条): the start
day is not counted; months end on the corresponding day (or the month's last day); a last day
that is not a working day moves to the next working day; a deadline ends at 24:00 of its last day.
Every deadline carries its explanation. Pure: the calendar and the start time are handed in.
"""

from __future__ import annotations

import calendar as _cal
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from jianyi.models.calendar import WorkCalendar

CST = ZoneInfo("Asia/Shanghai")


class Unit(StrEnum):
    MONTHS = "calendar_months"
    WORKDAYS = "working_days"


class Policy(BaseModel):
    """Every value is configuration; the defaults are DESIGN §3."""

    reply_months: int = 3
    extension_months: int = 3
    max_extensions: int = 1
    sign_workdays: int = 5
    co_opinion_months: int = 1
    intersession_assign_workdays: int = 5
    rehandle_months: int = 1
    max_rounds: int = 2
    evaluation_workdays: int = 20
    evaluation_reminder_workday: int = 10
    contact_required: bool = True
    reply_review_required: bool = True
    reminder_days_before: tuple[int, ...] = (15, 5, 1, 0)
    overdue_repeat_days: int = 7
    overdue_escalation_workdays: int = 10
    key_supervision_repeat_days: int = 14
    reminder_hour: int = 9
    review_workdays: int = 5
    rectify_workdays: int = 15


class Reminders(StrEnum):
    NONE = "none"
    BEFORE_DUE = "before_due"  # the policy's days before the last day (15, 5, 1, 0)
    MIDWAY = "midway"  # one reminder after the policy's working days (the evaluation window)


class Rule(BaseModel):
    name: str
    label: str  # Chinese, for people
    unit: Unit
    amount: int
    from_what: str  # 交办 / 提出 / 评价 / 答复 / 原截止日
    handling: bool = False  # a reply deadline: its lapse makes the case overdue and escalates
    reminders: Reminders = Reminders.NONE


def rules(policy: Policy) -> dict[str, Rule]:
    """The deadline rules by name, with the policy's numbers."""
    p = policy
    return {
        r.name: r
        for r in (
            Rule(name="reply", label="答复期限", unit=Unit.MONTHS, amount=p.reply_months, from_what="交办", handling=True, reminders=Reminders.BEFORE_DUE),
            Rule(name="extension", label="延期后的答复期限", unit=Unit.MONTHS, amount=p.extension_months, from_what="原截止日", handling=True, reminders=Reminders.BEFORE_DUE),
            Rule(name="sign", label="签收（申请调整）期限", unit=Unit.WORKDAYS, amount=p.sign_workdays, from_what="交办"),
            Rule(name="co_opinion", label="协办意见期限", unit=Unit.MONTHS, amount=p.co_opinion_months, from_what="交办"),
            Rule(name="assign", label="闭会期间建议交办期限", unit=Unit.WORKDAYS, amount=p.intersession_assign_workdays, from_what="提出"),
            Rule(name="rehandle", label="重新办理期限", unit=Unit.MONTHS, amount=p.rehandle_months, from_what="评价", handling=True, reminders=Reminders.BEFORE_DUE),
            Rule(name="evaluation", label="代表评价期限", unit=Unit.WORKDAYS, amount=p.evaluation_workdays, from_what="答复", reminders=Reminders.MIDWAY),
            Rule(name="review", label="阅看期限", unit=Unit.WORKDAYS, amount=p.review_workdays, from_what="提出"),
            Rule(name="rectify", label="限期整改期限", unit=Unit.WORKDAYS, amount=p.rectify_workdays, from_what="督查室责令整改"),
        )
    }


RULE_UNITS = {name: r.unit for name, r in rules(Policy()).items()}  # a rule's unit is not configurable
RULE_LABELS = {name: r.label for name, r in rules(Policy()).items()}


def handling_label(state: str) -> str:
    """What the handling deadline a case row keeps (its reply_due) is called in this state."""
    return RULE_LABELS["rehandle" if state == "rehandling" else "reply"]


class Skipped(BaseModel):
    day: date
    reason: str


class ComputedDeadline(BaseModel):
    """A computed deadline and why it is what it is."""

    rule: str
    label: str
    unit: Unit
    amount: int
    start: datetime  # the event that started the clock (UTC)
    start_day: date  # its date in China, not counted
    nominal_end: date  # before moving off a rest day
    last_day: date
    due_at: datetime  # 24:00 of last_day, China time, as UTC
    skipped: list[Skipped] = Field(default_factory=list)
    calendar_version: str
    provisional: bool = False
    reminders: list[datetime] = Field(default_factory=list)  # before the deadline (UTC)
    escalate_at: datetime | None = None  # when an overdue case goes to 督查室 (UTC)
    escalation_provisional: bool = False  # the escalation day lies in a year without calendar data
    explanation: str = ""

    def display_due(self) -> str:
        return f"{self.last_day.isoformat()} 24:00"


def add_months(day: date, months: int) -> date:
    """The corresponding day ``months`` later, or that month's last day where there is none."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, _cal.monthrange(year, month)[1]))


def end_of_day(day: date) -> datetime:
    """24:00 of ``day`` in China, as an aware UTC datetime."""
    return datetime.combine(day + timedelta(days=1), time(0), CST).astimezone(ZoneInfo("UTC"))


def at_hour(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), CST).astimezone(ZoneInfo("UTC"))


def china_day(moment: datetime) -> date:
    return moment.astimezone(CST).date()


def due_text(due_at: datetime) -> str:
    """How people read a due time: the last day, 24:00 (due_at itself is the next day's 00:00)."""
    return f"{last_day(due_at).isoformat()} 24:00"


def last_day(due_at: datetime) -> date:
    """The last day a deadline allows (``due_at`` is the next day's 00:00 in China)."""
    return china_day(due_at - timedelta(microseconds=1))


def days_late(due_at: datetime, now: datetime) -> int:
    """Calendar days past a deadline: 1 on the first day after its last day, 0 while it has not passed."""
    return (china_day(now) - last_day(due_at)).days if due_at < now else 0


# Which deadline an open state waits on (the one a to-do, the case page and `jianyi status` count down).
WAITING_ON = {
    "submitted": "review", "registered": "assign", "assigned": "sign", "adjustment_requested": "sign",
    "handling": "reply", "rehandling": "rehandle", "reply_review": "reply", "replied": "evaluation",
    "escalated": "rectify", "follow_up": "", "returned": "",
}


def awaited(state: str, running: Iterable[str]) -> str:
    """The deadline a case waits on now, among the ``running`` ones: a 督查室 rectification when one was
    ordered (it is what the unit must meet next), else the one its state waits on."""
    running = set(running)
    return "rectify" if "rectify" in running else WAITING_ON.get(state, "")


def time_left(rule_name: str, due_at: datetime, now: datetime, calendar: WorkCalendar) -> tuple[str, bool]:
    """(剩余N个工作日 or 已逾期…, overdue): how a deadline stands now, in the 工作台's words."""
    if due_at < now:
        return f"已逾期{lateness(rule_name, due_at, now, calendar)}", True
    return f"剩余{calendar.workdays_between(china_day(now), last_day(due_at))}个工作日", False


def lateness(rule_name: str, due_at: datetime, now: datetime, calendar: WorkCalendar | None) -> str:
    """How far past its deadline a case is, counted as the rule counts (N个工作日 or N天): the one wording
    of "how late" for the 工作台, the stuck view and the digests. Never "0": before a working day has
    passed, a working-day deadline is N天 late."""
    if calendar is not None and rule_name in RULE_UNITS and RULE_UNITS[rule_name] == Unit.WORKDAYS:
        if workdays := calendar.workdays_between(last_day(due_at), china_day(now)):
            return f"{workdays}个工作日"
    return f"{days_late(due_at, now)}天"


def compute(
    rule_name: str,
    start: datetime,
    policy: Policy,
    calendar: WorkCalendar,
    *,
    base_day: date | None = None,
    amount: int | None = None,
) -> ComputedDeadline:
    """The deadline of ``rule_name`` for a clock started at ``start``.

    ``base_day`` replaces the start day for rules counted from an earlier deadline (extension).
    """
    rule = rules(policy)[rule_name]
    if amount:
        rule = rule.model_copy(update={"amount": amount})
    start_day = base_day or china_day(start)
    skipped: list[Skipped] = []
    if rule.unit is Unit.MONTHS:
        nominal = add_months(start_day, rule.amount)
        last, off = calendar.next_workday(nominal)
        skipped = [Skipped(day=s.day, reason=s.reason) for s in off]
    else:
        last, off = calendar.add_workdays(start_day, rule.amount)
        nominal = last
        skipped = [Skipped(day=s.day, reason=s.reason) for s in off]
    deadline = ComputedDeadline(
        rule=rule.name,
        label=rule.label,
        unit=rule.unit,
        amount=rule.amount,
        start=start,
        start_day=start_day,
        nominal_end=nominal,
        last_day=last,
        due_at=end_of_day(last),
        skipped=skipped,
        calendar_version=calendar.version,
        provisional=calendar.is_provisional(last),
    )
    deadline.reminders = _reminders(deadline, rule, policy, calendar)
    if rule.handling:
        esc_day, _ = calendar.add_workdays(last, policy.overdue_escalation_workdays)
        deadline.escalate_at = end_of_day(esc_day)
        deadline.escalation_provisional = calendar.is_provisional(esc_day)
    deadline.explanation = explain(deadline, rule)
    return deadline


def _reminders(deadline: ComputedDeadline, rule: Rule, policy: Policy, calendar: WorkCalendar) -> list[datetime]:
    if rule.reminders is Reminders.MIDWAY:
        day, _ = calendar.add_workdays(deadline.start_day, policy.evaluation_reminder_workday)
        return [at_hour(day, policy.reminder_hour)]
    if rule.reminders is Reminders.BEFORE_DUE:
        days = sorted(set(policy.reminder_days_before), reverse=True)
        return [
            at_hour(deadline.last_day - timedelta(days=d), policy.reminder_hour)
            for d in days
            if deadline.last_day - timedelta(days=d) > deadline.start_day
        ]
    return []


def delivery_time(moment: datetime, calendar: WorkCalendar, work_start: time, work_end: time) -> datetime:
    """When a notice written at ``moment`` may be delivered: at once inside working hours on a
    working day, else at the start of the next working morning (quiet rules)."""
    local = moment.astimezone(CST)
    day = local.date()
    if calendar.is_workday(day) and work_start <= local.time() < work_end:
        return moment
    if calendar.is_workday(day) and local.time() < work_start:
        return datetime.combine(day, work_start, CST).astimezone(ZoneInfo("UTC"))
    nxt, _ = calendar.add_workdays(day, 1)
    return datetime.combine(nxt, work_start, CST).astimezone(ZoneInfo("UTC"))


def overdue_repeats(deadline: ComputedDeadline, policy: Policy, until: datetime) -> list[datetime]:
    """Weekly repeats of the overdue notice after ``due_at``, up to ``until``."""
    out, k = [], 1
    while (t := deadline.due_at + timedelta(days=policy.overdue_repeat_days * k)) <= until:
        out.append(t)
        k += 1
    return out


def explain(d: ComputedDeadline, rule: Rule) -> str:
    unit_text = "个月" if d.unit is Unit.MONTHS else "个工作日"
    parts = [f"{rule.label}：自{d.start_day.isoformat()}{rule.from_what}起算（当日不计入），{d.amount}{unit_text}"]
    if d.unit is Unit.MONTHS:
        parts.append(f"届满于{d.nominal_end.isoformat()}")
        if d.nominal_end != d.last_day:
            reasons = "、".join(dict.fromkeys(s.reason for s in d.skipped))
            parts.append(f"该日为休息日（{reasons}），顺延至下一个工作日{d.last_day.isoformat()}")
    else:
        if d.skipped:
            reasons = "、".join(dict.fromkeys(s.reason for s in d.skipped))
            parts.append(f"跳过{len(d.skipped)}个休息日（{reasons}）")
        parts.append(f"第{d.amount}个工作日为{d.last_day.isoformat()}")
    text = "，".join(parts) + f"；截止于{d.display_due()}（北京时间）。日历：{d.calendar_version}。"
    if d.provisional:
        text += "注意：期限跨越尚无国务院节假日安排的年份，暂按周一至周五为工作日计算，日历更新后将重新计算。"
    elif d.escalation_provisional and d.escalate_at is not None:
        text += (
            f"本期限已确定；逾期后移交督查室的日期（{due_text(d.escalate_at)}）落在尚无国务院节假日安排的年份，"
            "暂按周一至周五计算，日历更新后将重新计算。"
        )
    return text
