"""The live state of one case (held by its workflow) and the messages between workflow and activities.

``CaseState`` is the whole picture of a case: the records activity writes the suggestion's rows
from it (never incrementally), so a transition that is replaced leaves nothing behind.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from jianyi.models.commands import CommitmentIn, SubmitInput
from jianyi.models.policy import ComputedDeadline, Policy
from jianyi.models.states import STAGES, STATE_LABELS


class Offices(BaseModel):
    congress: str = "区人大常委会代表工作委员会"
    government: str = "区政府办公室"
    supervision: str = "区政府督查室"


class AssignmentRecord(BaseModel):
    unit: str
    role: str  # 主办 / 协办
    assigned_at: datetime
    due_at: datetime | None = None
    signed_at: datetime | None = None
    active: bool = True
    opinion: str = ""
    opinion_at: datetime | None = None
    adjustment_asked: bool = False


class ContactRecord(BaseModel):
    round: int
    unit: str
    method: str
    on: date
    note: str = ""
    recorded_at: datetime


class ReplyRecord(BaseModel):
    round: int
    unit: str
    reply_class: str
    text: str
    signed_by: str
    replied_at: datetime
    on_time: bool = True
    review_status: str = "待审核"  # 待审核 / 已通过 / 已退回 / 无需审核
    reviewed_at: datetime | None = None
    commitments: list[CommitmentIn] = Field(default_factory=list)  # proposed; real once approved
    attachment_name: str = ""
    attachment_sha256: str = ""

    @property
    def reached_deputy(self) -> bool:
        return self.review_status in ("已通过", "无需审核")


class CommitmentState(BaseModel):
    number: int
    round: int
    text: str
    promised_date: date
    fulfilled: bool = False
    missed: bool = False
    fulfilled_at: datetime | None = None
    fulfilment: str = ""


class ProgressRecord(BaseModel):
    number: int
    period: str = ""
    text: str
    reported_by: str
    reported_at: datetime


class EvaluationRecord(BaseModel):
    round: int
    deputy: str
    work: str  # 满意 / 基本满意 / 不满意 / 未表态
    result: str
    comment: str = ""
    evaluated_at: datetime


class EscalationRecord(BaseModel):
    number: int
    reason: str  # 评价不满意 / 逾期未答复 / 承诺事项逾期未兑现
    escalated_at: datetime
    steps: list[str] = Field(default_factory=list)  # 通报 / 限期整改 … as 督查室 takes them
    rectify_due: datetime | None = None
    resolution: str = ""
    resolved_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.resolved_at is None

    @property
    def awaits_first_step(self) -> bool:
        """Open, and 督查室 has taken no step on it yet (通报、限期整改 or 结束督办)."""
        return self.open and not self.steps

    @property
    def standing(self) -> str:
        """Where it stands, for people: 待督查室处理 until 督查室's first step, then 督办中, then its resolution."""
        if not self.open:
            return f"已处理：{self.resolution}"
        return "待督查室处理" if self.awaits_first_step else "督办中（待承办单位整改或督查室结束督办）"


class RemarkRecord(BaseModel):
    by: str
    role: str
    text: str
    at: datetime


class CaseState(BaseModel):
    """Everything the workflow knows about its case; returned by the ``view`` query."""

    id: str
    submission: SubmitInput
    policy: Policy = Field(default_factory=Policy)
    offices: Offices = Field(default_factory=Offices)
    state: str = "submitted"
    round: int = 1
    seq: int = 0  # audit events written so far
    lead_unit: str = ""
    co_handlers: list[str] = Field(default_factory=list)
    co_opinions: dict[str, str] = Field(default_factory=dict)
    signed: bool = False
    contact_rounds: list[int] = Field(default_factory=list)
    replies_on_time: list[bool] = Field(default_factory=list)  # of the replies that reached the deputy
    extensions_used: int = 0
    extension_pending: bool = False
    key_supervision: bool = False
    supervisor: str = ""
    key_since: datetime | None = None
    commitments: list[CommitmentState] = Field(default_factory=list)
    last_result: str = ""
    outcome: str = ""
    on_time: bool | None = None
    overdue: bool = False
    overdue_tag: str = ""  # the handling deadline whose first overdue notice went out …
    overdue_noticed_at: datetime | None = None  # … and when: the weekly repeats count from it
    escalation_count: int = 0
    deadlines: dict[str, ComputedDeadline] = Field(default_factory=dict)
    fired: list[str] = Field(default_factory=list)  # agenda keys already fired or skipped
    submitted_at: datetime | None = None
    assigned_at: datetime | None = None
    last_effective_at: datetime | None = None
    agenda_hold_until: datetime | None = None  # while an admin backfills (补录) a case step by step
    assignments: list[AssignmentRecord] = Field(default_factory=list)
    contacts: list[ContactRecord] = Field(default_factory=list)
    replies: list[ReplyRecord] = Field(default_factory=list)
    evaluations: list[EvaluationRecord] = Field(default_factory=list)
    escalations: list[EscalationRecord] = Field(default_factory=list)
    progress: list[ProgressRecord] = Field(default_factory=list)
    remarks: list[RemarkRecord] = Field(default_factory=list)
    merged_into: str = ""
    merged_from: list[str] = Field(default_factory=list)
    error: str = ""  # 处理异常: an unforeseen failure, surfaced in `stuck`

    def working_copy(self) -> CaseState:
        """A deep copy for a step to change (the case is kept only once the step is recorded): built
        again from its own fields, a seventh of the cost of ``model_copy(deep=True)``'s deepcopy (the
        validators are pure, and true of what they already passed once)."""
        return CaseState.model_validate(self.model_dump())

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def stage(self) -> str:
        return STAGES[self.state]

    @property
    def open_commitments(self) -> list[int]:
        return [c.number for c in self.commitments if not c.fulfilled]

    @property
    def handling_deadline(self) -> ComputedDeadline | None:
        """The deadline the lead unit is working against now (reply or re-handling)."""
        return self.deadlines.get("rehandle" if self.round > 1 else "reply")

    @property
    def reply_reached_deputy(self) -> bool:
        return any(r.reached_deputy for r in self.replies)

    @property
    def last_reply(self) -> ReplyRecord | None:
        return self.replies[-1] if self.replies else None

    @property
    def open_escalation(self) -> EscalationRecord | None:
        return next((e for e in reversed(self.escalations) if e.open), None)

    @property
    def deputies(self) -> list[str]:
        return [self.submission.lead_deputy, *self.submission.co_signers]


