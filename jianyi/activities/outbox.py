"""The outbox: one row per message and recipient, keyed so that a retry or a re-fire never sends
twice; addressed from the directory (the channel each unit or deputy chose)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import bindparam, insert
from sqlmodel import Session as DbSession
from sqlmodel import select

from jianyi.activities.messages import render, templates_for
from jianyi.models.calendar import WorkCalendar
from jianyi.models.case import CaseState, MessageRequest, Recipient
from jianyi.models.contacts import contact_address
from jianyi.models.db import to_db
from jianyi.models.notices import old_news
from jianyi.models.policy import delivery_time
from jianyi.models.tables import Deputy, HandlingUnit, Outbox, Supervisor
from jianyi.settings import Settings


def enqueue(
    db: DbSession,
    settings: Settings,
    calendar: WorkCalendar,
    source_id: str,
    at: datetime,
    messages: list[MessageRequest],
    context: dict[str, Any],
    quiet: bool = True,
    seq: int = 0,
    happened_at: datetime | None = None,
) -> tuple[list[int], datetime]:
    """Write one outbox row per message and recipient (existing keys are kept, not doubled).

    Returns the row ids and when they may be delivered (quiet rules: working hours only). The notices of
    a step that happened long before it was recorded (补录) are written as not sent, saying why.
    """
    withheld = old_news(happened_at, at) if happened_at is not None else ""
    deliver_at = (
        delivery_time(at, calendar, work_hour(settings.work_start), work_hour(settings.work_end))
        if settings.quiet_hours and quiet and not withheld
        else at
    )
    held = deliver_at > at
    ids: list[int] = []
    for message in messages:
        ctx = {**context, **message.context}
        for r in message.recipients:
            name = settings.admin_name if r.kind == "admin" else r.name
            key = {"sid": source_id, "recipient": name, "kind": message.kind, "cycle": message.cycle}
            existing = db.connection().execute(_EXISTING, key).scalar()
            if existing is not None:
                ids.append(existing)
                continue
            address, channel = address_of(db, name)
            subject, body = render(message.kind, name, ctx, templates_for(settings))
            status = "skipped" if withheld else ("held" if held else "pending") if address else "no_address"
            row = Outbox(
                suggestion_id=source_id, recipient=name, address=address, channel=channel,
                kind=message.kind, cycle=message.cycle, subject=subject, body=body, created_at=to_db(at), seq=seq,
                status=status, hold_until=to_db(deliver_at) if held else None, last_error=withheld,
            )
            ids.append(db.connection().execute(_INSERT, row.model_dump(exclude={"id"})).scalar_one())
    return ids, deliver_at


_EXISTING = select(Outbox.id).where(
    Outbox.suggestion_id == bindparam("sid"), Outbox.recipient == bindparam("recipient"),
    Outbox.kind == bindparam("kind"), Outbox.cycle == bindparam("cycle"),
)
_INSERT = insert(Outbox).returning(Outbox.id)


def work_hour(text: str) -> time:
    return time.fromisoformat(text)


def address_of(db: DbSession, name: str) -> tuple[str, str]:
    """(address, channel) of a unit, deputy or supervisor, from its record: the channel it chose."""
    for query in _ADDRESSES:
        found = db.connection().execute(query, {"name": name}).first()
        if found is not None:
            channel = found.channel or "email"
            return contact_address(channel, found.email, found.webhook_url, found.phone), channel
    return "", "email"


_ADDRESSES = [
    select(t.channel, t.email, t.webhook_url, t.phone).where(t.name == bindparam("name"))  # type: ignore[attr-defined]
    for t in (HandlingUnit, Deputy, Supervisor)
]


def message_context(case: CaseState, settings: Settings) -> dict[str, Any]:
    """What every message of a case may name: number, title, deputies, deadline and its explanation, link."""
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
    if case.state == "replied" and "evaluation" in case.deadlines:
        handling = case.deadlines["evaluation"]
    if handling:
        ctx["deadline"] = handling.display_due()
        ctx["explanation"] = handling.explanation
    return ctx


def admin_notices(db: DbSession, settings: Settings, failed_ids: list[int], error: str) -> list[MessageRequest]:
    """One notice to the admin per outbox row that kept failing (never dropped silently)."""
    rows = [db.get(Outbox, i) for i in failed_ids]
    return [
        MessageRequest(
            kind="admin_notice",
            cycle=f"outbox-{row.id}",
            recipients=[Recipient(kind="admin", name=settings.admin_name)],
            context={"recipient": row.recipient, "channel": row.channel, "subject": row.subject,
                     "error": row.last_error or error, "attempts": row.attempts},
        )
        for row in rows
        if row is not None and row.status != "sent"
    ]
