"""What makes a case stuck, each kind defined once (DESIGN §2a): as a Python predicate where the
workflow needs it (overdue) and as clauses over the suggestion row that `jianyi stuck`, the daily
digest and the web page all query. Small named queries, in the manner of Alaveteli's ``OverdueQuery``.

The query runs in the caller's database session; day counts are computed only for the rows shown.
"""

from __future__ import annotations

import operator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import reduce
from typing import Any

from sqlalchemy import and_, case, func, literal_column, not_, or_, union_all
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session as DbSession
from sqlmodel import select

from jianyi.models.calendar import WorkCalendar
from jianyi.models.db import to_db
from jianyi.models.policy import china_day, due_text, handling_label, lateness
from jianyi.models.states import AWAITING_REPLY, OPEN_VALUES, STATE_LABELS, State
from jianyi.models.tables import Assignment, Escalation, Suggestion

S = Suggestion


def is_overdue(state: str, reply_due: datetime | None, now: datetime) -> bool:
    """The lead unit owes a reply and its (re-)handling deadline has passed."""
    return state in AWAITING_REPLY and reply_due is not None and reply_due < now


# -- the kinds, in order of urgency ----------------------------------------------------------------
# Each kind is a few clauses over the suggestion row alone: its state is one of ``states``, the
# ``flag`` column (a fact the projection keeps: an error text, a count of open escalations, of
# missed commitments, of co-handler opinions still missing) is set, and the ``due`` column has
# passed. From these one declaration come both the SQL predicate (the counts and the pages) and
# ``stuck_from``, the moment a row becomes stuck by any kind, kept on the row so that the number
# of stuck cases is one indexed count.
@dataclass(frozen=True)
class Clause:
    states: tuple[str, ...]
    due: str | None = None  # a Suggestion column; None: stuck as soon as the state and flag hold
    flag: str | None = None  # a Suggestion column that must be set (non-empty text, count above 0)

    @property
    def order(self) -> str:
        """The column a case's place within its kind runs by: since when this clause holds (its due), else
        the reply deadline; the most urgent first."""
        return self.due or "reply_due"

    def parts(self) -> tuple[Clause, ...]:
        """The clause one state at a time (each read in its index's order), unless only a fact's rare rows hold it."""
        if self.flag and not self.due or len(self.states) == 1:
            return (self,)
        return tuple(Clause((state,), self.due, self.flag) for state in self.states)

    def sql(self, now: datetime) -> ColumnElement[bool]:
        terms = [S.state.in_(self.states) if len(self.states) > 1 else S.state == self.states[0]]  # type: ignore[attr-defined]
        if self.flag:  # constants written into the SQL, so the planner can match the partial indexes
            column = getattr(S, self.flag)
            terms.append(column != literal_column("''") if self.flag == "error" else column > literal_column("0"))
        if self.due:
            terms.append(getattr(S, self.due) < now)
        return and_(*terms)

    def since(self, row: dict[str, Any]) -> datetime | None:
        """When this clause starts to hold for ``row`` as it stands (None: it does not)."""
        if row["state"] not in self.states or (self.flag and not row.get(self.flag)):
            return None
        return to_db(row.get(self.due)) if self.due else EPOCH


@dataclass(frozen=True)
class Kind:
    name: str
    label: str
    clauses: tuple[Clause, ...]

    def predicate(self, now: datetime) -> ColumnElement[bool]:
        return or_(*(c.sql(now) for c in self.clauses)) if len(self.clauses) > 1 else self.clauses[0].sql(now)

    def disjoint(self, now: datetime) -> list[ColumnElement[bool]]:
        """The predicate as parts no two of which hold for one row (each clause less the ones before it),
        so the kind's count is a sum of indexed counts, not an OR over a row set."""
        return [and_(c.sql(now), *(not_(b.sql(now)) for b in self.clauses[:n])) for n, c in enumerate(self.clauses)]

    def holds(self, row: dict[str, Any], now: datetime) -> bool:
        """The same predicate over a row's values (the shown rows: no SQL needed)."""
        return any((since := c.since(row)) is not None and since < now for c in self.clauses)

    @property
    def order(self) -> str:
        return self.clauses[0].order  # the clauses of a kind share it


EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_OPEN = tuple(OPEN_VALUES)
_WORKING = (State.ASSIGNED.value, State.HANDLING.value, State.REHANDLING.value)

KINDS: tuple[Kind, ...] = (
    Kind("error", "处理异常", (Clause(_OPEN, flag="error"),)),
    Kind("escalated", "督查室督办中", (Clause((State.ESCALATED.value,)), Clause(_OPEN, flag="open_escalations"))),
    Kind("overdue", "逾期未答复", (Clause(tuple(str(s) for s in AWAITING_REPLY), due="reply_due"),)),
    Kind("commitment_missed", "承诺事项逾期未兑现", (Clause((State.FOLLOW_UP.value,), flag="missed_commitments"),)),
    Kind("unsigned", "超过签收期限未签收", (Clause((State.ASSIGNED.value,), due="sign_due"),)),
    Kind("not_assigned", "闭会期间建议超过交办期限未交办", (Clause((State.REGISTERED.value,), due="assign_due"),)),
    Kind("not_reviewed", "超过阅看期限未阅看", (Clause((State.SUBMITTED.value,), due="review_due"),)),
    Kind("co_opinion", "协办意见逾期", (Clause(_WORKING, due="co_opinion_due", flag="missing_co_opinions"),)),
    Kind("evaluation", "等待代表评价", (Clause((State.REPLIED.value,)),)),
)
KIND_NAMES = {k.name: k for k in KINDS}


def stuck_from(row: dict[str, Any]) -> datetime | None:
    """The moment a suggestion row (its column values) is stuck by some kind, if it ever is as it stands."""
    moments = [m for k in KINDS for c in k.clauses if (m := c.since(row)) is not None]
    return min(moments, default=None)


def any_kind(now: datetime) -> ColumnElement[bool]:
    """Stuck by some kind: exactly the union of the kinds, through the kept ``stuck_from``."""
    return S.stuck_from < now  # type: ignore[operator,return-value]


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
    due_label: str = "答复期限"  # 重新办理期限 while re-handling
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

    @property
    def pages(self) -> int:
        return page_count(self.total, self.per_page)

    @classmethod
    def empty(cls, per_page: int = 50) -> StuckPage:
        """A page with nothing on it (what a refused filter shows beside its message)."""
        return cls([], 0, {k.name: 0 for k in KINDS}, 1, per_page)


