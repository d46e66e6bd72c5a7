"""The projection: a case's rows written from the workflow's whole state, never incrementally.

Each transition writes the suggestion row, the case's snapshot (``CaseSnapshot``) and its child rows
(assignments, contacts, replies, commitments, progress, evaluations, escalations) from ``CaseState``, so a transition that is
later replaced leaves nothing behind. A child table is rewritten only when its rows differ from
what the last write left there: the suggestion row keeps a digest of each (``projected``).
Deadline rows keep their history (one row per computation, tagged with the seq that computed
it); ``current`` marks the live one of each kind.

The writes are SQL statements (SQLAlchemy Core), not ORM units of work: a transition is one
short transaction and the records activity runs for every one of them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, or_, update
from sqlmodel import Session as DbSession
from sqlmodel import SQLModel, select

from jianyi.models.case import CaseState, Transition
from jianyi.models.db import to_db
from jianyi.models.policy import ComputedDeadline
from jianyi.models.stuck import stuck_from
from jianyi.models.tables import (
    Assignment,
    CaseSnapshot,
    Commitment,
    CommitmentProgress,
    Contact,
    DeadlineRow,
    Escalation,
    Evaluation,
    Reply,
    Suggestion,
)

Rows = list[dict[str, Any]]


def projection_of(db: DbSession, suggestion_id: str) -> tuple[Any, ...] | None:
    """What ``project`` needs of the suggestion's row as it stands (None: not written yet)."""
    found = db.connection().execute(_CURRENT, {"sid": suggestion_id}).first()
    return tuple(found) if found is not None else None


def project(db: DbSession, case: CaseState, at: datetime, chain: tuple[int, str], found: tuple[Any, ...] | None) -> None:
    """Write the case's current picture: its ``Suggestion`` row (with the audit chain's head) and
    every child table whose rows changed; ``found`` is the row as read before (``projection_of``)."""
    sid, conn = case.id, db.connection()
    closed_at, digests = (found[0], dict(found[1] or {})) if found else (None, {})
    for name, (table, rows_of) in CHILDREN.items():
        rows = rows_of(case)
        digest = _digest(rows)
        if digests.get(name, _NO_ROWS if found is None else None) == digest:  # a case not yet written has no rows
            continue
        conn.execute(_CLEAR[name], {"sid": sid})
        if rows:
            conn.execute(insert(table), rows)
        digests[name] = digest
    values = suggestion_values(case, at, closed_at)
    values.update(chain_seq=chain[0], chain_hash=chain[1], projected=digests)
    if found is None:
        conn.execute(insert(Suggestion), {"id": sid, **values})
    else:
        conn.execute(_UPDATE, {"sid": sid, **values})
    snapshot = {"sid": sid, "data": case.model_dump_json()}
    if found is None or conn.execute(_UPDATE_SNAPSHOT, snapshot).rowcount == 0:  # (none yet: a row older than snapshots)
        conn.execute(_INSERT_SNAPSHOT, snapshot)


def suggestion_values(case: CaseState, at: datetime, closed_at: datetime | None) -> dict[str, Any]:
    """The columns of a case's ``Suggestion`` row."""
    s, dl, handling = case.submission, case.deadlines, case.handling_deadline
    lead = next((a for a in case.assignments if a.active and a.role == "主办"), None)
    reached = [r for r in case.replies if r.reached_deputy]
    values: dict[str, Any] = dict(
        session=s.session, number=s.display_number, title=s.title, text=s.text, category=s.category, period=s.period,
        lead_deputy=s.lead_deputy, co_signers=list(s.co_signers), state=case.state, round=case.round,
        lead_unit=case.lead_unit, co_handlers=list(case.co_handlers), key_supervision=case.key_supervision,
        supervisor=case.supervisor, overdue=case.overdue, escalation_count=case.escalation_count, outcome=case.outcome,
        on_time=case.on_time, merged_into=case.merged_into, error=case.error,
        submitted_at=to_db(case.submitted_at), assigned_at=to_db(case.assigned_at),
        signed_at=to_db(lead.signed_at) if lead else None,
        replied_at=to_db(reached[-1].replied_at) if reached else None,
        reply_due=to_db(handling.due_at) if handling else None,
        provisional_deadlines=any(d.provisional for d in dl.values()),
        closed_at=closed_at if closed_at is not None or case.state != "closed" else to_db(at),
        updated_at=to_db(at),
    )
    for kind in ("sign", "co_opinion", "evaluation", "assign", "review", "rectify"):
        values[f"{kind}_due"] = to_db(dl[kind].due_at) if kind in dl else None
    values.update(
        open_escalations=sum(e.open for e in case.escalations),
        missed_commitments=sum(c.missed and not c.fulfilled for c in case.commitments),
        missing_co_opinions=sum(a.role == "协办" and a.active and not a.opinion for a in case.assignments if a.unit),
    )
    values["stuck_from"] = stuck_from(values)
    return values


def _digest(rows: Rows) -> str:
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()[:32]


_NO_ROWS = _digest([])  # the digest of a child table with no rows


# -- the child tables, each with the rows the case gives it ---------------------------------------------
def _assignment_rows(case: CaseState) -> Rows:
    due = to_db(case.handling_deadline.due_at) if case.handling_deadline else None
    return [
        {"suggestion_id": case.id, **a.model_dump(exclude={"adjustment_asked", "due_at"}), "due_at": due if a.active else a.due_at}
        for a in case.assignments
        if a.unit
    ]


