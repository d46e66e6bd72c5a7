"""Composing the scheduler's digests from the records: one outbox row per unit and period.

月度督办 (each unit with open inter-session suggestions), 承诺事项台账 (each unit with open
commitments), the daily stuck-case digest (to the congress office and the supervision office).
The outbox key (digest id, unit, kind, period) makes a second fire for the same period send nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlmodel import Session as DbSession
from sqlmodel import select
from temporalio import activity

from jianyi.activities.calendar import load_calendar
from jianyi.activities.outbox import enqueue
from jianyi.models.calendar import WorkCalendar
from jianyi.models.case import DigestRequest, MessageRequest, Recipient, Recorded
from jianyi.models.db import session_for, to_db
from jianyi.models.policy import china_day, due_text, handling_label, lateness
from jianyi.models.states import NEXT_STEPS, STATE_LABELS, TERMINAL_VALUES
from jianyi.models.stuck import StuckCase, find_stuck, is_overdue
from jianyi.models.tables import Commitment, CommitmentProgress, Suggestion
from jianyi.settings import Settings

TERMINAL_STATES = TERMINAL_VALUES


def period_label(kind: str, period: str) -> str:
    if kind == "daily":
        return period
    year, month = period.split("-")
    return f"{year}年{int(month)}月" + ("起两个月" if kind == "ledger" else "")


class DigestActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @activity.defn(name="compose_digest")
    def compose_digest(self, r: DigestRequest) -> Recorded:
        """One digest into the outbox (``r.immediate``: fired by hand, delivered at once)."""
        with session_for(self.settings.db_url) as db:
            compose = {"monthly": self._monthly, "ledger": self._ledger, "daily": self._daily}[r.kind]
            messages = compose(db, r.period, r.at)
            context = {
                "period": period_label(r.kind, r.period),
                "date": r.period,
                "link": f"{self.settings.base_url.rstrip('/')}/digests/{r.source_id}",
            }
            calendar = load_calendar(db)
            ids, deliver_at = enqueue(db, self.settings, calendar, r.source_id, r.at, messages, context, quiet=not r.immediate)
            db.commit()
            return Recorded(outbox_ids=ids, deliver_at=deliver_at)

    def _monthly(self, db: DbSession, period: str, at: datetime) -> list[MessageRequest]:
        """Every unit with open inter-session suggestions: each item, stage, days since assignment, deadline, next."""
        rows = db.exec(
            select(Suggestion).where(
                Suggestion.period == "闭会期间", Suggestion.state.not_in(TERMINAL_STATES), Suggestion.lead_unit != ""  # type: ignore[attr-defined]
            ).order_by(Suggestion.id)
        )
        by_unit: dict[str, list[str]] = defaultdict(list)
        for s in rows:
            days = (at - s.assigned_at).days if s.assigned_at else 0
            due = due_text(s.reply_due) if s.reply_due else "—"
            if is_overdue(s.state, s.reply_due, to_db(at)):  # the one definition of overdue
                due += f"（已逾期{lateness('reply', to_db(s.reply_due), to_db(at), None)}）"  # type: ignore[arg-type]
            by_unit[s.lead_unit].append(
                f"· {s.number}《{s.title}》\n  状态：{STATE_LABELS[s.state]}；交办已{days}天；{handling_label(s.state)}：{due}；"
                f"下一步：{NEXT_STEPS.get(s.state, '—')}" + ("；已移交督查室督办" if s.open_escalations else "")
            )
        return [_to_unit("monthly_digest", period, unit, items) for unit, items in sorted(by_unit.items())]

    def _ledger(self, db: DbSession, period: str, at: datetime) -> list[MessageRequest]:
        """Every unit with open commitments is asked for progress on each."""
        rows = db.exec(
            select(Commitment, Suggestion)
            .where(Commitment.suggestion_id == Suggestion.id, Commitment.status != "已兑现")
            .where(Suggestion.state.not_in([s for s in TERMINAL_VALUES if s != "closed"]))  # type: ignore[attr-defined]
            .order_by(Suggestion.id, Commitment.number)
        )
        by_unit: dict[str, list[str]] = defaultdict(list)
        for c, s in rows:
            last = db.exec(
                select(CommitmentProgress)
                .where(CommitmentProgress.suggestion_id == s.id, CommitmentProgress.number == c.number)
                .order_by(CommitmentProgress.reported_at.desc())  # type: ignore[attr-defined]
                .limit(1)
            ).first()
            progress = f"{china_day(last.reported_at)} {last.text}" if last else "尚未报告"
            by_unit[s.lead_unit].append(
                f"· {s.number}《{s.title}》承诺事项{c.number}：{c.text}\n  承诺完成日期：{c.promised_date}；"
                f"状态：{c.status}；上次进展：{progress}\n"
                f"  报告进展：jianyi --as unit:{s.lead_unit} commitment-progress {s.id} --number {c.number} --period {period} --text …"
            )
        return [_to_unit("ledger_request", period, unit, items) for unit, items in sorted(by_unit.items())]

    def _daily(self, db: DbSession, period: str, at: datetime) -> list[MessageRequest]:
        """The stuck view itself (models/stuck.py): all of it to the two offices, each unit its own."""
        calendar = load_calendar(db)
        everything = _all_stuck(db, at, calendar)
        if not everything:
            return []
        offices = [self.settings.congress_office, self.settings.supervision_office]
        out = [MessageRequest(kind="daily_digest", cycle=period, recipients=[Recipient(kind="office", name=o) for o in offices],
                              context={"items": stuck_text(everything), "count": len(everything)})]
        for unit in sorted({c.lead_unit for c in everything if c.lead_unit}):
            mine = _all_stuck(db, at, calendar, unit=unit)
            out.append(MessageRequest(kind="daily_digest_unit", cycle=period, recipients=[Recipient(kind="unit", name=unit)],
                                      context={"items": stuck_text(mine), "count": len(mine)}))
        return out


def _all_stuck(db: DbSession, at: datetime, calendar: WorkCalendar, unit: str | None = None) -> list[StuckCase]:
    cases: list[StuckCase] = []
    page = 1
    while True:
        found = find_stuck(db, at, unit=unit, page=page, per_page=200, calendar=calendar)
        cases += found.cases
        if len(cases) >= found.total or not found.cases:
            return cases
        page += 1


def stuck_text(cases: list[StuckCase]) -> str:
    """One line a case, as `jianyi stuck` shows it."""
    return "\n".join(
        f"· {c.number}《{c.title}》（主办：{c.lead_unit or '—'}）{'【重点督办】' if c.key_supervision else ''}\n  {'；'.join(c.reasons)}"
        for c in cases
    )


def _to_unit(kind: str, period: str, unit: str, items: list[str]) -> MessageRequest:
    return MessageRequest(
        kind=kind, cycle=period, recipients=[Recipient(kind="unit", name=unit)], context={"items": "\n".join(items), "count": len(items)}
    )
