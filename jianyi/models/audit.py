"""The audit chain: each event's hash links it to the one before (per suggestion), and a
transition's content hash tells a retry of the same write from a different one.

Pure: hashing only; the records activity writes, `jianyi audit verify` reads.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from jianyi.models.case import Transition
from jianyi.models.tables import AuditEvent

GENESIS = "0" * 64


def canonical(fields: dict[str, Any]) -> str:
    return json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """The chain link: sha256 of the previous hash and the event's canonical JSON."""
    return hashlib.sha256((prev_hash + canonical(fields)).encode()).hexdigest()


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


# What the records activity adds to a transition's payload in its audit event (not part of its identity).
RECORDED_EXTRAS = ("deadlines", "held_until", "replaced")


def transition_hash(t: Transition) -> str:
    """What a transition is: the same key and content is the same write (a retry), anything
    else at the same seq is a different one (the earlier belonged to a task that never completed)."""
    return _content_hash(t.suggestion_id, t.seq, t.key, t.actor, t.role, t.action, t.from_state, t.to_state, t.payload, t.at, t.effective_at)


def event_content_hash(e: AuditEvent) -> str:
    """The content hash an audit event's own fields give: `audit verify --deep` compares it with
    the hash the workflow's history recorded, so an edited event is caught even if re-chained."""
    payload = {k: v for k, v in e.payload.items() if k not in RECORDED_EXTRAS}
    return _content_hash(e.suggestion_id, e.seq, e.key, e.actor, e.role, e.action, e.from_state, e.to_state, payload, e.at, e.effective_at)


def _content_hash(sid: str, seq: int, key: str, actor: str, role: str, action: str, source: str, dest: str,
                  payload: dict[str, Any], at: Any, effective_at: Any) -> str:
    fields = {
        "suggestion_id": sid, "seq": seq, "key": key, "actor": actor, "role": role, "action": action,
        "from": source, "to": dest, "payload": json.loads(canonical(payload)),
        "at": at.isoformat(), "effective_at": effective_at.isoformat(),
    }
    return hashlib.sha256(canonical(fields).encode()).hexdigest()
