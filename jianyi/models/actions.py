"""Every human action, one home each (DESIGN §2a): its label, the roles that may take it, its
payload type and its consequences.

The transition table (``lifecycle.STEPS``) says from which state to which; a spec here says
what follows: which deadlines start or drop, whom to tell, what the case now records. A
consequences function is pure (no I/O, no clock): it changes the working copy of the case it is
handed and adds to its :class:`Effects`. The workflow only runs it and commits the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from jianyi.models import commands as c
from jianyi.models.case import (
    AssignmentRecord,
    CaseState,
    CommitmentState,
    ContactRecord,
    DeadlineRequest,
    Effects,
    EscalationRecord,
    EvaluationRecord,
    MessageRequest,
    ProgressRecord,
    Recipient,
    RemarkRecord,
    ReplyRecord,
)
from jianyi.models.commands import InputError, Payload, validate_payload
from jianyi.models.states import ROLE_LABELS, Role, State, is_terminal


class Action(StrEnum):
    SUBMIT = "submit"
    REVIEW = "review"
    RESUBMIT = "resubmit"
    ASSIGN = "assign"
    SIGN = "sign"
    REQUEST_ADJUSTMENT = "request_adjustment"
    DECIDE_ADJUSTMENT = "decide_adjustment"
    REQUEST_EXTENSION = "request_extension"
    DECIDE_EXTENSION = "decide_extension"
    RECORD_CONTACT = "record_contact"
    CO_OPINION = "co_opinion"
    REPLY = "reply"
    REVIEW_REPLY = "review_reply"
    EVALUATE = "evaluate"
    REMARK = "remark"
    MARK_KEY = "mark_key"
    RESOLVE_ESCALATION = "resolve_escalation"
    ACT_ON_ESCALATION = "act_on_escalation"
    FULFIL_COMMITMENT = "fulfil_commitment"
    REPORT_PROGRESS = "report_progress"
    WITHDRAW = "withdraw"
    RECOMPUTE_DEADLINES = "recompute_deadlines"
    EXPIRE_EVALUATION = "expire_evaluation"


# System events recorded in the audit that are not human actions (no spec, no payload type).
SYSTEM_EVENTS = {
    "agenda": "系统提醒",
    "merge_in": "并入建议",
    "delivery_failed": "通知发送失败",
    "processing_error": "处理异常",
}

P = TypeVar("P", bound=Payload)


@dataclass
class ActionContext(Generic[P]):
    """One accepted action: the working copy of the case and what its consequences add."""

    case: CaseState
    source: str
    dest: str
    payload: P
    principal: str
    role: Role
    at: datetime  # when it happened (differs from now only for an admin's 补录)
    effects: Effects = field(default_factory=Effects)
    audit_extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cycle(self) -> str:
        return str(self.case.seq + 1)

    def tell(self, kind: str, to: list[Recipient], cycle: str = "", **context: Any) -> None:
        self.effects.messages.append(message(self.case, kind, cycle or self.cycle, to, **context))

    def start(self, kind: str, rule: str = "", start: datetime | None = None, **extra: Any) -> None:
        self.effects.deadlines.append(DeadlineRequest(kind=kind, rule=rule or kind, start=start or self.at, **extra))


@dataclass(frozen=True)
class ActionSpec:
    action: Action
    label: str
    roles: tuple[Role, ...]
    payload: type[Payload]
    consequences: Callable[[ActionContext[Any]], None]
    choices: str = ""  # the Chinese hint when a decision is not one of the options


# -- recipients and messages -------------------------------------------------------------------
def unit(name: str) -> Recipient:
    return Recipient(kind="unit", name=name)


def office(name: str) -> Recipient:
    return Recipient(kind="office", name=name)


def deputy(name: str) -> Recipient:
    return Recipient(kind="deputy", name=name)


def message(case: CaseState, kind: str, cycle: str, to: list[Recipient], **context: Any) -> MessageRequest:
    """A message; on a key-supervision item whatever goes to the lead unit copies the supervisor."""
    recipients = [r for r in to if r.name]
    names = {r.name for r in recipients}
    if case.key_supervision and case.supervisor and case.lead_unit in names and case.supervisor not in names:
        recipients.append(Recipient(kind="supervisor", name=case.supervisor))
    return MessageRequest(kind=kind, cycle=cycle, recipients=recipients, context=context)


# -- 提 ----------------------------------------------------------------------------------------
def _review(x: ActionContext[c.ReviewIn]) -> None:
    p, case = x.payload, x.case
    told = {State.RETURNED: "returned", State.MERGED: "merged", State.NOT_REGISTERED: "not_registered"}
    if x.dest in told:
        target = c.display_number_of(p.merge_into) if p.merge_into else ""
        x.tell(told[State(x.dest)], [deputy(n) for n in case.deputies], reason=p.reason, merge_into=target)
    if x.dest == State.MERGED:
        case.merged_into = p.merge_into
    x.effects.drop.append("review")


def _resubmit(x: ActionContext[c.ResubmitIn]) -> None:
    changes = {k: v for k, v in (("title", x.payload.title), ("text", x.payload.text)) if v}
    x.case.submission = x.case.submission.model_copy(update=changes)
    x.start("review")


# -- 交 ----------------------------------------------------------------------------------------
def hand_over(x: ActionContext[Any], lead: str, co: list[str]) -> None:
    """(Re)assign: new lead unit and co-handlers, the clocks restart, each unit is told."""
    case = x.case
    for a in case.assignments:
        a.active = False
    case.lead_unit = lead
    case.co_handlers = [u for u in co if u != lead]
    case.assigned_at, case.co_opinions, case.signed, case.overdue = x.at, {}, False, False
    case.assignments += [AssignmentRecord(unit=u, role=r, assigned_at=x.at) for u, r in _roles(case)]
    x.start("sign")
    x.start("reply")
    if case.co_handlers:
        x.start("co_opinion")
    else:
        x.effects.drop.append("co_opinion")
    x.effects.drop += ["assign", "review"]
    x.tell("assigned", [unit(case.lead_unit)], role="主办")
    if case.co_handlers:
        x.tell("assigned", [unit(u) for u in case.co_handlers], role="协办")


def _roles(case: CaseState) -> list[tuple[str, str]]:
    return [(case.lead_unit, "主办"), *((u, "协办") for u in case.co_handlers)]


def _assign(x: ActionContext[c.AssignIn]) -> None:
    hand_over(x, x.payload.lead_unit, list(x.payload.co_handlers))


def _request_adjustment(x: ActionContext[c.AdjustmentRequestIn]) -> None:
    for a in x.case.assignments:
        if a.active and a.unit == x.principal:
            a.adjustment_asked = True
    x.audit_extra["asked_by"] = x.principal
    x.tell("adjustment_requested", [office(x.case.offices.congress)], unit=x.principal, reason=x.payload.reason)


def _decide_adjustment(x: ActionContext[c.AdjustmentDecisionIn]) -> None:
    p, case = x.payload, x.case
    asked_by = adjustment_asker(case)
    if p.decision == "refuse":
        x.tell("adjustment_decided", [unit(asked_by)], decision="不同意调整", comment=p.comment)
        return
    old_lead = case.lead_unit
    co = case.co_handlers if p.co_handlers is None else p.co_handlers
    hand_over(x, p.lead_unit, list(co))
    if old_lead != case.lead_unit:
        x.tell("adjustment_decided", [unit(old_lead)], decision=f"同意调整，改由{case.lead_unit}主办，你单位不再承办", comment=p.comment)


def adjustment_asker(case: CaseState) -> str:
    """The unit whose adjustment request is pending (the lead unit if none is marked)."""
    asked = [a.unit for a in case.assignments if a.active and a.adjustment_asked]
    return asked[-1] if asked else case.lead_unit


def _sign(x: ActionContext[c.Empty]) -> None:
    x.case.signed = True
    for a in x.case.assignments:
        if a.active and a.unit == x.case.lead_unit:
            a.signed_at = x.at


# -- 办 ----------------------------------------------------------------------------------------
def _request_extension(x: ActionContext[c.ExtensionRequestIn]) -> None:
    x.case.extension_pending = True
    x.tell("extension_requested", [office(x.case.offices.congress)], unit=x.principal, reason=x.payload.reason)


def _decide_extension(x: ActionContext[c.DecisionIn]) -> None:
    case, approve = x.case, x.payload.decision == "approve"
    case.extension_pending = False
    if approve:
        case.extensions_used += 1
        case.overdue = False  # until the agenda finds the new deadline passed too
        x.start("reply", "extension", base_day=case.deadlines["reply"].nominal_end)
    decision = "同意延期" if approve else "不同意延期"
    x.tell("extension_decided", [unit(case.lead_unit)], decision=decision, comment=x.payload.comment)


def _record_contact(x: ActionContext[c.ContactIn]) -> None:
    case, p = x.case, x.payload
    case.contacts.append(ContactRecord(round=case.round, unit=x.principal, method=p.method, on=p.on, note=p.note, recorded_at=x.at))
    if x.principal == case.lead_unit and case.round not in case.contact_rounds:
        case.contact_rounds.append(case.round)  # only the lead unit's contact counts before its reply


def _co_opinion(x: ActionContext[c.OpinionIn]) -> None:
    case = x.case
    case.co_opinions[x.principal] = x.payload.text
    for a in case.assignments:
        if a.active and a.unit == x.principal:
            a.opinion, a.opinion_at = x.payload.text, x.at
    x.tell("co_opinion", [unit(case.lead_unit)], cycle=f"{x.principal}-{x.cycle}", unit=x.principal, text=x.payload.text)


def _reply(x: ActionContext[c.ReplyIn]) -> None:
    case, p = x.case, x.payload
    due = case.handling_deadline
    reviewed = x.dest == State.REPLY_REVIEW
    case.replies.append(
        ReplyRecord(
            round=case.round, unit=case.lead_unit, reply_class=p.reply_class, text=p.text, signed_by=p.signed_by,
            replied_at=x.at, on_time=due is None or x.at <= due.due_at, commitments=list(p.commitments),
            review_status="待审核" if reviewed else "无需审核",
            attachment_name=p.attachment_name, attachment_sha256=p.attachment_sha256,
        )
    )
    case.overdue = False
    if reviewed:
        x.tell("reply_review_needed", [office(case.offices.government)], unit=case.lead_unit, reply_class=f"{p.reply_class}类")
    else:
        reach_deputies(x)


def _review_reply(x: ActionContext[c.ReplyReviewIn]) -> None:
    reply = x.case.replies[-1]
    reply.reviewed_at = x.at
    if x.payload.decision == "approve":
        reply.review_status = "已通过"
        reach_deputies(x)
    else:  # a reply sent back takes its commitments with it: they never became real
        reply.review_status = "已退回"
        x.tell("reply_sent_back", [unit(x.case.lead_unit)], comment=x.payload.comment)


def reach_deputies(x: ActionContext[Any]) -> None:
    """An approved reply reaches the deputies: its commitments become real, the lead deputy is
    asked to evaluate, the co-signers receive the reply."""
    case = x.case
    reply = case.replies[-1]
    case.replies_on_time.append(reply.on_time)
    first = len(case.commitments) + 1
    case.commitments += [
        CommitmentState(number=first + i, round=case.round, text=cm.text, promised_date=cm.promised_date)
        for i, cm in enumerate(reply.commitments)
    ]
    x.start("evaluation")
    cycle = f"round-{case.round}-{x.cycle}"
    context = {"unit": case.lead_unit, "reply_class": f"{reply.reply_class}类", "reply_text": reply.text}
    x.tell("evaluation_request", [deputy(case.submission.lead_deputy)], cycle=cycle, **context)
    if case.submission.co_signers:
        x.tell("reply_delivered", [deputy(n) for n in case.submission.co_signers], cycle=cycle, **context)


# -- 评 / 督 -------------------------------------------------------------------------------------
def _evaluate(x: ActionContext[c.EvaluateIn]) -> None:
    case, p = x.case, x.payload
    case.last_result = p.result
    case.evaluations.append(
        EvaluationRecord(round=case.round, deputy=x.principal, work=p.work, result=p.result, comment=p.comment, evaluated_at=x.at)
    )
    x.tell("evaluated", [unit(case.lead_unit)], cycle=f"eval-{case.round}", work=p.work, result=p.result, comment=p.comment or "无")
    if x.dest == State.REHANDLING:
        rehandle(x, reason=f"代表对第{case.round}轮办理结果不满意，意见：{p.comment}")
    elif x.dest == State.ESCALATED:
        escalate(x, f"评价不满意（经{case.round}轮办理代表仍不满意）", cycle=f"eval-{case.round}")


def rehandle(x: ActionContext[Any], reason: str) -> None:
    case = x.case
    case.round += 1
    x.start("rehandle")
    x.effects.drop.append("evaluation")
    x.tell("rehandle_order", [unit(case.lead_unit)], cycle=f"round-{case.round}", reason=reason)


def escalate(x: ActionContext[Any], reason: str, cycle: str) -> None:
    """An escalation to 督查室: recorded, and told to 督查室, the unit and the congress office."""
    open_escalation(x.case, reason, x.at)
    x.tell("escalated", escalation_recipients(x.case), cycle=cycle, reason=reason)


def escalation_recipients(case: CaseState) -> list[Recipient]:
    """Every escalation is told to 督查室 (who acts), the unit and the congress office."""
    return [office(case.offices.supervision), unit(case.lead_unit), office(case.offices.congress)]


def open_escalation(case: CaseState, reason: str, at: datetime) -> EscalationRecord:
    record = EscalationRecord(number=len(case.escalations) + 1, reason=reason, escalated_at=at)
    case.escalations.append(record)
    case.escalation_count += 1
    return record


def _resolve_escalation(x: ActionContext[c.ResolveEscalationIn]) -> None:
    case, p = x.case, x.payload
    esc = case.open_escalation
    if x.dest == State.REHANDLING:
        _close_escalation(esc, f"责令重新办理：{p.comment}", x.at)
        rehandle(x, reason=f"督查室责令重新办理：{p.comment}")
        return
    _close_escalation(esc, f"按未解决办结：{p.comment}", x.at)
    case.last_result = "未解决"
    to = [deputy(n) for n in case.deputies] + [unit(case.lead_unit)]
    x.tell("closed_unresolved", to, comment=p.comment)


def _act_on_escalation(x: ActionContext[c.EscalationActIn]) -> None:
    case, p = x.case, x.payload
    esc = case.open_escalation
    assert esc is not None  # the machine refuses the action without an open escalation
    to = [unit(case.lead_unit), office(case.offices.congress)]
    if p.decision == "notice":
        esc.steps.append(f"通报：{p.comment}")
        x.tell("escalation_notice", to, comment=p.comment, reason=esc.reason)
    elif p.decision == "rectify":
        esc.steps.append(f"限期整改：{p.comment}")
        x.start("rectify", amount=p.workdays or None)
        x.tell("rectification_ordered", to, comment=p.comment, reason=esc.reason)
    else:
        _close_escalation(esc, f"督查室结束督办：{p.comment}", x.at)
        x.effects.drop.append("rectify")
        x.tell("escalation_closed", to, comment=p.comment, reason=esc.reason)


def _close_escalation(esc: EscalationRecord | None, resolution: str, at: datetime) -> None:
    if esc is not None:
        esc.resolution, esc.resolved_at = resolution, at


def _fulfil(x: ActionContext[c.FulfilIn]) -> None:
    case, p = x.case, x.payload
    cm = next(m for m in case.commitments if m.number == p.number)
    cm.fulfilled, cm.fulfilled_at, cm.fulfilment = True, x.at, p.text
    if not case.open_commitments:
        texts = "；".join(f"{m.text}：{m.fulfilment}" for m in case.commitments)
        x.tell("supplementary_reply", [deputy(n) for n in case.deputies], unit=case.lead_unit, text=texts)


def _progress(x: ActionContext[c.ProgressIn]) -> None:
    p = x.payload
    x.case.progress.append(ProgressRecord(number=p.number, period=p.period, text=p.text, reported_by=x.principal, reported_at=x.at))


def _remark(x: ActionContext[c.RemarkIn]) -> None:
    case = x.case
    case.remarks.append(RemarkRecord(by=x.principal, role=x.role, text=x.payload.text, at=x.at))
    x.tell("remark", [unit(case.lead_unit)], actor=f"{ROLE_LABELS[x.role]}{x.principal}", text=x.payload.text)


def _mark_key(x: ActionContext[c.KeyIn]) -> None:
    case, p = x.case, x.payload
    previous = case.supervisor if case.key_supervision else ""
    case.key_supervision, case.supervisor = p.key, p.supervisor if p.key else ""
    case.key_since = x.at if p.key else None
    if not p.key:
        x.tell("key_cancelled", [unit(case.lead_unit), Recipient(kind="supervisor", name=previous)])
        return
    replaced = f"（接替原督办人{previous}）" if previous and previous != p.supervisor else ""
    x.tell("key_marked", [unit(case.lead_unit), Recipient(kind="supervisor", name=p.supervisor)], supervisor=p.supervisor, replaced=replaced)


def _withdraw(x: ActionContext[c.WithdrawIn]) -> None:
    case = x.case
    if case.lead_unit:
        x.tell("withdrawn", [unit(u) for u in (case.lead_unit, *case.co_handlers)], cycle="1", reason=x.payload.reason)


def _recompute(x: ActionContext[c.RecomputeIn]) -> None:
    """The calendar or the policy changed: every live deadline again from its own start."""
    dl = x.case.deadlines
    x.audit_extra["previous"] = {k: d.display_due() for k, d in dl.items()}
    for kind, d in dl.items():
        x.start(kind, d.rule, start=d.start, base_day=d.start_day)


OUTCOMES = {State.MERGED: "已并案", State.NOT_REGISTERED: "不予立案", State.WITHDRAWN: "已撤回"}


def settle(case: CaseState, dest: str, at: datetime) -> None:
    """The state after a step, and what a terminal state fixes (outcome, on time)."""
    case.state = dest
    case.last_effective_at = at
    if dest in OUTCOMES:
        case.outcome = OUTCOMES[State(dest)]
    if dest == State.CLOSED:
        missed = any(c.missed for c in case.commitments)
        case.outcome = case.outcome or (case.last_result or "未表态") + ("（承诺事项曾逾期未兑现）" if missed else "")
        case.on_time = (all(case.replies_on_time) and not missed) if case.replies_on_time else None
    if is_terminal(dest):
        case.overdue = False


def _nothing(x: ActionContext[Any]) -> None:
    return None


R = Role
_DECISION = "decision 应为 approve（同意）或 refuse（不同意）"
SPECS: dict[Action, ActionSpec] = {
    s.action: s
    for s in (
        ActionSpec(Action.SUBMIT, "提出建议", (R.DEPUTY,), c.SubmitInput, _nothing),
        ActionSpec(Action.REVIEW, "阅看", (R.CONGRESS_OFFICE,), c.ReviewIn, _review,
                   "decision 应为 register（立案）/ merge（并案）/ not_register（不予立案）/ return（退回修改）"),
        ActionSpec(Action.RESUBMIT, "重新提交", (R.DEPUTY,), c.ResubmitIn, _resubmit),
        ActionSpec(Action.ASSIGN, "交办", (R.CONGRESS_OFFICE, R.GOVERNMENT_OFFICE), c.AssignIn, _assign),
        ActionSpec(Action.SIGN, "签收", (R.UNIT,), c.Empty, _sign),
        ActionSpec(Action.REQUEST_ADJUSTMENT, "申请调整", (R.UNIT,), c.AdjustmentRequestIn, _request_adjustment),
        ActionSpec(Action.DECIDE_ADJUSTMENT, "审批调整申请", (R.CONGRESS_OFFICE,), c.AdjustmentDecisionIn, _decide_adjustment, _DECISION),
        ActionSpec(Action.REQUEST_EXTENSION, "申请延期", (R.UNIT,), c.ExtensionRequestIn, _request_extension),
        ActionSpec(Action.DECIDE_EXTENSION, "审批延期申请", (R.CONGRESS_OFFICE,), c.DecisionIn, _decide_extension, _DECISION),
        ActionSpec(Action.RECORD_CONTACT, "记录与代表沟通", (R.UNIT,), c.ContactIn, _record_contact),
        ActionSpec(Action.CO_OPINION, "提交协办意见", (R.UNIT,), c.OpinionIn, _co_opinion),
        ActionSpec(Action.REPLY, "答复", (R.UNIT,), c.ReplyIn, _reply),
        ActionSpec(Action.REVIEW_REPLY, "审核答复", (R.GOVERNMENT_OFFICE,), c.ReplyReviewIn, _review_reply,
                   "decision 应为 approve（通过）或 refuse（退回修改）"),
        ActionSpec(Action.EVALUATE, "评价", (R.DEPUTY,), c.EvaluateIn, _evaluate, "办理结果应为 满意 / 基本满意 / 不满意"),
        ActionSpec(Action.REMARK, "督办批注", (R.SUPERVISOR, R.CONGRESS_OFFICE, R.SUPERVISION_OFFICE), c.RemarkIn, _remark),
        ActionSpec(Action.MARK_KEY, "设定重点督办", (R.CONGRESS_OFFICE,), c.KeyIn, _mark_key),
        ActionSpec(Action.RESOLVE_ESCALATION, "处理督查事项", (R.SUPERVISION_OFFICE,), c.ResolveEscalationIn, _resolve_escalation,
                   "decision 应为 rehandle（责令重新办理）或 close（按未解决办结）"),
        ActionSpec(Action.ACT_ON_ESCALATION, "督查处理（通报、限期整改或结束督办）", (R.SUPERVISION_OFFICE,), c.EscalationActIn,
                   _act_on_escalation, "decision 应为 notice（通报）/ rectify（限期整改）/ close（结束督办）"),
        ActionSpec(Action.FULFIL_COMMITMENT, "兑现承诺事项", (R.UNIT,), c.FulfilIn, _fulfil),
        ActionSpec(Action.REPORT_PROGRESS, "报告承诺事项进展", (R.UNIT,), c.ProgressIn, _progress),
        ActionSpec(Action.WITHDRAW, "撤回", (R.DEPUTY,), c.WithdrawIn, _withdraw),
        ActionSpec(Action.RECOMPUTE_DEADLINES, "重新计算期限", (R.ADMIN,), c.RecomputeIn, _recompute),
        ActionSpec(Action.EXPIRE_EVALUATION, "评价期满未表态", (R.SYSTEM,), c.ExpireIn, _nothing),
    )
}
HUMAN_ACTIONS = tuple(a.value for a, s in SPECS.items() if R.SYSTEM not in s.roles and a is not Action.SUBMIT)
# Actions whose payload names handling units (checked against the directory before sending).
UNIT_FIELDS: dict[Action, tuple[str, ...]] = {
    Action.ASSIGN: ("lead_unit", "co_handlers"),
    Action.DECIDE_ADJUSTMENT: ("lead_unit", "co_handlers"),
}


def spec_for(action: str) -> ActionSpec:
    try:
        return SPECS[Action(action)]
    except ValueError:
        raise InputError(f"未知的操作「{action}」") from None


def decode(action: str, data: Any) -> Payload:
    """The action's payload, decoded once into its type (InputError in Chinese otherwise)."""
    return validate_payload(spec_for(action).payload, data)


def label(action: str, payload: dict[str, Any] | None = None) -> str:
    """How people read an action (or a system event) in a timeline."""
    if action == Action.MARK_KEY and payload is not None and payload.get("key") is False:
        return "取消重点督办"
    if action in SYSTEM_EVENTS:
        return SYSTEM_EVENTS[action]
    try:
        return SPECS[Action(action)].label
    except ValueError:
        return action


def unit_names(action: str, payload: Payload) -> list[str]:
    """The handling units an action's payload names (to check against the directory)."""
    names: list[str] = []
    for fieldname in UNIT_FIELDS.get(Action(action), ()):
        value = getattr(payload, fieldname, None)
        names += value if isinstance(value, list) else [value] if value else []
    return names
