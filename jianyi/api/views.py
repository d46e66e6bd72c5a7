"""What the pages read from the records: an account's to-do list (its 工作台) and a case's rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import select

from jianyi.api.access import visible
from jianyi.models.accounts import Account
from jianyi.models.actions import label
from jianyi.models.calendar import WorkCalendar
from jianyi.models.case import CaseState
from jianyi.models.db import load_calendar, session_for, to_db
from jianyi.models.lifecycle import Lifecycle, allowed_actions
from jianyi.models.policy import awaited, due_text, time_left
from jianyi.models.states import STATE_LABELS, TERMINAL_VALUES, Role
from jianyi.models.tables import Assignment, CaseSnapshot, DeadlineRow, Suggestion, in_number_order


@dataclass
class Todo:
    id: str
    number: str
    title: str
    state: str
    what: str  # what this account is expected to do
    due: str
    left: str  # working days left, or overdue by
    overdue: bool
    explanation: str
    sort_key: tuple[int, str]


# actions a to-do never lists: they may be taken at any time, nobody is waiting for them
OPTIONAL = ("remark", "mark_key", "recompute_deadlines", "act_on_escalation", "withdraw")


def todo_list(url: str, account: Account, now: datetime) -> list[Todo]:
    """Open cases where this account has something to do, the most urgent first."""
    role, name = Role(account.role), account.acts_as
    with session_for(url) as db:
        calendar = load_calendar(db)
        q = select(Suggestion).where(Suggestion.state.not_in(TERMINAL_VALUES))  # type: ignore[attr-defined]
        scope = visible(account)
        if scope is not None:
            q = q.where(scope)
        rows = list(db.exec(q))
        cases = _snapshots(db, [s.id for s in rows])
        co_pending = {a.suggestion_id for a in db.exec(select(Assignment).where(Assignment.unit == name, Assignment.role == "协办",
                                                                                 Assignment.active, Assignment.opinion == ""))}
        todos = [(s, acts) for s in rows if (acts := _actions(s, cases.get(s.id), role, name, co_pending, now))]
        items = [_todo(db, s, acts, calendar, now) for s, acts in todos]
    return sorted(items, key=lambda t: t.sort_key)


def _snapshots(db, ids: list[str]) -> dict[str, CaseState]:  # noqa: ANN001
    found = db.exec(select(CaseSnapshot).where(CaseSnapshot.suggestion_id.in_(ids))) if ids else []  # type: ignore[attr-defined]
    return {c.suggestion_id: CaseState.model_validate_json(c.data) for c in found}


def _actions(s: Suggestion, case: CaseState | None, role: Role, name: str, co_pending: set[str], now: datetime) -> list[str]:
    """What this account is expected to do on the case now: the lifecycle's answer for the case as its
    workflow holds it (models/lifecycle.allowed_actions, as on the case page and in `jianyi status`)."""
    if role == Role.SUPERVISOR:
        return ["remark"] if s.supervisor == name else []  # a supervisor's work is its remarks on its key cases
    if case is not None:
        allowed = allowed_actions(case, name, role, now)
        actions = [a for a in allowed if a not in OPTIONAL or _awaited(case, a, allowed)]
        # a co-handler's work is its opinion (it may also contact the deputy, but nobody waits on that)
        return [a for a in actions if a == "co_opinion"] if role == Role.UNIT and case.lead_unit != name else actions
    # a row recorded before snapshots were kept (until its next transition or `jianyi admin recompute`): by its state
    actions = [a for a in Lifecycle(s.state).actions_for(role) if a not in OPTIONAL]
    if role == Role.UNIT and s.lead_unit != name:
        return ["co_opinion"] if s.id in co_pending else []
    return [] if role == Role.DEPUTY and s.lead_deputy != name else actions


def _awaited(case: CaseState, action: str, allowed: list[str]) -> bool:
    """An optional act someone waits for now: 督查室's first step on an escalation nobody has acted on yet
    (an escalated case's own to-do is 处理督查事项, so it is not listed twice there)."""
    esc = case.open_escalation
    return action == "act_on_escalation" and "resolve_escalation" not in allowed and esc is not None and esc.awaits_first_step


def _todo(db, s: Suggestion, actions: list[str], calendar: WorkCalendar, now: datetime) -> Todo:  # noqa: ANN001
    running = {r.kind: r for r in db.exec(select(DeadlineRow).where(DeadlineRow.suggestion_id == s.id, DeadlineRow.current))}
    kind = awaited(s.state, running)
    row = running.get(kind)
    due_at = to_db(row.due_at) if row else None
    left, overdue = time_left(kind, due_at, now, calendar) if due_at else ("", False)
    return Todo(s.id, s.number, s.title, STATE_LABELS[s.state], "、".join(label(a) for a in actions), due_text(due_at) if due_at else "—",
                left, overdue, row.explanation if row else "", (0 if overdue else 1, due_at.isoformat() if due_at else "9999"))


def visible_suggestions(url: str, account: Account, limit: int = 200) -> list[Suggestion]:
    with session_for(url) as db:
        q = select(Suggestion)
        scope = visible(account)
        if scope is not None:
            q = q.where(scope)
        return list(db.exec(q.order_by(*in_number_order()).limit(limit)))