class StartCase(BaseModel):
    submission: SubmitInput
    actor: str
    role: str = "deputy"
    effective_at: datetime | None = None
    policy: Policy = Field(default_factory=Policy)
    congress_office: str = "区人大常委会代表工作委员会"
    government_office: str = "区政府办公室"
    supervision_office: str = "区政府督查室"
    via: str = "cli"
    history_bound: int = 2000  # past this many events a long case continues as new, carrying its state
    resume: CaseState | None = None  # set when a case continues as new: its whole state so far


class DeadlineRequest(BaseModel):
    kind: str  # the slot in CaseState.deadlines: reply / sign / co_opinion / assign / rehandle / evaluation / review / rectify
    rule: str
    start: datetime
    base_day: date | None = None
    amount: int | None = None  # instead of the rule's (e.g. the working days 督查室 sets for 限期整改)


class Recipient(BaseModel):
    kind: str  # unit / deputy / office / supervisor / admin
    name: str


class MessageRequest(BaseModel):
    kind: str  # the template (see jianyi/templates/messages.toml)
    cycle: str  # which occurrence: makes the outbox key unique per send
    recipients: list[Recipient]
    context: dict[str, Any] = Field(default_factory=dict)


class Effects(BaseModel):
    """What a transition leads to, beyond the new state: deadlines to start or drop, whom to tell."""

    deadlines: list[DeadlineRequest] = Field(default_factory=list)
    drop: list[str] = Field(default_factory=list)
    messages: list[MessageRequest] = Field(default_factory=list)


class ReminderFired(BaseModel):
    """An agenda item that fired, with the stale ones of its group skipped with it."""

    kind: str
    cycle: str
    due_at: datetime
    stale: list[ReminderFired] = Field(default_factory=list)


class Transition(BaseModel):
    """One audit event with everything its transaction writes.

    ``key`` is the transition's identity (the update id of a human action, the agenda key of a
    timer action); the records activity compares its content hash too (see models/audit.py).
    """

    suggestion_id: str
    seq: int
    key: str = ""
    actor: str
    role: str
    action: str
    from_state: str
    to_state: str
    payload: dict[str, Any] = Field(default_factory=dict)  # as the audit keeps it (decoded once, then dumped)
    at: datetime
    effective_at: datetime
    case: CaseState
    deadlines: list[DeadlineRequest] = Field(default_factory=list)
    drop_deadlines: list[str] = Field(default_factory=list)
    messages: list[MessageRequest] = Field(default_factory=list)
    reminder: ReminderFired | None = None


class Recorded(BaseModel):
    deadlines: dict[str, ComputedDeadline] = Field(default_factory=dict)
    outbox_ids: list[int] = Field(default_factory=list)
    deliver_at: datetime | None = None  # not before (quiet rules); None or past: at once
    seq: int = 0
    key: str = ""
    content_hash: str = ""  # what was written: `audit verify --deep` compares it with the records
    replaced: bool = False


class AdminNoticeRequest(BaseModel):
    """Outbox rows that kept failing: the admin is told (never dropped silently)."""

    source_id: str
    failed_ids: list[int]
    at: datetime
    error: str


class DigestRequest(BaseModel):
    """One scheduled digest to compose into the outbox."""

    kind: str  # monthly / ledger / daily
    period: str
    at: datetime
    source_id: str
    immediate: bool = False  # fired by hand: delivered at once (quiet rules hold only scheduled fires)
