"""The records activity: one transition = one transaction (projection + audit + outbox).

A write is keyed by the transition's seq *and* its content (models/audit.transition_hash):
the same content again is a retry and writes nothing; different content at a seq already
written means the earlier write belonged to a workflow task that never completed, so it is
replaced inside this transaction — its audit event, deadlines, reminders and unsent notices —
and the replacement says so in its own event. The projection is written from the whole case.
"""

from __future__ import annotations

import json
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, delete, insert
from sqlmodel import Session as DbSession
from sqlmodel import select
from temporalio import activity

from jianyi.activities.calendar import compute_requested, load_calendar
from jianyi.activities.outbox import admin_notices, enqueue, message_context
from jianyi.activities.projection import mark_current, project, projection_of, store_deadlines
from jianyi.models.audit import GENESIS, event_hash, hashed_fields, transition_hash
from jianyi.models.calendar import WorkCalendar
from jianyi.models.case import AdminNoticeRequest, Recorded, Transition
from jianyi.models.db import session_for, to_db
from jianyi.models.notices import old_news
from jianyi.models.policy import ComputedDeadline
from jianyi.models.tables import AuditEvent, DeadlineRow, Outbox, Reminder
from jianyi.settings import Settings


class RecordActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @activity.defn(name="record_transition")
    def record_transition(self, t: Transition) -> Recorded:
        content = transition_hash(t)
        with session_for(self.settings.db_url) as db:
            written = db.connection().execute(_WRITTEN, {"sid": t.suggestion_id, "seq": t.seq}).first()
            done = db.get_one(AuditEvent, written.id) if written is not None else None
            if done is not None and done.content_hash in (content, ""):
                return _replayed(db, done)
            replaced = _undo(db, t, done) if done is not None else None
            recorded = self._write(db, t, content, replaced)
            db.commit()
            return recorded

    def _write(self, db: DbSession, t: Transition, content: str, replaced: dict[str, Any] | None) -> Recorded:
        # the calendar only when a deadline is computed or a notice is held to working hours
        calendar = load_calendar(db) if t.deadlines or (t.messages and self.settings.quiet_hours) else WorkCalendar()
        deadlines = compute_requested(t.deadlines, t.case.policy, calendar)
        merged = {**t.case.deadlines, **deadlines}
        case = t.case.model_copy(update={"deadlines": {k: d for k, d in merged.items() if k not in t.drop_deadlines}})
        # what is read comes first: SQLite lets one connection write at a time, from its first write to the commit
        prev, projected = chain_head(db, t.suggestion_id), projection_of(db, t.suggestion_id)
        context = message_context(case, self.settings)
        outbox_ids, deliver_at = enqueue(db, self.settings, calendar, t.suggestion_id, t.at, t.messages, context, seq=t.seq,
                                         happened_at=_happened(t))
        store_deadlines(db, t, deadlines, case)
        if t.reminder:
            _store_reminders(db, t)
        payload = dict(t.payload)
        if deadlines:
            payload["deadlines"] = {k: d.model_dump(mode="json") for k, d in deadlines.items()}
        if outbox_ids and deliver_at > t.at:
            payload["held_until"] = deliver_at.isoformat()
        if outbox_ids and old_news(_happened(t), t.at):
            payload["notices_withheld"] = len(outbox_ids)
        if replaced:
            payload["replaced"] = replaced
        chain = append_event(db, t, payload, content, prev)
        project(db, case, t.effective_at, chain=chain, found=projected)
        return Recorded(deadlines=deadlines, outbox_ids=outbox_ids, deliver_at=deliver_at, seq=t.seq, key=t.key,
                        content_hash=content, replaced=replaced is not None)

    @activity.defn(name="record_admin_notice")
    def record_admin_notice(self, r: AdminNoticeRequest) -> Recorded:
        """Outbox rows that kept failing: tell the admin (never drop silently); idempotent by key."""
        with session_for(self.settings.db_url) as db:
            notices = admin_notices(db, self.settings, r.failed_ids, r.error)
            base = {"link": f"{self.settings.base_url.rstrip('/')}/outbox?failed=1"}
            ids, deliver_at = enqueue(db, self.settings, load_calendar(db), r.source_id, r.at, notices, base)
            db.commit()
            return Recorded(outbox_ids=ids, deliver_at=deliver_at)


