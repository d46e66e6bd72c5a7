"""The records activity: one transition = one transaction (projection + audit + outbox).

Idempotent: the audit event's (suggestion, seq) is unique, so a retry after a commit finds it
and returns what the first attempt computed, writing nothing twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, time
from typing import Any

from sqlmodel import Session as DbSession
from sqlmodel import select
from temporalio import activity

from jianyi.activities.calendar import compute_requested, load_calendar
from jianyi.activities.channels import contact_address
from jianyi.activities.messages import render, templates_for
from jianyi.models.calendar import WorkCalendar
from jianyi.models.case import CaseState, MessageRequest, Recipient, Recorded, Transition
from jianyi.models.db import session_for, to_db
from jianyi.models.policy import Deadline, delivery_time
from jianyi.models.tables import (
    Assignment,
    AuditEvent,
    Commitment,
    CommitmentProgress,
    Contact,
    Deputy,
    Escalation,
    Evaluation,
    HandlingUnit,
    Outbox,
    Reminder,
    Reply,
    Suggestion,
)
from jianyi.models.tables import Deadline as DeadlineRow
from jianyi.settings import Settings

GENESIS = "0" * 64


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """The chain link: sha256 of the previous hash and the event's canonical JSON."""
    canonical = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def hashed_fields(e: AuditEvent) -> dict[str, Any]:
    return {
        "suggestion_id": e.suggestion_id,
        "seq": e.seq,
        "actor": e.actor,
        "role": e.role,
        "action": e.action,
        "from": e.from_state,
        "to": e.to_state,
        "payload": e.payload,
        "at": e.at.isoformat(),
        "effective_at": e.effective_at.isoformat(),
    }


class RecordActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @activity.defn(name="record_transition")
    def record_transition(self, t: Transition) -> Recorded:
        with session_for(self.settings.db_url) as db:
            done = db.exec(
                select(AuditEvent).where(AuditEvent.suggestion_id == t.suggestion_id, AuditEvent.seq == t.seq)
            ).first()
            if done is not None:
                return _replayed(db, done)
            calendar = load_calendar(db)
            deadlines = compute_requested(t.deadlines, t.case.policy, calendar)
            case = t.case.model_copy(deep=True)
            case.deadlines.update(deadlines)
            for kind in t.drop_deadlines:
                case.deadlines.pop(kind, None)
            project(db, case, t.effective_at)
            for kind, d in deadlines.items():
                _store_deadline(db, t, kind, d)
            ROWS.get(t.action, _no_rows)(db, t, case)
            if t.reminder:
                _store_reminder(db, t)
            context = message_context(case, self.settings)
            outbox_ids, deliver_at = enqueue(db, self.settings, calendar, t.suggestion_id, t.at, t.messages, context)
            payload = dict(t.payload)
            if deadlines:
                payload["deadlines"] = {k: d.model_dump(mode="json") for k, d in deadlines.items()}
            if outbox_ids and deliver_at > t.at:
                payload["held_until"] = deliver_at.isoformat()
            _append_event(db, t, payload)
            db.commit()
            return Recorded(deadlines=deadlines, outbox_ids=outbox_ids, deliver_at=deliver_at)

    @activity.defn(name="record_admin_notice")
    def record_admin_notice(self, source_id: str, failed_ids: list[int], at: datetime, error: str) -> Recorded:
        """Outbox rows that kept failing: tell the admin (never drop silently); idempotent by key."""
        with session_for(self.settings.db_url) as db:
            rows = [db.get(Outbox, i) for i in failed_ids]
            notices = [
                MessageRequest(
                    kind="admin_notice",
                    cycle=f"outbox-{row.id}",
                    recipients=[Recipient(kind="admin", name=self.settings.admin_name)],
                    context={
                        "recipient": row.recipient,
                        "channel": row.channel,
                        "subject": row.subject,
                        "error": row.last_error or error,
                        "attempts": row.attempts,
                    },
                )
                for row in rows
                if row is not None and row.status != "sent"
            ]
            base = {"link": f"{self.settings.base_url.rstrip('/')}/outbox?failed=1"}
            ids, deliver_at = enqueue(db, self.settings, load_calendar(db), source_id, at, notices, base)
            db.commit()
            return Recorded(outbox_ids=ids, deliver_at=deliver_at)


