"""The admin log: changes to the directory, accounts and settings, hash-chained like a case's audit.

Its events sit in the audit table under the chain id ``admin-log`` so that `jianyi audit verify`
checks them with every suggestion's chain.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session as DbSession
from sqlmodel import select

from jianyi.models.audit import GENESIS, event_hash, hashed_fields
from jianyi.models.db import to_db
from jianyi.models.tables import AuditEvent

CHAIN = "admin-log"


def record_admin_event(db: DbSession, actor: str, role: str, action: str, payload: dict[str, Any]) -> AuditEvent:
    """Append one event to the admin log inside the caller's transaction (it commits)."""
    prev = db.exec(select(AuditEvent).where(AuditEvent.suggestion_id == CHAIN).order_by(AuditEvent.seq.desc()).limit(1)).first()  # type: ignore[attr-defined]
    now = to_db(datetime.now(UTC))
    event = AuditEvent(
        suggestion_id=CHAIN, seq=(prev.seq + 1) if prev else 1, actor=actor, role=role, action=action,
        from_state="", to_state="", payload=payload, at=now, effective_at=now,
        prev_hash=prev.hash if prev else GENESIS, hash="", key=f"admin:{action}",
    )
    event.hash = event_hash(event.prev_hash, hashed_fields(event))
    db.add(event)
    return event
