"""What makes a case stuck, each kind defined once (DESIGN §2a): as a Python predicate where the
workflow needs it (overdue) and as one SQL expression that `jianyi stuck`, the daily digest and
the web page all query. Small named queries, in the manner of Alaveteli's ``OverdueQuery``.

The query runs in the caller's database session; day counts are computed only for the rows shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session as DbSession
from sqlmodel import select

from jianyi.models.calendar import WorkCalendar
from jianyi.models.db import to_db
from jianyi.models.policy import china_day, due_text
from jianyi.models.states import AWAITING_REPLY, STATE_LABELS, TERMINAL_VALUES, State
from jianyi.models.tables import Assignment, Commitment, Escalation, Suggestion

S = Suggestion


def is_overdue(state: str, reply_due: datetime | None, now: datetime) -> bool:
    """The lead unit owes a reply and its (re-)handling deadline has passed."""
    return state in AWAITING_REPLY and reply_due is not None and reply_due < now


# -- the kinds, in order of urgency: each a SQL predicate over the suggestion row at ``now`` ---------
def processing_error(now: datetime) -> ColumnElement[bool]:
    return S.error != ""  # type: ignore[return-value]


def with_supervision_office(now: datetime) -> ColumnElement[bool]:
    open_escalation = S.id.in_(select(Escalation.suggestion_id).where(Escalation.resolved_at.is_(None)))  # type: ignore[union-attr,attr-defined]
    return or_(S.state == State.ESCALATED, and_(S.state.not_in(TERMINAL_VALUES), open_escalation))  # type: ignore[attr-defined]


def overdue(now: datetime) -> ColumnElement[bool]:
    return and_(S.state.in_([str(s) for s in AWAITING_REPLY]), S.reply_due < now)  # type: ignore[attr-defined,operator]


def commitment_missed(now: datetime) -> ColumnElement[bool]:
    missed = S.id.in_(select(Commitment.suggestion_id).where(Commitment.status == "逾期"))  # type: ignore[attr-defined]
    return and_(S.state == State.FOLLOW_UP, missed)


def unsigned_past_window(now: datetime) -> ColumnElement[bool]:
    return and_(S.state == State.ASSIGNED, S.sign_due < now)  # type: ignore[operator]


def not_assigned_in_time(now: datetime) -> ColumnElement[bool]:
    return and_(S.state == State.REGISTERED, S.assign_due < now)  # type: ignore[operator]


def not_reviewed_in_time(now: datetime) -> ColumnElement[bool]:
    return and_(S.state == State.SUBMITTED, S.review_due < now)  # type: ignore[operator]


def co_opinion_overdue(now: datetime) -> ColumnElement[bool]:
    missing = S.id.in_(  # type: ignore[attr-defined]
        select(Assignment.suggestion_id).where(Assignment.role == "协办", Assignment.active, Assignment.opinion == "")
    )
    working = S.state.in_([State.ASSIGNED, State.HANDLING, State.REHANDLING])  # type: ignore[attr-defined]
    return and_(working, S.co_opinion_due < now, missing)  # type: ignore[operator]


def waiting_for_evaluation(now: datetime) -> ColumnElement[bool]:
    return S.state == State.REPLIED  # type: ignore[return-value]


@dataclass(frozen=True)
class Kind:
    name: str
    label: str
    predicate: Callable[[datetime], ColumnElement[bool]]


KINDS: tuple[Kind, ...] = (
    Kind("error", "处理异常", processing_error),
    Kind("escalated", "督查室督办中", with_supervision_office),
    Kind("overdue", "逾期未答复", overdue),
    Kind("commitment_missed", "承诺事项逾期未兑现", commitment_missed),
    Kind("unsigned", "超过签收期限未签收", unsigned_past_window),
    Kind("not_assigned", "闭会期间建议超过交办期限未交办", not_assigned_in_time),
    Kind("not_reviewed", "超过阅看期限未阅看", not_reviewed_in_time),
    Kind("co_opinion", "协办意见逾期", co_opinion_overdue),
    Kind("evaluation", "等待代表评价", waiting_for_evaluation),
)
KIND_NAMES = {k.name: k for k in KINDS}


@dataclass
class StuckCase:
    id: str
    number: str
    title: str
    state: str
    lead_unit: str
    session: str
    reasons: list[str]
    kinds: list[str]
    reply_due: str
    key_supervision: bool
    supervisor: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StuckPage:
    cases: list[StuckCase]
    total: int
    counts: dict[str, int]  # per kind (within the filters other than kind)
    page: int
    per_page: int


def _filters(now: datetime, unit: str | None, session: str | None, supervisor: str | None) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = [S.state.not_in(TERMINAL_VALUES)]  # type: ignore[attr-defined]
    if unit:
        co = exists().where(Assignment.suggestion_id == S.id, Assignment.unit == unit, Assignment.active)
        out.append(or_(S.lead_unit == unit, co))
    if session:
        out.append(S.session == session)
    if supervisor:
        out.append(S.supervisor == supervisor)
    return out


def find_stuck(
    db: DbSession, now: datetime, *, unit: str | None = None, kind: str | None = None, session: str | None = None,
    supervisor: str | None = None, page: int = 1, per_page: int = 50, calendar: WorkCalendar | None = None,
) -> StuckPage:
    """One page of stuck cases, the most urgent first, with the count of each kind."""
    now = to_db(now)  # type: ignore[assignment]
    base = _filters(now, unit, session, supervisor)
    kinds = [KIND_NAMES[kind]] if kind else list(KINDS)
    any_kind = or_(*(k.predicate(now) for k in kinds))
    counts, total = _counts(db, base, now, any_kind)
    total = counts[kind] if kind else total
    ids = _page_ids(db, base, kinds, now, (page - 1) * per_page, per_page)
    found = {s.id: s for s in db.exec(select(S).where(S.id.in_(ids)))}  # type: ignore[attr-defined]
    rows = [found[i] for i in ids]
    flags = _kinds_of(db, [s.id for s in rows], now)
    return StuckPage([_describe(db, s, flags[s.id], now, calendar) for s in rows], total, counts, page, per_page)


def _page_ids(db: DbSession, base: list[ColumnElement[bool]], kinds: list[Kind], now: datetime, offset: int, limit: int) -> list[str]:
    """The ids of one page in order of urgency: kind by kind (each a small indexed query), a case
    taken at its most urgent kind; a later kind is only reached once the earlier ones are used up."""
    wanted, ids = offset + limit, list[str]()
    seen: set[str] = set()
    for k in kinds:
        q = select(S.id).where(*base, k.predicate(now)).order_by(S.reply_due, S.id).limit(wanted + len(seen))
        ids += [i for i in db.exec(q) if i not in seen]
        seen = set(ids)
        if len(ids) >= wanted:
            break
    return ids[offset:wanted]


def _counts(db: DbSession, base: list[ColumnElement[bool]], now: datetime, any_kind: ColumnElement[bool]) -> tuple[dict[str, int], int]:
    """The count of each kind and of all stuck cases, in one pass over the open suggestions."""
    columns = [func.sum(case((k.predicate(now), 1), else_=0)) for k in KINDS] + [func.sum(case((any_kind, 1), else_=0))]
    row = db.exec(select(*columns).select_from(S).where(*base)).one()  # type: ignore[call-overload]
    return {k.name: int(v or 0) for k, v in zip(KINDS, row[:-1], strict=True)}, int(row[-1] or 0)


def _kinds_of(db: DbSession, ids: list[str], now: datetime) -> dict[str, list[Kind]]:
    """Which kinds each shown case is stuck by: one query for the page."""
    if not ids:
        return {}
    columns = [case((k.predicate(now), 1), else_=0).label(k.name) for k in KINDS]
    out: dict[str, list[Kind]] = {}
    for row in db.exec(select(S.id, *columns).where(S.id.in_(ids))):  # type: ignore[attr-defined,call-overload]
        out[row[0]] = [k for k, on in zip(KINDS, row[1:], strict=True) if on]
    return out


def _describe(db: DbSession, s: Suggestion, matched: list[Kind], now: datetime, calendar: WorkCalendar | None) -> StuckCase:
    """The reasons of one shown case, each with its day count."""
    reasons = [_reason(db, k.name, s, now, calendar) for k in matched]
    return StuckCase(
        id=s.id, number=s.number, title=s.title, state=STATE_LABELS.get(s.state, s.state), lead_unit=s.lead_unit, session=s.session,
        reasons=reasons, kinds=[k.name for k in matched], reply_due=due_text(s.reply_due) if s.reply_due else "",
        key_supervision=s.key_supervision, supervisor=s.supervisor,
    )


def _workdays(calendar: WorkCalendar | None, since: datetime | None, now: datetime) -> str:
    if since is None:
        return ""
    if calendar is None:
        return f"{(now - since).days}天"
    return f"{calendar.workdays_between(china_day(since), china_day(now))}个工作日"


def _reason(db: DbSession, name: str, s: Suggestion, now: datetime, calendar: WorkCalendar | None) -> str:
    days = lambda since: (now - since).days if since else 0  # noqa: E731
    if name == "error":
        return f"处理异常：{s.error}"
    if name == "escalated":
        since = db.exec(select(func.max(Escalation.escalated_at)).where(Escalation.suggestion_id == s.id)).one()
        return f"督查室督办中（{days(to_db(since))}天前移交）" if since else "已移交督查室，待处理"
    if name == "overdue":
        return f"逾期未答复（已逾期{days(s.reply_due)}天）"
    if name == "commitment_missed":
        n = db.exec(select(func.count()).select_from(Commitment).where(Commitment.suggestion_id == s.id, Commitment.status == "逾期")).one()
        return f"承诺事项逾期未兑现{n}项"
    if name == "unsigned":
        return f"超过签收期限未签收（已超{_workdays(calendar, s.sign_due, now)}）"
    if name == "not_assigned":
        return f"闭会期间建议超过交办期限未交办（已超{_workdays(calendar, s.assign_due, now)}）"
    if name == "not_reviewed":
        return f"超过阅看期限未阅看（已超{_workdays(calendar, s.review_due, now)}）"
    if name == "co_opinion":
        units = db.exec(select(Assignment.unit).where(Assignment.suggestion_id == s.id, Assignment.role == "协办",
                                                      Assignment.active, Assignment.opinion == "")).all()
        return f"协办意见逾期（{'、'.join(units)}，已逾期{days(s.co_opinion_due)}天）"
    due = f"，评价期限{due_text(s.evaluation_due)}" if s.evaluation_due else ""
    return f"等待代表评价（已{days(s.replied_at)}天{due}）"
