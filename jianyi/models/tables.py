"""SQLModel tables: the records (a projection of the workflows) and the reference data.

Times are aware and stored as UTC (sqlmodel's UTCDateTime). Only a suggestion's own workflow, through activities, writes
the suggestion rows (``Suggestion`` and everything keyed by ``suggestion_id``); the reference
tables (deputies, units, sessions, calendar) are written by admin commands.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint, func, text
from sqlmodel import Field, SQLModel


def _json(default: Any = None) -> Any:
    return Field(default_factory=lambda: [] if default is None else default, sa_column=Column(JSON))


# -- reference data ------------------------------------------------------------------------
class Deputy(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    email: str = ""
    phone: str = ""
    constituency: str = ""
    channel: str = "email"  # email / wecom / dingtalk / webhook / sms (jianyi/activities/channels.py)
    webhook_url: str = ""  # the robot or webhook address, for those channels


class HandlingUnit(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    kind: str = "政府部门"  # 政府部门 / 街道 / 办公室 / 其他
    email: str = ""
    channel: str = "email"  # email / wecom / dingtalk / webhook / sms (jianyi/activities/channels.py)
    webhook_url: str = ""  # the robot or webhook address, for those channels
    phone: str = ""  # for sms


class Supervisor(SQLModel, table=True):
    """A registered supervisor (督办人): 主任会议成员, 专工委, 街道工委 …"""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    title: str = ""  # e.g. 区人大常委会副主任
    email: str = ""
    phone: str = ""
    channel: str = "email"
    webhook_url: str = ""


class Session(SQLModel, table=True):
    """A congress session (会次), e.g. 16-3 = 区十六届人大三次会议."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True)
    name: str
    opened_on: date | None = None


class CalendarOverride(SQLModel, table=True):
    day: date = Field(primary_key=True)
    workday: bool
    name: str = ""


class CalendarYear(SQLModel, table=True):
    """A year whose holidays and make-up workdays an admin loaded in full from a file."""

    year: int = Field(primary_key=True)
    source: str = ""
    loaded_at: datetime


# -- the records of a suggestion -------------------------------------------------------------
def _stuck_indexes() -> tuple[Index, ...]:
    """What the stuck view counts and pages by (models/stuck.py): each kind's state with its due date or
    fact, the rare 处理异常 rows, and ``stuck_from`` for the number of stuck cases, so no count reads
    the whole table."""
    error = text("error != ''")
    return (
        *(Index(f"ix_suggestion_state_{c}", "state", c) for c in ("reply_due", "sign_due", "assign_due", "review_due")),
        *(Index(f"ix_suggestion_with_{fact}", "state", order, sqlite_where=text(f"{fact} > 0"), postgresql_where=text(f"{fact} > 0"))
          for fact, order in FACT_INDEXES.items()),
        Index("ix_suggestion_stuck_from", "stuck_from", "state"),
        Index("ix_suggestion_with_error", "state", sqlite_where=error, postgresql_where=error),
    )


# a fact's rows, each kept in a partial index with the column its kind orders by (models/stuck.py)
FACT_INDEXES = {"open_escalations": "reply_due", "missed_commitments": "reply_due", "missing_co_opinions": "co_opinion_due"}


class Suggestion(SQLModel, table=True):
    __table_args__ = _stuck_indexes()
    id: str = Field(primary_key=True)  # the workflow id: suggestion-<session>-<number>
    session: str = Field(index=True)
    number: str  # 第40号 / 闭会第33号
    title: str
    text: str = ""
    category: str = ""
    period: str = "大会期间"
    lead_deputy: str = Field(index=True)
    co_signers: list[str] = _json()
    state: str = Field(index=True)
    round: int = 1
    lead_unit: str = Field(default="", index=True)
    co_handlers: list[str] = _json()
    key_supervision: bool = False
    supervisor: str = ""
    overdue: bool = Field(default=False, index=True)
    escalation_count: int = 0
    submitted_at: datetime | None = None
    assigned_at: datetime | None = None
    signed_at: datetime | None = None
    replied_at: datetime | None = None
    closed_at: datetime | None = None
    sign_due: datetime | None = None
    reply_due: datetime | None = None
    co_opinion_due: datetime | None = None
    evaluation_due: datetime | None = None
    assign_due: datetime | None = None
    review_due: datetime | None = None
    rectify_due: datetime | None = None
    outcome: str = ""  # 满意 / 基本满意 / 不满意 / 未表态 / 已撤回 / 已并案 / 不予立案 / 未解决
    on_time: bool | None = None
    provisional_deadlines: bool = False
    merged_into: str = ""
    error: str = ""  # 处理异常: an unforeseen failure the workflow surfaced
    # facts the stuck view's kinds read (models/stuck.py), kept from the case by the projection
    open_escalations: int = 0
    missed_commitments: int = 0
    missing_co_opinions: int = 0
    stuck_from: datetime | None = None  # when some kind of stuck starts to hold (as the case stands)
    chain_seq: int = 0  # the audit chain's head: a deleted last event is caught against it
    chain_hash: str = ""
    # a digest of each child table's rows as the last write left them (activities/projection.py)
    projected: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON))
    updated_at: datetime | None = None


