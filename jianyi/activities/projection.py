"""The projection: a case's rows written from the workflow's whole state, never incrementally.

Each transition rewrites the suggestion row and its child rows (assignments, contacts, replies,
commitments, progress, evaluations, escalations) from ``CaseState``, so a transition that is
later replaced leaves nothing behind. Deadline rows keep their history (one row per computation,
tagged with the seq that computed it); ``current`` marks the live one of each kind.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session as DbSession
from sqlmodel import SQLModel, select

from jianyi.models.case import CaseState, Transition
from jianyi.models.db import to_db
from jianyi.models.policy import ComputedDeadline
from jianyi.models.tables import (
    Assignment,
    Commitment,
    CommitmentProgress,
    Contact,
    DeadlineRow,
    Escalation,
    Evaluation,
    Reply,
    Suggestion,
)

CHILD_TABLES: tuple[type[SQLModel], ...] = (Assignment, Contact, Reply, Commitment, CommitmentProgress, Evaluation, Escalation)


def project(db: DbSession, case: CaseState, at: datetime) -> Suggestion:
    """Write the case's current picture: its ``Suggestion`` row and every child row."""
    row = _suggestion_row(db, case, at)
    for table in CHILD_TABLES:
        db.exec(delete(table).where(table.suggestion_id == case.id))  # type: ignore[attr-defined]
    sid = case.id
    due = to_db(case.handling_deadline.due_at) if case.handling_deadline else None
    db.add_all(
        Assignment(suggestion_id=sid, **a.model_dump(exclude={"adjustment_asked", "due_at"}), due_at=due if a.active else a.due_at)
        for a in case.assignments
        if a.unit
    )
    db.add_all(Contact(suggestion_id=sid, **c.model_dump()) for c in case.contacts)
    db.add_all(_reply_rows(case))
    db.add_all(_commitment_rows(case))
    db.add_all(CommitmentProgress(suggestion_id=sid, **p.model_dump()) for p in case.progress)
    db.add_all(Evaluation(suggestion_id=sid, **e.model_dump()) for e in case.evaluations)
    db.add_all(_escalation_rows(case))
    return row


def _suggestion_row(db: DbSession, case: CaseState, at: datetime) -> Suggestion:
    s = case.submission
    row = db.get(Suggestion, case.id) or Suggestion(
        id=case.id, session=s.session, number=s.display_number, title=s.title, lead_deputy=s.lead_deputy, state=case.state
    )
    dl = case.deadlines
    handling = case.handling_deadline
    row.title, row.text, row.category, row.period = s.title, s.text, s.category, s.period
    row.co_signers = list(s.co_signers)
    row.state, row.round = case.state, case.round
    row.lead_unit, row.co_handlers = case.lead_unit, list(case.co_handlers)
    row.key_supervision, row.supervisor = case.key_supervision, case.supervisor
    row.overdue, row.escalation_count = case.overdue, case.escalation_count
    row.outcome, row.on_time = case.outcome, case.on_time
    row.merged_into, row.error = case.merged_into, case.error
    row.submitted_at, row.assigned_at = to_db(case.submitted_at), to_db(case.assigned_at)
    lead = next((a for a in case.assignments if a.active and a.role == "主办"), None)
    row.signed_at = to_db(lead.signed_at) if lead else None
    reached = [r for r in case.replies if r.reached_deputy]
    row.replied_at = to_db(reached[-1].replied_at) if reached else None
    row.reply_due = to_db(handling.due_at) if handling else None
    for kind in ("sign", "co_opinion", "evaluation", "assign", "review", "rectify"):
        setattr(row, f"{kind}_due", to_db(dl[kind].due_at) if kind in dl else None)
    row.provisional_deadlines = any(d.provisional for d in dl.values())
    if case.state == "closed" and row.closed_at is None:
        row.closed_at = to_db(at)
    row.updated_at = to_db(at)
    db.add(row)
    return row


def _reply_rows(case: CaseState) -> list[Reply]:
    return [
        Reply(
            suggestion_id=case.id, round=r.round, unit=r.unit, reply_class=r.reply_class, text=r.text, signed_by=r.signed_by,
            replied_at=to_db(r.replied_at), on_time=r.on_time, review_status=r.review_status, reviewed_at=to_db(r.reviewed_at),
            attachment_name=r.attachment_name, attachment_sha256=r.attachment_sha256,
        )
        for r in case.replies
    ]


def _commitment_rows(case: CaseState) -> list[Commitment]:
    def status(fulfilled: bool, missed: bool) -> str:
        return "已兑现" if fulfilled else "逾期" if missed else "未兑现"

    return [
        Commitment(
            suggestion_id=case.id, number=c.number, round=c.round, text=c.text, promised_date=c.promised_date,
            status=status(c.fulfilled, c.missed), fulfilled_at=to_db(c.fulfilled_at), fulfilment=c.fulfilment,
        )
        for c in case.commitments
    ]


def _escalation_rows(case: CaseState) -> list[Escalation]:
    rectify = case.deadlines.get("rectify")
    return [
        Escalation(
            suggestion_id=case.id, number=e.number, reason=e.reason, escalated_at=to_db(e.escalated_at), steps=list(e.steps),
            rectify_due=to_db(rectify.due_at) if rectify and e.open and e.steps else None,
            resolution=e.resolution, resolved_at=to_db(e.resolved_at),
        )
        for e in case.escalations
    ]


def store_deadlines(db: DbSession, t: Transition, computed: dict[str, ComputedDeadline], case: CaseState) -> None:
    """Keep every computed deadline; the newest of each kind still in the case is the current one."""
    for kind, d in computed.items():
        db.add(
            DeadlineRow(
                suggestion_id=t.suggestion_id, seq=t.seq, kind=kind, due_at=to_db(d.due_at), last_day=d.last_day,
                start=to_db(d.start), rule=d.rule, unit=d.unit.value, explanation=d.explanation,
                skipped=[s.model_dump(mode="json") for s in d.skipped], calendar_version=d.calendar_version,
                provisional=d.provisional, computed_at=to_db(t.at), current=False,
            )
        )
    db.flush()
    mark_current(db, t.suggestion_id, case)


def mark_current(db: DbSession, suggestion_id: str, case: CaseState) -> None:
    rows = list(db.exec(select(DeadlineRow).where(DeadlineRow.suggestion_id == suggestion_id).order_by(DeadlineRow.id)))
    latest = {r.kind: r.id for r in rows}
    for r in rows:
        current = r.kind in case.deadlines and latest[r.kind] == r.id
        if r.current != current:
            r.current = current
            db.add(r)