def enqueue(
    db: DbSession,
    settings: Settings,
    calendar: WorkCalendar,
    source_id: str,
    at: datetime,
    messages: list[MessageRequest],
    context: dict[str, Any],
    quiet: bool = True,
) -> tuple[list[int], datetime]:
    """Write one outbox row per message and recipient (existing keys are kept, not doubled).

    Returns the row ids and when they may be delivered (quiet rules: working hours only).
    """
    deliver_at = (
        delivery_time(at, calendar, work_hour(settings.work_start), work_hour(settings.work_end))
        if settings.quiet_hours and quiet
        else at
    )
    held = deliver_at > at
    ids: list[int] = []
    for message in messages:
        ctx = {**context, **message.context}
        for r in message.recipients:
            existing = db.exec(
                select(Outbox).where(
                    Outbox.suggestion_id == source_id,
                    Outbox.recipient == r.name,
                    Outbox.kind == message.kind,
                    Outbox.cycle == message.cycle,
                )
            ).first()
            if existing is not None:
                ids.append(existing.id)  # type: ignore[arg-type]
                continue
            address, channel = _address(db, r.name)
            subject, body = render(message.kind, r.name, ctx, templates_for(settings))
            row = Outbox(
                suggestion_id=source_id,
                recipient=r.name,
                address=address,
                channel=channel,
                kind=message.kind,
                cycle=message.cycle,
                subject=subject,
                body=body,
                created_at=to_db(at),
                status=("held" if held else "pending") if address else "no_address",
                hold_until=to_db(deliver_at) if held else None,
            )
            db.add(row)
            db.flush()
            ids.append(row.id)  # type: ignore[arg-type]
    return ids, deliver_at


def work_hour(text: str) -> time:
    return time.fromisoformat(text)


def _replayed(db: DbSession, done: AuditEvent) -> Recorded:
    deadlines = {k: Deadline.model_validate(v) for k, v in done.payload.get("deadlines", {}).items()}
    ids = db.exec(
        select(Outbox.id).where(Outbox.suggestion_id == done.suggestion_id, Outbox.created_at == done.at)
    ).all()
    return Recorded(deadlines=deadlines, outbox_ids=[i for i in ids if i is not None], deliver_at=done.payload.get("held_until"))


def _append_event(db: DbSession, t: Transition, payload: dict[str, Any]) -> None:
    prev = db.exec(
        select(AuditEvent).where(AuditEvent.suggestion_id == t.suggestion_id).order_by(AuditEvent.seq.desc())  # type: ignore[attr-defined]
    ).first()
    event = AuditEvent(
        suggestion_id=t.suggestion_id,
        seq=t.seq,
        actor=t.actor,
        role=t.role,
        action=t.action,
        from_state=t.from_state,
        to_state=t.to_state,
        payload=json.loads(json.dumps(payload, ensure_ascii=False, default=str)),
        at=to_db(t.at),
        effective_at=to_db(t.effective_at),
        prev_hash=prev.hash if prev else GENESIS,
        hash="",
    )
    event.hash = event_hash(event.prev_hash, hashed_fields(event))
    db.add(event)


def project(db: DbSession, case: CaseState, at: datetime) -> None:
    """Write the case's current picture into its ``Suggestion`` row (a full overwrite)."""
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
    row.submitted_at, row.assigned_at = to_db(case.submitted_at), to_db(case.assigned_at)
    row.sign_due = to_db(dl["sign"].due_at) if "sign" in dl else None
    row.reply_due = to_db(handling.due_at) if handling else None
    row.co_opinion_due = to_db(dl["co_opinion"].due_at) if "co_opinion" in dl else None
    row.evaluation_due = to_db(dl["evaluation"].due_at) if "evaluation" in dl else None
    row.assign_due = to_db(dl["assign"].due_at) if "assign" in dl else None
    row.provisional_deadlines = any(d.provisional for d in dl.values())
    if case.state == "closed" and row.closed_at is None:
        row.closed_at = to_db(at)
    row.updated_at = to_db(at)
    db.add(row)


def _store_deadline(db: DbSession, t: Transition, kind: str, d: Deadline) -> None:
    """Keep every computed deadline; the newest of each kind is the current one."""
    for old in db.exec(
        select(DeadlineRow).where(
            DeadlineRow.suggestion_id == t.suggestion_id, DeadlineRow.kind == kind, DeadlineRow.current == True  # noqa: E712
        )
    ):
        old.current = False
        db.add(old)
    db.add(
        DeadlineRow(
            suggestion_id=t.suggestion_id,
            kind=kind,
            due_at=to_db(d.due_at),
            last_day=d.last_day,
            start=to_db(d.start),
            rule=d.rule,
            unit=d.unit.value,
            explanation=d.explanation,
            skipped=[s.model_dump(mode="json") for s in d.skipped],
            calendar_version=d.calendar_version,
            provisional=d.provisional,
            computed_at=to_db(t.at),
        )
    )