def in_number_order() -> tuple[Any, ...]:
    """ORDER BY for suggestions as people count them: by session, 大会 before 闭会, 第17号 before 第169号
    (an id is ``suggestion-<session>-<n>`` or ``…-bh<n>``: within one kind, a shorter number is a smaller one)."""
    sid = Suggestion.__table__.c.id  # type: ignore[attr-defined]
    return Suggestion.__table__.c.session, sid.like("%-bh%"), func.length(sid), sid  # type: ignore[attr-defined]


class CaseSnapshot(SQLModel, table=True):
    """A suggestion's whole case as its workflow holds it after the last recorded transition (CaseState as
    JSON), written with the projection: the pages ask the lifecycle "who may do what now?" with it
    (models/lifecycle.allowed_actions) without reaching Temporal."""

    suggestion_id: str = Field(primary_key=True)
    data: str = Field(sa_type=Text)


class DeadlineRow(SQLModel, table=True):
    """Every computed deadline of a suggestion with its explanation; ``current`` marks the live one."""

    __tablename__ = "deadline"
    id: int | None = Field(default=None, primary_key=True)
    suggestion_id: str = Field(index=True)
    seq: int = 0  # the audit event whose transaction computed it
    kind: str
    due_at: datetime
    last_day: date
    start: datetime
    rule: str
    unit: str
    explanation: str
    skipped: list[Any] = _json()
    calendar_version: str
    provisional: bool = False
    current: bool = True
    computed_at: datetime


class Assignment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    suggestion_id: str = Field(index=True)
    unit: str = Field(index=True)
    role: str  # 主办 / 协办
    assigned_at: datetime
    signed_at: datetime | None = None
    due_at: datetime | None = None
    active: bool = True
    opinion: str = ""
    opinion_at: datetime | None = None


class Contact(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    suggestion_id: str = Field(index=True)
    round: int
    unit: str
    method: str
    on: date
    note: str = ""
    recorded_at: datetime


class Reply(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    suggestion_id: str = Field(index=True)
    round: int
    unit: str
    reply_class: str
    text: str
    signed_by: str
    replied_at: datetime
    on_time: bool = True
    review_status: str = "待审核"  # 待审核 / 已通过 / 已退回 / 无需审核
    reviewed_at: datetime | None = None
    attachment_name: str = ""
    attachment_sha256: str = ""  # the reply letter (PDF), kept under var/attachments/


class Commitment(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("suggestion_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    suggestion_id: str = Field(index=True)
    number: int
    round: int
    text: str
    promised_date: date
    status: str = "未兑现"  # 未兑现 / 已兑现 / 逾期
    fulfilled_at: datetime | None = None
    fulfilment: str = ""


class CommitmentProgress(SQLModel, table=True):
    """A ledger entry (承诺事项台账): the unit's answer on a commitment's progress."""

    id: int | None = Field(default=None, primary_key=True)
    suggestion_id: str = Field(index=True)
    number: int
    period: str = ""
    text: str
    reported_by: str
    reported_at: datetime


class Evaluation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    suggestion_id: str = Field(index=True)
    round: int
    deputy: str
    work: str  # 满意 / 基本满意 / 不满意 / 未表态
    result: str
    comment: str = ""
    evaluated_at: datetime


class Escalation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    suggestion_id: str = Field(index=True)
    number: int = 1
    reason: str  # 评价不满意 / 逾期 / 承诺逾期
    escalated_at: datetime
    steps: list[str] = _json()  # 通报 / 限期整改 as 督查室 takes them
    rectify_due: datetime | None = None
    resolution: str = ""
    resolved_at: datetime | None = None


class Reminder(SQLModel, table=True):
    """A reminder, notice or escalation the agenda fired (or skipped because it was stale)."""

    __table_args__ = (UniqueConstraint("suggestion_id", "kind", "cycle"),)
    id: int | None = Field(default=None, primary_key=True)
    suggestion_id: str = Field(index=True)
    kind: str
    cycle: str
    due_at: datetime
    fired_at: datetime
    skipped: bool = False
    seq: int = 0  # the audit event that fired it


class Outbox(SQLModel, table=True):
    """One message to one recipient; the key makes a retry or a re-fire never send twice."""

    __table_args__ = (UniqueConstraint("suggestion_id", "recipient", "kind", "cycle"),)
    id: int | None = Field(default=None, primary_key=True)
    suggestion_id: str = Field(index=True)
    recipient: str
    address: str = ""
    channel: str = "email"
    kind: str
    cycle: str
    subject: str
    body: str
    created_at: datetime
    seq: int = 0  # the audit event that wrote it (0: a digest)
    status: str = Field(default="pending", index=True)  # pending / held / sending / sent / failed / no_address / skipped
    claimed_at: datetime | None = None  # when a deliverer claimed it (sending)
    hold_until: datetime | None = None  # quiet rules: not before the next working morning
    attempts: int = 0
    last_error: str = ""
    sent_at: datetime | None = None


class AuditEvent(SQLModel, table=True):
    """Every transition, reminder and recomputation, hash-chained per suggestion."""

    __table_args__ = (UniqueConstraint("suggestion_id", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    suggestion_id: str = Field(index=True)
    seq: int
    actor: str
    role: str
    action: str
    from_state: str
    to_state: str
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    at: datetime  # when it was recorded (workflow time)
    effective_at: datetime  # when it happened (differs only for admin 补录)
    prev_hash: str
    hash: str
    key: str = ""  # the transition's identity: the update id, or the agenda item
    content_hash: str = ""  # models/audit.transition_hash: a different write at the same seq replaces it
