"""The read side: stuck cases, timelines and the audit chain check, straight from the records.

(A single case's live state comes from its workflow's query; see service.Engine.view.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session as DbSession
from sqlmodel import select

from jianyi.adminlog import CHAIN
from jianyi.models.actions import label as action_label
from jianyi.models.agenda import AGENDA_LABELS
from jianyi.models.audit import GENESIS, Head, event_hash, hashed_fields
from jianyi.models.commands import InputError, unknown_suggestion
from jianyi.models.contacts import mask_address, mask_secrets
from jianyi.models.db import load_calendar, session_for, to_db
from jianyi.models.lifecycle import (
    ROLE_LABELS,
    STATE_LABELS,
    Role,
)
from jianyi.models.notices import DIGEST_KINDS, FAILED, STATUS_LABELS
from jianyi.models.policy import CST, ComputedDeadline, awaited, china_day, time_left
from jianyi.models.stuck import StuckCase, StuckPage, find_stuck  # noqa: F401  (StuckCase: re-exported)
from jianyi.models.tables import AuditEvent, HandlingUnit, Outbox, Session, Suggestion


def records_state(url: str) -> str:
    """Why a reading command cannot trust this database ("" when it can): missing, or empty."""
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return "记录数据库不存在"
    with session_for(url) as db:
        if db.exec(select(Suggestion.id).limit(1)).first() is None and db.exec(select(AuditEvent.id).limit(1)).first() is None:
            return "记录数据库中还没有任何建议或审计记录"
    return ""


def stuck_cases(
    url: str, now: datetime, unit: str | None = None, *, kind: str | None = None, session: str | None = None,
    supervisor: str | None = None, page: int = 1, per_page: int = 50,
) -> StuckPage:
    """The stuck view: one page, the most urgent first (models/stuck.py defines each kind once)."""
    with session_for(url) as db:
        _refuse_unregistered(db, unit, session)
        calendar = load_calendar(db)
        return find_stuck(db, now, unit=unit, kind=kind, session=session, supervisor=supervisor,
                          page=page, per_page=per_page, calendar=calendar)


def waiting_on(url: str, state: str, deadlines: dict[str, ComputedDeadline], now: datetime) -> tuple[str, str, bool]:
    """The deadline a case in ``state`` waits on now, and how it stands: (rule, 剩余… / 已逾期…, overdue)."""
    rule = awaited(state, deadlines)
    if rule not in deadlines:
        return "", "", False
    with session_for(url) as db:
        calendar = load_calendar(db)
    return rule, *time_left(rule, deadlines[rule].due_at, now, calendar)


def _refuse_unregistered(db: DbSession, unit: str | None, session: str | None) -> None:
    """A filter naming a unit or a session that is not registered is a mistake to say, never an empty list
    (a clerk who mistyped the unit's name would read "nothing is stuck")."""
    if unit and db.exec(select(HandlingUnit.name).where(HandlingUnit.name == unit)).first() is None:
        raise InputError(f"未登记的承办单位「{unit}」：请核对单位全称")
    if session and db.exec(select(Session.code).where(Session.code == session)).first() is None:
        raise InputError(f"未登记的会次「{session}」：请核对会次，如 16-3")


@dataclass
class TimelineEntry:
    seq: int
    effective_at: str
    recorded_at: str
    actor: str
    role: str
    action: str
    from_state: str
    to_state: str
    workdays_since_assignment: int | None
    detail: dict[str, Any] = field(default_factory=dict)
    hash: str = ""
    prev_hash: str = ""
    notices: dict[str, int] = field(default_factory=dict)  # what became of the notices it wrote, by outbox status, now
    held_until: str = ""  # the latest moment a held one of them waits for


def timeline(url: str, suggestion_id: str) -> tuple[Suggestion | None, list[TimelineEntry]]:
    with session_for(url) as db:
        sug = db.get(Suggestion, suggestion_id)
        events = list(db.exec(select(AuditEvent).where(AuditEvent.suggestion_id == suggestion_id).order_by(AuditEvent.seq)))
        calendar = load_calendar(db)
        notices = _notices_by_event(db, suggestion_id)
    assigned_day = None
    entries: list[TimelineEntry] = []
    for e in events:
        if e.action == "assign" and assigned_day is None:
            assigned_day = china_day(e.effective_at)
        day = china_day(e.effective_at)
        since = calendar.workdays_between(assigned_day, day) if assigned_day else None
        entries.append(
            TimelineEntry(
                seq=e.seq,
                effective_at=e.effective_at.isoformat(),
                recorded_at=e.at.isoformat(),
                actor=e.actor,
                role=e.role,
                action=e.action,
                from_state=e.from_state,
                to_state=e.to_state,
                workdays_since_assignment=since,
                detail=e.payload,
                hash=e.hash,
                prev_hash=e.prev_hash,
                **notices.get(e.seq, {}),
            )
        )
    return sug, entries


def _notices_by_event(db: DbSession, suggestion_id: str) -> dict[int, dict[str, Any]]:
    """For each audit event, what became of the notices it wrote (the outbox as it stands)."""
    found: dict[int, dict[str, Any]] = {}
    q = select(Outbox.seq, Outbox.status, Outbox.hold_until).where(Outbox.suggestion_id == suggestion_id, Outbox.seq > 0)
    for seq, status, hold_until in db.exec(q):
        entry = found.setdefault(seq, {"notices": {}, "held_until": ""})
        entry["notices"][status] = entry["notices"].get(status, 0) + 1
        if status == "held" and hold_until is not None:
            entry["held_until"] = max(entry["held_until"], to_db(hold_until).isoformat())
    return found


# the order in which a line names what became of an event's notices
_NOTICE_ORDER = ("sent", "sending", "pending", "held", "failed", "no_address", "skipped")


def describe_event(entry: TimelineEntry) -> str:
    """One line in Chinese for a timeline entry, with what became of its notices (sent, held, not sent)."""
    return _describe(entry) + _notices_text(entry)


def _notices_text(entry: TimelineEntry) -> str:
    if entry.detail.get("notices_withheld"):
        return f"（补录的往事：{entry.detail['notices_withheld']}条通知不再发送，当时已在线下办理）"
    if not entry.notices:  # none written, or none kept: what the audit says of the hold
        held = entry.detail.get("held_until")
        return f"（通知按工作时间暂缓至 {datetime.fromisoformat(held).astimezone(CST):%Y-%m-%d %H:%M}）" if held else ""
    parts = []
    for status in sorted(entry.notices, key=lambda s: _NOTICE_ORDER.index(s) if s in _NOTICE_ORDER else 99):
        n = entry.notices[status]
        if status == "held" and entry.held_until:
            parts.append(f"{n}条按工作时间暂缓至 {datetime.fromisoformat(entry.held_until).astimezone(CST):%Y-%m-%d %H:%M}")
        else:
            parts.append(f"{n}条{STATUS_LABELS.get(status, status)}")
    return f"（通知：{'，'.join(parts)}）"


def _describe(entry: TimelineEntry) -> str:
    if entry.action == "agenda":
        kind = entry.detail.get("kind", "")
        text = f"系统：{AGENDA_LABELS.get(kind, kind)}"
        if entry.detail.get("skipped"):
            text += f"（同时跳过{len(entry.detail['skipped'])}条过时提醒）"
        return text
    who = f"{ROLE_LABELS.get(entry.role, entry.role)}「{entry.actor}」"
    behalf = entry.detail.get("on_behalf_of", "")
    if not behalf and entry.action == "submit" and entry.role == Role.ADMIN:  # an admin records a deputy's suggestion
        behalf = f"{Role.DEPUTY}:{entry.detail.get('lead_deputy', '')}"
    if behalf:
        role, _, name = behalf.partition(":")
        who += f"为{ROLE_LABELS.get(role, role)}「{name}」补录"
    change = ""
    if entry.from_state != entry.to_state:
        change = f"：{STATE_LABELS.get(entry.from_state, entry.from_state or '—')} → {STATE_LABELS.get(entry.to_state, entry.to_state)}"
    backdated = "（补录）" if entry.effective_at != entry.recorded_at and not behalf else ""  # entered later than it happened
    return f"{who}{action_label(entry.action, entry.detail)}{change}{backdated}"


@dataclass
class ChainBreak:
    suggestion_id: str
    seq: int
    event_id: int | None
    problem: str


def verify_audit(url: str) -> tuple[int, int, list[ChainBreak]]:
    """Check every chain (each suggestion's and the admin log) and each suggestion's recorded head.

    Returns (suggestions, events, the first break of each chain).
    """
    chains: dict[str, list[AuditEvent]] = {}
    with session_for(url) as db:
        for e in db.exec(select(AuditEvent).order_by(AuditEvent.suggestion_id, AuditEvent.seq)):
            chains.setdefault(e.suggestion_id, []).append(e)
        heads = {s.id: (s.chain_seq, s.chain_hash) for s in db.exec(select(Suggestion))}
    breaks = [b for sid, events in chains.items() if (b := _chain_break(sid, events, heads.get(sid)))]
    breaks += [
        ChainBreak(sid, seq, None, f"审计记录缺失：建议记录的链头为第{seq}号事件，审计表中却没有任何事件")
        for sid, (seq, _) in heads.items()
        if seq and sid not in chains
    ]
    suggestions = len([sid for sid in chains if sid != CHAIN])
    return suggestions, sum(len(v) for v in chains.values()), breaks


def _chain_break(sid: str, events: list[AuditEvent], head: tuple[int, str] | None) -> ChainBreak | None:
    prev = GENESIS
    for expected_seq, e in enumerate(events, start=1):
        problem = ""
        if e.seq != expected_seq:
            problem = f"序号不连续：应为 {expected_seq}，实为 {e.seq}（有事件被删除或插入）"
        elif e.prev_hash != prev:
            problem = "与上一事件的哈希不衔接（上一事件被修改、删除或替换）"
        elif event_hash(e.prev_hash, hashed_fields(e)) != e.hash:
            problem = "事件内容与其哈希不符（该事件被修改）"
        if problem:
            return ChainBreak(sid, e.seq, e.id, problem)
        prev = e.hash
    last = events[-1]
    if head and head[0] and (head[0], head[1]) != (last.seq, last.hash):
        return ChainBreak(sid, last.seq, last.id, f"链头不符：建议记录的最后事件为第{head[0]}号，审计表的最后事件为第{last.seq}号（末尾事件被删除或改写）")
    return None


def chain_heads(url: str) -> list[Head]:
    """The last event of every suggestion's chain (for an audit anchor)."""
    heads: dict[str, Head] = {}
    with session_for(url) as db:
        for sid, seq, digest in db.exec(
            select(AuditEvent.suggestion_id, AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.suggestion_id, AuditEvent.seq)
        ):
            heads[sid] = Head(sid, seq, digest)
    return list(heads.values())


def verify_against_anchor(url: str, anchored: list[Head]) -> list[ChainBreak]:
    """For every anchored head: the chain from genesis to the anchored seq verifies and ends in the anchored hash."""
    problems: list[ChainBreak] = []
    with session_for(url) as db:
        for head in anchored:
            events = list(
                db.exec(
                    select(AuditEvent)
                    .where(AuditEvent.suggestion_id == head.suggestion_id, AuditEvent.seq <= head.seq)
                    .order_by(AuditEvent.seq)
                )
            )
            problem = _anchored_problem(events, head)
            if problem:
                problems.append(ChainBreak(head.suggestion_id, head.seq, None, problem))
    return problems


def _anchored_problem(events: list[AuditEvent], head: Head) -> str:
    prev = GENESIS
    for expected_seq, e in enumerate(events, start=1):
        if e.seq != expected_seq or e.prev_hash != prev or event_hash(e.prev_hash, hashed_fields(e)) != e.hash:
            return f"锚定之前的第{expected_seq}个事件不能衔接（被删除、插入或改动）"
        prev = e.hash
    if len(events) < head.seq:
        return f"锚定时有 {head.seq} 个事件，现在只剩 {len(events)} 个（事件被删除）"
    if prev != head.hash:
        return "锚定时的链头哈希与现在的不同：锚定之前的事件被改写后重新计算了哈希"
    return ""


def outbox_rows(url: str, failed_only: bool = False, suggestion_id: str | None = None, masked: bool = True) -> list[Outbox]:
    """The outbox, newest last; robot keys, tokens and phone numbers masked unless asked otherwise."""
    rows = _outbox_rows(url, failed_only, suggestion_id)
    if masked:
        for r in rows:
            r.address, r.last_error = mask_address(r.address, r.channel), mask_secrets(r.last_error)
    return rows


def digest_rows(url: str, source_id: str, recipient: str | None = None) -> list[Outbox]:
    """The messages one digest (monthly, ledger, daily) wrote, to everyone or to one ``recipient``."""
    with session_for(url) as db:
        q = select(Outbox).where(Outbox.suggestion_id == source_id, Outbox.kind.in_(DIGEST_KINDS))  # type: ignore[attr-defined]
        if recipient is not None:
            q = q.where(Outbox.recipient == recipient)
        return list(db.exec(q.order_by(Outbox.recipient)))


def _outbox_rows(url: str, failed_only: bool, suggestion_id: str | None) -> list[Outbox]:
    with session_for(url) as db:
        q = select(Outbox)
        if failed_only:
            q = q.where(Outbox.status.in_(FAILED))  # type: ignore[attr-defined]
        if suggestion_id:
            q = q.where(Outbox.suggestion_id == suggestion_id)
        rows = list(db.exec(q.order_by(Outbox.id)))
        if suggestion_id and not rows and db.get(Suggestion, suggestion_id) is None:
            raise InputError(unknown_suggestion(suggestion_id))  # a mistyped number is said, not shown as "no notices"
        return rows