def _store_reminder(db: DbSession, t: Transition) -> None:
    """The agenda item fired, and the stale ones of its group that were skipped with it."""
    r = t.reminder or {}
    for item, skipped in [(r, False), *((s, True) for s in r.get("stale", []))]:
        db.add(
            Reminder(
                suggestion_id=t.suggestion_id,
                kind=item["kind"],
                cycle=item["cycle"],
                due_at=to_db(datetime.fromisoformat(str(item["due_at"]))),
                fired_at=to_db(t.at),
                skipped=skipped,
            )
        )


def _address(db: DbSession, name: str) -> tuple[str, str]:
    """(address, channel) of a unit or deputy, from its record: the channel it chose and its address there."""
    found: HandlingUnit | Deputy | None = db.exec(select(HandlingUnit).where(HandlingUnit.name == name)).first()
    if found is None:
        found = db.exec(select(Deputy).where(Deputy.name == name)).first()
    if found is None:
        return "", "email"
    channel = found.channel or "email"
    return contact_address(channel, found.email, found.webhook_url, found.phone), channel


def message_context(case: CaseState, settings: Settings) -> dict[str, Any]:
    s = case.submission
    ctx: dict[str, Any] = {
        "number": s.display_number,
        "title": s.title,
        "lead_deputy": s.lead_deputy + (f"等{len(s.co_signers) + 1}位代表" if s.co_signers else ""),
        "lead_unit": case.lead_unit,
        "state_label": case.state_label,
        "link": f"{settings.base_url.rstrip('/')}/suggestions/{case.id}",
        "grace": case.policy.overdue_escalation_workdays,
    }
    for kind, d in case.deadlines.items():
        ctx[f"{kind}_due"] = d.display_due()
    handling = case.handling_deadline
    if case.state in ("replied",) and "evaluation" in case.deadlines:
        handling = case.deadlines["evaluation"]
    if handling:
        ctx["deadline"] = handling.display_due()
        ctx["explanation"] = handling.explanation
    return ctx


# -- rows an action writes besides the projection and the audit event ------------------------
def _no_rows(db: DbSession, t: Transition, case: CaseState) -> None:
    return None


def _active_assignments(db: DbSession, suggestion_id: str, unit: str | None = None, role: str | None = None) -> list[Assignment]:
    """The current assignments of a suggestion (optionally of one unit, or of one role)."""
    q = select(Assignment).where(Assignment.suggestion_id == suggestion_id, Assignment.active == True)  # noqa: E712
    if unit is not None:
        q = q.where(Assignment.unit == unit)
    if role is not None:
        q = q.where(Assignment.role == role)
    return list(db.exec(q))


def _assignments(db: DbSession, t: Transition, case: CaseState) -> None:
    for old in _active_assignments(db, t.suggestion_id):
        old.active = False
        db.add(old)
    due = case.handling_deadline
    for unit, role in [(case.lead_unit, "主办"), *((u, "协办") for u in case.co_handlers)]:
        db.add(
            Assignment(
                suggestion_id=t.suggestion_id,
                unit=unit,
                role=role,
                assigned_at=to_db(t.effective_at),
                due_at=to_db(due.due_at) if due else None,
            )
        )


def _adjustment(db: DbSession, t: Transition, case: CaseState) -> None:
    if t.payload.get("decision") == "approve":
        _assignments(db, t, case)


def _sign(db: DbSession, t: Transition, case: CaseState) -> None:
    for row in _active_assignments(db, t.suggestion_id, unit=case.lead_unit):
        row.signed_at = to_db(t.effective_at)
        db.add(row)
    sug = db.get(Suggestion, t.suggestion_id)
    if sug:
        sug.signed_at = to_db(t.effective_at)


def _extension(db: DbSession, t: Transition, case: CaseState) -> None:
    due = case.handling_deadline
    for row in _active_assignments(db, t.suggestion_id, role="主办"):
        row.due_at = to_db(due.due_at) if due else row.due_at
        db.add(row)


def _contact(db: DbSession, t: Transition, case: CaseState) -> None:
    p = t.payload
    db.add(
        Contact(
            suggestion_id=t.suggestion_id,
            round=case.round,
            unit=t.payload.get("by", case.lead_unit),
            method=p["method"],
            on=datetime.fromisoformat(str(p["on"])).date(),
            note=p.get("note", ""),
            recorded_at=to_db(t.effective_at),
        )
    )


def _opinion(db: DbSession, t: Transition, case: CaseState) -> None:
    for row in _active_assignments(db, t.suggestion_id, unit=t.payload.get("by", "")):
        row.opinion, row.opinion_at = t.payload["text"], to_db(t.effective_at)
        db.add(row)


