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


def transition_hash(t: Transition) -> str:
    """What a transition is: the same key and content is the same write (a retry), anything
    else at the same seq is a different one (the earlier belonged to a task that never completed)."""
    fields = {
        "suggestion_id": t.suggestion_id,
        "seq": t.seq,
        "key": t.key,
        "actor": t.actor,
        "role": t.role,
        "action": t.action,
        "from": t.from_state,
        "to": t.to_state,
        "payload": t.payload,
        "at": t.at.isoformat(),
        "effective_at": t.effective_at.isoformat(),
    }
    return hashlib.sha256(canonical(fields).encode()).hexdigest()