def _happened(t: Transition) -> datetime:
    """When what a transition tells of happened: a step's own time (a 补录's, when it was on paper), and for an
    evaluation window found ended late (a year imported as history), the window's end."""
    return t.reminder.due_at if t.action == "expire_evaluation" and t.reminder is not None else t.effective_at


def _replayed(db: DbSession, done: AuditEvent) -> Recorded:
    """What the first attempt of this very write computed (a retry returns it, writing nothing)."""
    deadlines = {k: ComputedDeadline.model_validate(v) for k, v in done.payload.get("deadlines", {}).items()}
    q = select(Outbox.id).where(Outbox.suggestion_id == done.suggestion_id)
    q = q.where(Outbox.seq == done.seq) if done.content_hash else q.where(Outbox.created_at == done.at)
    ids = [i for i in db.exec(q) if i is not None]
    return Recorded(deadlines=deadlines, outbox_ids=ids, deliver_at=done.payload.get("held_until"), seq=done.seq,
                    key=done.key, content_hash=done.content_hash)


def _undo(db: DbSession, t: Transition, done: AuditEvent) -> dict[str, Any]:
    """Remove what a write that never became part of the workflow's history left behind."""
    sid, seq = t.suggestion_id, t.seq
    gone = {"seq": done.seq, "action": done.action, "actor": done.actor, "key": done.key,
            "content_hash": done.content_hash, "hash": done.hash}
    sent = list(db.exec(select(Outbox.id).where(Outbox.suggestion_id == sid, Outbox.seq >= seq, Outbox.status == "sent")))
    if sent:
        gone["sent_before_replaced"] = sent  # a notice that already left cannot be called back: say so
    for table in (AuditEvent, DeadlineRow, Reminder):
        db.exec(delete(table).where(table.suggestion_id == sid, table.seq >= seq))  # type: ignore[attr-defined]
    db.exec(delete(Outbox).where(Outbox.suggestion_id == sid, Outbox.seq >= seq, Outbox.status != "sent"))  # type: ignore[arg-type]
    db.flush()
    mark_current(db, sid, t.case)
    return gone


_WRITTEN = select(AuditEvent.id).where(AuditEvent.suggestion_id == bindparam("sid"), AuditEvent.seq == bindparam("seq"))
_CHAIN_HEAD = select(AuditEvent.hash).where(AuditEvent.suggestion_id == bindparam("sid")).order_by(AuditEvent.seq.desc()).limit(1)  # type: ignore[attr-defined]


def chain_head(db: DbSession, suggestion_id: str) -> str | None:
    """The hash of the suggestion's newest audit event (None before its first)."""
    return db.connection().execute(_CHAIN_HEAD, {"sid": suggestion_id}).scalar()


def append_event(db: DbSession, t: Transition, payload: dict[str, Any], content: str, prev: str | None) -> tuple[int, str]:
    """Write the transition's audit event, linked to ``prev``; returns the chain's new head (seq, hash)."""
    event = dict(
        suggestion_id=t.suggestion_id, seq=t.seq, actor=t.actor, role=t.role, action=t.action,
        from_state=t.from_state, to_state=t.to_state, payload=_jsonable(payload),
        at=to_db(t.at), effective_at=to_db(t.effective_at), prev_hash=prev or GENESIS,
        key=t.key, content_hash=content,
    )
    # the row's fields as the table's (no model instance: this runs for every transition)
    event["hash"] = event_hash(event["prev_hash"], hashed_fields(SimpleNamespace(**event)))  # type: ignore[arg-type]
    db.connection().execute(_INSERT_EVENT, event)
    return t.seq, event["hash"]


_INSERT_EVENT = insert(AuditEvent)


def _jsonable(payload: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(payload, ensure_ascii=False, default=str))


def _store_reminders(db: DbSession, t: Transition) -> None:
    """The agenda item fired, and the stale ones of its group that were skipped with it."""
    r = t.reminder
    assert r is not None
    rows = [dict(suggestion_id=t.suggestion_id, kind=item.kind, cycle=item.cycle, due_at=to_db(item.due_at), fired_at=to_db(t.at),
                 skipped=skipped, seq=t.seq) for item, skipped in [(r, False), *((s, True) for s in r.stale)]]
    db.connection().execute(insert(Reminder), rows)


__all__ = ["RecordActivities", "append_event"]
