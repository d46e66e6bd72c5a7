"""The live state of one case (held by its workflow) and the messages between workflow and activities."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from jianyi.models.commands import SubmitInput
from jianyi.models.lifecycle import STAGES, STATE_LABELS
from jianyi.models.policy import Deadline, Policy


class CommitmentState(BaseModel):
    number: int
    round: int
    text: str
    promised_date: date
    fulfilled: bool = False
    missed: bool = False


class CaseState(BaseModel):
    """Everything the workflow knows about its case; returned by the ``view`` query."""

    id: str
    submission: SubmitInput
    policy: Policy = Field(default_factory=Policy)
    state: str = "submitted"
    round: int = 1
    seq: int = 0  # audit events written so far
    lead_unit: str = ""
    co_handlers: list[str] = Field(default_factory=list)
    co_opinions: dict[str, str] = Field(default_factory=dict)
    signed: bool = False
    contact_rounds: list[int] = Field(default_factory=list)
    replies: int = 0
    replies_on_time: list[bool] = Field(default_factory=list)
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
    escalation_count: int = 0
    deadlines: dict[str, Deadline] = Field(default_factory=dict)
    fired: list[str] = Field(default_factory=list)  # agenda keys already fired or skipped
    submitted_at: datetime | None = None
    assigned_at: datetime | None = None
    last_effective_at: datetime | None = None
    agenda_hold_until: datetime | None = None  # while an admin backfills (补录) a case step by step

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
    def handling_deadline(self) -> Deadline | None:
        """The deadline the lead unit is working against now (reply or re-handling)."""
        return self.deadlines.get("rehandle" if self.round > 1 else "reply")


class DeadlineRequest(BaseModel):
    kind: str  # the slot in CaseState.deadlines: reply / sign / co_opinion / assign / rehandle / evaluation
    rule: str
    start: datetime
    base_day: date | None = None


class Recipient(BaseModel):
    kind: str  # unit / deputy / office / supervisor
    name: str


class MessageRequest(BaseModel):
    kind: str  # the template (see activities/messages.py)
    cycle: str  # which occurrence: makes the outbox key unique per send
    recipients: list[Recipient]
    context: dict[str, Any] = Field(default_factory=dict)


class Transition(BaseModel):
    """One audit event with everything its transaction writes."""

    suggestion_id: str
    seq: int
    actor: str
    role: str
    action: str
    from_state: str
    to_state: str
    payload: dict[str, Any] = Field(default_factory=dict)
    at: datetime
    effective_at: datetime
    case: CaseState
    deadlines: list[DeadlineRequest] = Field(default_factory=list)
    drop_deadlines: list[str] = Field(default_factory=list)
    messages: list[MessageRequest] = Field(default_factory=list)
    reminder: dict[str, Any] | None = None  # agenda fire: kind, cycle, due_at, stale (skipped with it)


class Recorded(BaseModel):
    deadlines: dict[str, Deadline] = Field(default_factory=dict)
    outbox_ids: list[int] = Field(default_factory=list)
    deliver_at: datetime | None = None  # not before (quiet rules); None or past: at once