def page_count(total: int, per_page: int) -> int:
    """How many pages ``total`` rows make (one, empty, when there are none)."""
    return max(1, -(-total // per_page))


def _filters(now: datetime, unit: str | None, session: str | None, supervisor: str | None) -> list[ColumnElement[bool]]:
    """The rows a list is drawn from. No state filter: every kind names open states only, and
    ``stuck_from`` is empty on a closed row (tests/test_stuck.py checks both)."""
    out: list[ColumnElement[bool]] = []
    if unit:  # the unit leads the case or co-handles it: a short list of ids, both found by index
        led = select(S.id).where(S.lead_unit == unit)
        co = select(Assignment.suggestion_id).where(Assignment.unit == unit, Assignment.active)
        out.append(S.id.in_(union_all(led, co)))  # type: ignore[attr-defined]
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
    narrow = bool(unit or supervisor)  # a few hundred rows at most: read them once
    counts, total = (_counts_in_one_pass if narrow else _counts)(db, base, now)
    total = counts[kind] if kind else total
    page = min(max(page, 1), page_count(total, per_page))  # a page past the end (or a silly number) is the last
    ids = (_page_ids_in_one_query if narrow else _page_ids)(db, base, kinds, now, (page - 1) * per_page, per_page)
    found, details = _shown(db, ids, now), _Details.of(db, ids)
    return StuckPage([_describe(*found[i], details, now, calendar) for i in ids], total, counts, page, per_page)


def stuck_counts(db: DbSession, now: datetime, *, unit: str | None = None, session: str | None = None,
                 supervisor: str | None = None) -> tuple[dict[str, int], int]:
    """The count of each kind and the number of stuck cases, without a page (the web page's summary)."""
    now = to_db(now)  # type: ignore[assignment]
    base = _filters(now, unit, session, supervisor)
    return (_counts_in_one_pass if unit or supervisor else _counts)(db, base, now)


def _page_ids(db: DbSession, base: list[ColumnElement[bool]], kinds: list[Kind], now: datetime, offset: int, limit: int) -> list[str]:
    """The ids of one page in order of urgency: kind by kind, a case taken at its most urgent kind; a
    later kind is only reached once the earlier ones are used up. Within a kind, each clause's state
    is read in its index's order and only as far as the page needs."""
    wanted, ids = offset + limit, dict[str, None]()
    for k in kinds:
        column, room, found = getattr(S, k.order), wanted + len(ids), []
        for part in (part for c in k.clauses for part in c.parts()):
            found += db.exec(select(column, S.id).where(*base, part.sql(now)).order_by(column, S.id).limit(room)).all()  # type: ignore[call-overload]
        found.sort(key=lambda r: (r[0] is None, r[0] or EPOCH, r[1]))
        ids.update((i, None) for _, i in found if i not in ids)
        if len(ids) >= wanted:
            break
    return list(ids)[offset:wanted]


def _page_ids_in_one_query(db: DbSession, base: list[ColumnElement[bool]], kinds: list[Kind], now: datetime, offset: int,
                           limit: int) -> list[str]:
    """The same order for a narrow list (one unit's, one supervisor's): one query, ranked by kind."""
    rank = case(*((k.predicate(now), n) for n, k in enumerate(kinds)), else_=len(kinds))
    within = case(*((k.predicate(now), getattr(S, k.order)) for k in kinds), else_=S.reply_due)
    q = select(S.id).where(*base, or_(*(k.predicate(now) for k in kinds))).order_by(rank, within, S.id)
    return list(db.exec(q.offset(offset).limit(limit)))


def _counts_in_one_pass(db: DbSession, base: list[ColumnElement[bool]], now: datetime) -> tuple[dict[str, int], int]:
    """The counts of a narrow list, in one pass over its open cases."""
    counted = [*(k.predicate(now) for k in KINDS), any_kind(now)]
    row = db.exec(select(*(func.sum(case((c, 1), else_=0)) for c in counted)).select_from(S).where(*base)).one()  # type: ignore[call-overload]
    return {k.name: int(v or 0) for k, v in zip(KINDS, row[:-1], strict=True)}, int(row[-1] or 0)


def _counts(db: DbSession, base: list[ColumnElement[bool]], now: datetime) -> tuple[dict[str, int], int]:
    """The count of each kind and of the cases stuck by any kind (a case counted once): each an
    indexed count, never a pass over every open case."""
    def count(parts: list[ColumnElement[bool]]) -> Any:
        return reduce(operator.add, (select(func.count()).select_from(S).where(*base, p).scalar_subquery() for p in parts))

    row = db.exec(select(*(count(k.disjoint(now)) for k in KINDS), count([any_kind(now)]))).one()  # type: ignore[call-overload]
    return {k.name: int(v or 0) for k, v in zip(KINDS, row[:-1], strict=True)}, int(row[-1] or 0)


_SHOWN = ("id", "number", "title", "state", "lead_unit", "session", "reply_due", "key_supervision", "supervisor", "error",
          "open_escalations", "missed_commitments", "missing_co_opinions", "sign_due", "assign_due", "review_due",
          "co_opinion_due", "evaluation_due", "replied_at")


def _shown(db: DbSession, ids: list[str], now: datetime) -> dict[str, tuple[Any, list[Kind]]]:
    """The shown cases' columns, each with the kinds it is stuck by: one query for the page."""
    if not ids:
        return {}
    rows = db.exec(select(*(getattr(S, c) for c in _SHOWN)).where(S.id.in_(ids)))  # type: ignore[attr-defined,call-overload]
    return {row.id: (row, [k for k in KINDS if k.holds(values, now)]) for row in rows for values in (row._asdict(),)}


@dataclass
class _Details:
    """What the reasons of the shown cases name beyond their rows: one query each for the page."""

    escalated_at: dict[str, datetime]
    co_units: dict[str, list[str]]

    @classmethod
    def of(cls, db: DbSession, ids: list[str]) -> _Details:
        escalated = select(Escalation.suggestion_id, func.max(Escalation.escalated_at)).where(Escalation.suggestion_id.in_(ids))  # type: ignore[attr-defined]
        missing = select(Assignment.suggestion_id, Assignment.unit).where(
            Assignment.suggestion_id.in_(ids), Assignment.role == "协办", Assignment.active, Assignment.opinion == "")  # type: ignore[attr-defined]
        co_units: dict[str, list[str]] = {}
        for sid, unit in db.exec(missing.order_by(Assignment.id)):  # type: ignore[arg-type]
            co_units.setdefault(sid, []).append(unit)
        return cls({sid: to_db(at) for sid, at in db.exec(escalated.group_by(Escalation.suggestion_id)) if at}, co_units)  # type: ignore[misc]


def _describe(s: Any, matched: list[Kind], details: _Details, now: datetime, calendar: WorkCalendar | None) -> StuckCase:
    """The reasons of one shown case, each with its day count."""
    reasons = [_reason(k.name, s, details, now, calendar) for k in matched]
    return StuckCase(
        id=s.id, number=s.number, title=s.title, state=STATE_LABELS.get(s.state, s.state), lead_unit=s.lead_unit, session=s.session,
        reasons=reasons, kinds=[k.name for k in matched], reply_due=due_text(s.reply_due) if s.reply_due else "", due_label=handling_label(s.state),
        key_supervision=s.key_supervision, supervisor=s.supervisor,
    )


def _reason(name: str, s: Any, details: _Details, now: datetime, calendar: WorkCalendar | None) -> str:
    days = lambda since: (china_day(now) - china_day(since)).days if since else 0  # noqa: E731  (days by the calendar)
    if name == "error":
        return f"处理异常：{s.error}"
    if name == "escalated":
        since = details.escalated_at.get(s.id)
        if since is None:
            return "已移交督查室，待处理"
        return f"督查室督办中（{days(since)}天前移交）" if days(since) else "督查室督办中（今天移交）"
    if name == "overdue":
        return f"逾期未答复（已逾期{lateness('reply', s.reply_due, now, calendar)}）"
    if name == "commitment_missed":
        return f"承诺事项逾期未兑现{s.missed_commitments}项"
    if name == "unsigned":
        return f"超过签收期限未签收（已超{lateness('sign', s.sign_due, now, calendar)}）"
    if name == "not_assigned":
        return f"闭会期间建议超过交办期限未交办（已超{lateness('assign', s.assign_due, now, calendar)}）"
    if name == "not_reviewed":
        return f"超过阅看期限未阅看（已超{lateness('review', s.review_due, now, calendar)}）"
    if name == "co_opinion":
        return f"协办意见逾期（{'、'.join(details.co_units.get(s.id, []))}，已逾期{lateness('co_opinion', s.co_opinion_due, now, calendar)}）"
    due = f"，评价期限{due_text(s.evaluation_due)}" if s.evaluation_due else ""
    return f"等待代表评价（承办单位答复已{days(s.replied_at)}天{due}）"  # the window itself runs from the approval: its due says when it ends