def _contact_rows(case: CaseState) -> Rows:
    return [{"suggestion_id": case.id, **c.model_dump()} for c in case.contacts]


def _reply_rows(case: CaseState) -> Rows:
    return [
        dict(
            suggestion_id=case.id, round=r.round, unit=r.unit, reply_class=r.reply_class, text=r.text, signed_by=r.signed_by,
            replied_at=to_db(r.replied_at), on_time=r.on_time, review_status=r.review_status, reviewed_at=to_db(r.reviewed_at),
            attachment_name=r.attachment_name, attachment_sha256=r.attachment_sha256,
        )
        for r in case.replies
    ]


def _commitment_rows(case: CaseState) -> Rows:
    def status(fulfilled: bool, missed: bool) -> str:
        return "已兑现" if fulfilled else "逾期" if missed else "未兑现"

    return [
        dict(
            suggestion_id=case.id, number=c.number, round=c.round, text=c.text, promised_date=c.promised_date,
            status=status(c.fulfilled, c.missed), fulfilled_at=to_db(c.fulfilled_at), fulfilment=c.fulfilment,
        )
        for c in case.commitments
    ]


def _progress_rows(case: CaseState) -> Rows:
    return [{"suggestion_id": case.id, **p.model_dump()} for p in case.progress]


def _evaluation_rows(case: CaseState) -> Rows:
    return [{"suggestion_id": case.id, **e.model_dump()} for e in case.evaluations]


def _escalation_rows(case: CaseState) -> Rows:
    rectify = case.deadlines.get("rectify")
    return [
        dict(
            suggestion_id=case.id, number=e.number, reason=e.reason, escalated_at=to_db(e.escalated_at), steps=list(e.steps),
            rectify_due=to_db(rectify.due_at) if rectify and e.open and e.steps else None,
            resolution=e.resolution, resolved_at=to_db(e.resolved_at),
        )
        for e in case.escalations
    ]


CHILDREN: dict[str, tuple[type[SQLModel], Callable[[CaseState], Rows]]] = {
    "assignment": (Assignment, _assignment_rows),
    "contact": (Contact, _contact_rows),
    "reply": (Reply, _reply_rows),
    "commitment": (Commitment, _commitment_rows),
    "progress": (CommitmentProgress, _progress_rows),
    "evaluation": (Evaluation, _evaluation_rows),
    "escalation": (Escalation, _escalation_rows),
}
CHILD_TABLES: tuple[type[SQLModel], ...] = tuple(table for table, _ in CHILDREN.values())
# the statements, built once (SQLAlchemy caches their compiled form)
_CURRENT = select(Suggestion.closed_at, Suggestion.projected).where(Suggestion.id == bindparam("sid"))
_UPDATE = update(Suggestion).where(Suggestion.id == bindparam("sid"))
_UPDATE_SNAPSHOT = update(CaseSnapshot).where(CaseSnapshot.suggestion_id == bindparam("sid")).values(data=bindparam("data"))  # type: ignore[arg-type]
_INSERT_SNAPSHOT = insert(CaseSnapshot).values(suggestion_id=bindparam("sid"), data=bindparam("data"))
_CLEAR = {name: delete(table).where(table.suggestion_id == bindparam("sid")) for name, (table, _) in CHILDREN.items()}  # type: ignore[attr-defined]


# -- deadlines ---------------------------------------------------------------------------------------
def store_deadlines(db: DbSession, t: Transition, computed: dict[str, ComputedDeadline], case: CaseState) -> None:
    """Keep every computed deadline; the newest of each kind still in the case is the current one."""
    sid, live, conn = t.suggestion_id, list(case.deadlines), db.connection()
    if computed or t.drop_deadlines:  # otherwise the current rows are the case's deadlines already
        conn.execute(_RETIRE, {"sid": sid, "computed": list(computed), "live": live})
    rows = [
        dict(
            suggestion_id=sid, seq=t.seq, kind=kind, due_at=to_db(d.due_at), last_day=d.last_day, start=to_db(d.start),
            rule=d.rule, unit=d.unit.value, explanation=d.explanation, skipped=[s.model_dump(mode="json") for s in d.skipped],
            calendar_version=d.calendar_version, provisional=d.provisional, computed_at=to_db(t.at), current=kind in live,
        )
        for kind, d in computed.items()
    ]
    if rows:
        conn.execute(insert(DeadlineRow), rows)


# the current rows of the kinds computed now, or no longer in the case, stop being current
_RETIRE = (
    update(DeadlineRow)
    .where(DeadlineRow.suggestion_id == bindparam("sid"), DeadlineRow.current)  # type: ignore[arg-type]
    .where(or_(DeadlineRow.kind.in_(bindparam("computed", expanding=True)), DeadlineRow.kind.not_in(bindparam("live", expanding=True))))  # type: ignore[attr-defined]
    .values(current=False)
)


def mark_current(db: DbSession, suggestion_id: str, case: CaseState) -> None:
    """Mark afresh which row of each kind is current (after rows were removed)."""
    rows = db.exec(select(DeadlineRow.id, DeadlineRow.kind, DeadlineRow.current)
                   .where(DeadlineRow.suggestion_id == suggestion_id).order_by(DeadlineRow.id)).all()  # type: ignore[arg-type]
    latest = {kind: row_id for row_id, kind, _ in rows}
    for row_id, kind, current in rows:
        now_current = kind in case.deadlines and latest[kind] == row_id
        if current != now_current:
            db.exec(update(DeadlineRow).where(DeadlineRow.id == row_id).values(current=now_current))  # type: ignore[call-overload,arg-type]
