"""The audit chain: each event's hash links it to the one before (per suggestion), and a
transition's content hash tells a retry of the same write from a different one.

Pure: hashing only; the records activity writes, `jianyi audit verify` reads.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from jianyi.models.case import Transition
from jianyi.models.tables import AuditEvent

GENESIS = "0" * 64
ANCHOR_FORMAT = "jianyi-audit-anchor/1"
MIN_KEY_BYTES = 32


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
RECORDED_EXTRAS = ("deadlines", "held_until", "replaced", "notices_withheld")


def transition_hash(t: Transition) -> str:
    """What a transition is: the same key and content is the same write (a retry), anything
    else at the same seq is a different one (the earlier belonged to a task that never completed)."""
    return _content_hash(t.suggestion_id, t.seq, t.key, t.actor, t.role, t.action, t.from_state, t.to_state, t.payload, t.at, t.effective_at)


def event_content_hash(e: AuditEvent, zone: tzinfo = UTC) -> str:
    """The content hash an audit event's own fields give: `audit verify --deep` compares it with
    the hash the workflow's history recorded, so an edited event is caught even if re-chained.
    (``zone``: how versions before 2026-12-05 wrote a 补录's time into the hash, as it was typed.)"""
    payload = {k: v for k, v in e.payload.items() if k not in RECORDED_EXTRAS}
    return _content_hash(e.suggestion_id, e.seq, e.key, e.actor, e.role, e.action, e.from_state, e.to_state, payload, e.at,
                         e.effective_at, zone)


def _content_hash(sid: str, seq: int, key: str, actor: str, role: str, action: str, source: str, dest: str,
                  payload: dict[str, Any], at: datetime, effective_at: datetime, zone: tzinfo = UTC) -> str:
    fields = {
        "suggestion_id": sid, "seq": seq, "key": key, "actor": actor, "role": role, "action": action,
        "from": source, "to": dest, "payload": json.loads(canonical(payload)),
        "at": _moment(at, UTC), "effective_at": _moment(effective_at, zone),
    }
    return hashlib.sha256(canonical(fields).encode()).hexdigest()


def _moment(value: datetime, zone: tzinfo) -> str:
    """One string for one moment, whatever zone it came in (a 补录's Beijing time, the records' UTC)."""
    return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).astimezone(zone).isoformat()


@dataclass(frozen=True)
class Head:
    """Where a suggestion's chain ended when it was anchored."""

    suggestion_id: str
    seq: int
    hash: str


class AnchorError(ValueError):
    """An anchor file that cannot be trusted or read; ``message`` is Chinese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def sign_anchor(heads: list[Head], key: bytes, made_at: str) -> dict[str, Any]:
    """The anchor document: the heads, when they were taken, and the HMAC-SHA256 over both."""
    body = {
        "format": ANCHOR_FORMAT,
        "made_at": made_at,
        "heads": [{"suggestion_id": h.suggestion_id, "seq": h.seq, "hash": h.hash} for h in heads],
    }
    return body | {"hmac_sha256": hmac.new(key, _canonical(body), hashlib.sha256).hexdigest()}


def open_anchor(document: Any, key: bytes) -> list[Head]:
    """The heads of a signed anchor; ``AnchorError`` when it was altered or signed with another key."""
    if not isinstance(document, dict) or document.get("format") != ANCHOR_FORMAT:
        raise AnchorError("锚定文件格式不对（不是 jianyi audit anchor 生成的文件）")
    body = {k: v for k, v in document.items() if k != "hmac_sha256"}
    expected = hmac.new(key, _canonical(body), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, str(document.get("hmac_sha256", ""))):
        raise AnchorError("锚定文件的签名不符：文件被改动过，或所用密钥不是生成它时的密钥")
    try:
        return [Head(str(h["suggestion_id"]), int(h["seq"]), str(h["hash"])) for h in body["heads"]]
    except (KeyError, TypeError, ValueError):
        raise AnchorError("锚定文件内容不完整") from None


def check_key(key: bytes) -> bytes:
    key = key.strip()
    if len(key) < MIN_KEY_BYTES:
        raise AnchorError(f"审计密钥太短（{len(key)} 字节，至少 {MIN_KEY_BYTES} 字节）")
    return key