def _reply(db: DbSession, t: Transition, case: CaseState) -> None:
    p = t.payload
    db.add(
        Reply(
            suggestion_id=t.suggestion_id,
            round=case.round,
            unit=case.lead_unit,
            reply_class=p["reply_class"],
            text=p["text"],
            signed_by=p["signed_by"],
            replied_at=to_db(t.effective_at),
            on_time=case.replies_on_time[-1] if case.replies_on_time else True,
            review_status="待审核" if t.to_state == "reply_review" else "无需审核",
        )
    )
    for c in case.commitments:
        if c.round == case.round and not db.exec(
            select(Commitment).where(Commitment.suggestion_id == t.suggestion_id, Commitment.number == c.number)
        ).first():
            db.add(Commitment(suggestion_id=t.suggestion_id, number=c.number, round=c.round, text=c.text, promised_date=c.promised_date))
    sug = db.get(Suggestion, t.suggestion_id)
    if sug:
        sug.replied_at = to_db(t.effective_at)


def _reply_review(db: DbSession, t: Transition, case: CaseState) -> None:
    row = db.exec(
        select(Reply).where(Reply.suggestion_id == t.suggestion_id).order_by(Reply.id.desc())  # type: ignore[union-attr]
    ).first()
    if row:
        row.review_status = "已通过" if t.payload.get("decision") == "approve" else "已退回"
        row.reviewed_at = to_db(t.effective_at)
        db.add(row)


def _evaluation(db: DbSession, t: Transition, case: CaseState) -> None:
    p = t.payload
    silent = t.action == "expire_evaluation"
    db.add(
        Evaluation(
            suggestion_id=t.suggestion_id,
            round=case.round if t.to_state != "rehandling" else case.round - 1,
            deputy=case.submission.lead_deputy,
            work="未表态" if silent else p["work"],
            result="未表态" if silent else p["result"],
            comment=p.get("comment", ""),
            evaluated_at=to_db(t.effective_at),
        )
    )
    if t.to_state == "escalated":
        _escalation(db, t, "评价不满意（已达最多办理轮次）")


def _escalation(db: DbSession, t: Transition, reason: str) -> None:
    db.add(Escalation(suggestion_id=t.suggestion_id, reason=reason, escalated_at=to_db(t.effective_at)))


def _resolve(db: DbSession, t: Transition, case: CaseState) -> None:
    row = db.exec(
        select(Escalation).where(Escalation.suggestion_id == t.suggestion_id, Escalation.resolved_at == None)  # noqa: E711
    ).first()
    if row:
        row.resolution = ("责令重新办理：" if t.payload["decision"] == "rehandle" else "按未解决办结：") + t.payload.get("comment", "")
        row.resolved_at = to_db(t.effective_at)
        db.add(row)


def _fulfil(db: DbSession, t: Transition, case: CaseState) -> None:
    row = db.exec(
        select(Commitment).where(Commitment.suggestion_id == t.suggestion_id, Commitment.number == t.payload["number"])
    ).first()
    if row:
        row.status, row.fulfilled_at, row.fulfilment = "已兑现", to_db(t.effective_at), t.payload["text"]
        db.add(row)


def _agenda(db: DbSession, t: Transition, case: CaseState) -> None:
    kind = (t.reminder or {}).get("kind", "")
    if kind == "overdue_escalation":
        _escalation(db, t, "逾期未答复")
    elif kind == "commitment_missed":
        _escalation(db, t, "承诺事项逾期未兑现")
        number = (t.reminder or {}).get("number")
        row = db.exec(select(Commitment).where(Commitment.suggestion_id == t.suggestion_id, Commitment.number == number)).first()
        if row:
            row.status = "逾期"
            db.add(row)


def _progress(db: DbSession, t: Transition, case: CaseState) -> None:
    p = t.payload
    db.add(
        CommitmentProgress(
            suggestion_id=t.suggestion_id,
            number=p["number"],
            period=p.get("period", ""),
            text=p["text"],
            reported_by=p.get("by", ""),
            reported_at=to_db(t.effective_at),
        )
    )


ROWS: dict[str, Callable[[DbSession, Transition, CaseState], None]] = {
    "report_progress": _progress,
    "assign": _assignments,
    "decide_adjustment": _adjustment,
    "sign": _sign,
    "decide_extension": _extension,
    "record_contact": _contact,
    "co_opinion": _opinion,
    "reply": _reply,
    "review_reply": _reply_review,
    "evaluate": _evaluation,
    "expire_evaluation": _evaluation,
    "resolve_escalation": _resolve,
    "fulfil_commitment": _fulfil,
    "agenda": _agenda,
}

