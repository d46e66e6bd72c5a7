"""The lifecycle of a suggestion (DESIGN §2), written once with ``transitions``.

Pure: no I/O and no clock. The same object answers "may this role do this now?" for the
workflow's update validators, the CLI and the tests, and draws the state diagram for the docs.
Facts that depend on time (is the adjustment window still open?) are computed by the caller
and handed in as :class:`Facts`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field
from transitions import EventData, Machine


class State(StrEnum):
    SUBMITTED = "submitted"
    RETURNED = "returned"
    MERGED = "merged"
    NOT_REGISTERED = "not_registered"
    REGISTERED = "registered"
    ASSIGNED = "assigned"
    ADJUSTMENT_REQUESTED = "adjustment_requested"
    HANDLING = "handling"
    REPLY_REVIEW = "reply_review"
    REPLIED = "replied"
    REHANDLING = "rehandling"
    ESCALATED = "escalated"
    FOLLOW_UP = "follow_up"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


class Role(StrEnum):
    DEPUTY = "deputy"
    CONGRESS_OFFICE = "congress_office"
    GOVERNMENT_OFFICE = "government_office"
    UNIT = "unit"
    SUPERVISION_OFFICE = "supervision_office"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"
    SYSTEM = "system"


STATE_LABELS: dict[str, str] = {
    "submitted": "已提出（待阅看）",
    "returned": "退回修改",
    "merged": "已并案",
    "not_registered": "不予立案（转来信处理）",
    "registered": "已立案（待交办）",
    "assigned": "已交办（待签收）",
    "adjustment_requested": "申请调整中",
    "handling": "办理中",
    "reply_review": "答复审核中",
    "replied": "已答复（待评价）",
    "rehandling": "重新办理中",
    "escalated": "已移交督查室",
    "follow_up": "承诺事项跟踪中",
    "withdrawn": "已撤回",
    "closed": "已办结",
}

STAGES: dict[str, str] = {
    "submitted": "提", "returned": "提", "merged": "提", "not_registered": "提",
    "registered": "交", "assigned": "交", "adjustment_requested": "交",
    "handling": "办", "reply_review": "办", "rehandling": "办",
    "replied": "评", "escalated": "督", "follow_up": "督",
    "withdrawn": "结", "closed": "结",
}

ROLE_LABELS: dict[str, str] = {
    "deputy": "代表",
    "congress_office": "代表工委",
    "government_office": "政府办",
    "unit": "承办单位",
    "supervision_office": "督查室",
    "supervisor": "督办人",
    "auditor": "审计人员",
    "admin": "系统管理员",
    "system": "系统",
}

ACTION_LABELS: dict[str, str] = {
    "submit": "提出建议",
    "review": "阅看",
    "resubmit": "重新提交",
    "assign": "交办",
    "sign": "签收",
    "request_adjustment": "申请调整",
    "decide_adjustment": "审批调整申请",
    "request_extension": "申请延期",
    "decide_extension": "审批延期申请",
    "record_contact": "记录与代表沟通",
    "co_opinion": "提交协办意见",
    "reply": "答复",
    "review_reply": "审核答复",
    "evaluate": "评价",
    "remark": "督办批注",
    "mark_key": "设定重点督办",
    "resolve_escalation": "处理督查事项",
    "fulfil_commitment": "兑现承诺事项",
    "withdraw": "撤回",
    "expire_evaluation": "评价期满未表态",
    "report_progress": "报告承诺事项进展",
    "recompute_deadlines": "重新计算期限",
}

# What is expected next in each state (for digests and reminders).
NEXT_STEPS: dict[str, str] = {
    "submitted": "代表工委阅看",
    "returned": "代表修改后重新提交",
    "registered": "交办承办单位",
    "assigned": "承办单位签收（或在期限内申请调整）",
    "adjustment_requested": "代表工委审批调整申请",
    "handling": "与代表沟通并答复",
    "reply_review": "政府办审核答复",
    "replied": "代表评价",
    "rehandling": "重新办理并答复代表",
    "escalated": "督查室处理",
    "follow_up": "兑现承诺事项并补充答复",
}

TERMINAL = frozenset({State.MERGED, State.NOT_REGISTERED, State.WITHDRAWN, State.CLOSED})
OPEN_STATES = tuple(s for s in State if s not in TERMINAL)
HANDLING_STATES = (State.ASSIGNED, State.ADJUSTMENT_REQUESTED, State.HANDLING, State.REPLY_REVIEW, State.REHANDLING)
# The lead unit owes a reply (in reply_review it is the government office's turn): the reply
# deadline's reminders run and the case can be overdue.
AWAITING_REPLY = (State.ASSIGNED, State.ADJUSTMENT_REQUESTED, State.HANDLING, State.REHANDLING)
SATISFIED = ("满意", "基本满意")


class Facts(BaseModel):
    """What the machine needs to know about the case and the caller to decide."""

    principal: str  # whose act this is (the actor, or whom an admin records it for)
    role: Role
    payload: dict[str, Any] = Field(default_factory=dict)
    lead_deputy: str = ""
    lead_unit: str = ""
    co_handlers: list[str] = Field(default_factory=list)
    round: int = 1
    max_rounds: int = 2
    contact_this_round: bool = False
    contact_required: bool = True
    review_required: bool = True
    extensions_used: int = 0
    max_extensions: int = 1
    extension_pending: bool = False
    adjustment_window_open: bool = True
    adjustment_window_due: str = ""
    replied_ever: bool = False
    open_commitments: list[int] = Field(default_factory=list)
    key_supervision: bool = False


class Refused(Exception):
    """An action the lifecycle does not allow now; ``message`` is for people (Chinese)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Guard:
    """A condition with the Chinese sentence that explains a refusal."""

    code: str
    message: str
    test: Callable[[Facts], bool]

    def __call__(self, event: EventData) -> bool:
        return self.test(event.kwargs["facts"])

    def explain(self, facts: Facts, action: str) -> str:
        number = facts.payload.get("number", "（未填写）")
        return self.message.format(action=ACTION_LABELS.get(action, action), f=facts, number=number)


def _decision(value: str) -> Callable[[Facts], bool]:
    return lambda f: f.payload.get("decision") == value


# Branch selectors (which way the action goes) --------------------------------------------
def when(code: str, test: Callable[[Facts], bool]) -> Guard:
    return Guard(code, "", test)


REGISTER = when("register", _decision("register"))
MERGE = when("merge", _decision("merge"))
NOT_REGISTER = when("not_register", _decision("not_register"))
RETURN = when("return", _decision("return"))
APPROVE = when("approve", _decision("approve"))
REFUSE = when("refuse", _decision("refuse"))
REHANDLE = when("rehandle", _decision("rehandle"))
CLOSE = when("close", _decision("close"))
NEEDS_REVIEW = when("needs_review", lambda f: f.review_required)
NO_REVIEW = when("no_review", lambda f: not f.review_required)
FIRST_ROUND = when("first_round", lambda f: f.round <= 1)
LATER_ROUND = when("later_round", lambda f: f.round > 1)
RESULT_OK_WITH_COMMITMENTS = when(
    "ok_commitments", lambda f: f.payload.get("result") in SATISFIED and bool(f.open_commitments)
)
RESULT_OK = when("ok", lambda f: f.payload.get("result") in SATISFIED and not f.open_commitments)
RESULT_BAD_ROUNDS_LEFT = when(
    "bad_rounds_left", lambda f: f.payload.get("result") == "不满意" and f.round < f.max_rounds
)
RESULT_BAD_LAST_ROUND = when(
    "bad_last_round", lambda f: f.payload.get("result") == "不满意" and f.round >= f.max_rounds
)
MORE_COMMITMENTS = when("more_commitments", lambda f: len(f.open_commitments) > 1)
LAST_COMMITMENT = when("last_commitment", lambda f: len(f.open_commitments) <= 1)

# Requirements (refusals people read) -------------------------------------------------------
IS_LEAD_DEPUTY = Guard(
    "not_lead_deputy", "只有领衔代表（{f.lead_deputy}）可以{action}，「{f.principal}」不能", lambda f: f.principal == f.lead_deputy
)
IS_LEAD_UNIT = Guard(
    "not_lead_unit", "只有主办单位（{f.lead_unit}）可以{action}，「{f.principal}」不能", lambda f: f.principal == f.lead_unit
)
IS_HANDLER = Guard(
    "not_handler",
    "「{f.principal}」不是本建议的承办单位，不能{action}",
    lambda f: f.principal == f.lead_unit or f.principal in f.co_handlers,
)
IS_CO_HANDLER = Guard(
    "not_co_handler", "「{f.principal}」不是本建议的协办单位，不能{action}", lambda f: f.principal in f.co_handlers
)
WINDOW_OPEN = Guard(
    "adjustment_window_closed",
    "已超过申请调整的期限（{f.adjustment_window_due}），不能再申请调整",
    lambda f: f.adjustment_window_open,
)
CONTACT_RECORDED = Guard(
    "no_contact",
    "答复前须先记录与代表的沟通（座谈、上门、电话或书面），本轮尚无沟通记录",
    lambda f: f.contact_this_round or not f.contact_required,
)
EXTENSION_LEFT = Guard(
    "extension_used", "延期最多只能申请{f.max_extensions}次，本建议已经延期过", lambda f: f.extensions_used < f.max_extensions
)
NO_PENDING_EXTENSION = Guard(
    "extension_pending", "已有一项待审批的延期申请", lambda f: not f.extension_pending
)
EXTENSION_PENDING = Guard("no_extension_request", "没有待审批的延期申请", lambda f: f.extension_pending)
NOT_REPLIED = Guard("already_replied", "建议已经答复，不能再撤回", lambda f: not f.replied_ever)
HAS_OPEN_COMMITMENT = Guard(
    "no_such_commitment",
    "没有编号为 {number} 的未兑现承诺事项",
    lambda f: f.payload.get("number") in f.open_commitments,
)

ROLE_RULES: dict[str, tuple[Role, ...]] = {
    "review": (Role.CONGRESS_OFFICE,),
    "resubmit": (Role.DEPUTY,),
    "assign": (Role.CONGRESS_OFFICE, Role.GOVERNMENT_OFFICE),
    "sign": (Role.UNIT,),
    "request_adjustment": (Role.UNIT,),
    "decide_adjustment": (Role.CONGRESS_OFFICE,),
    "request_extension": (Role.UNIT,),
    "decide_extension": (Role.CONGRESS_OFFICE,),
    "record_contact": (Role.UNIT,),
    "co_opinion": (Role.UNIT,),
    "reply": (Role.UNIT,),
    "review_reply": (Role.GOVERNMENT_OFFICE,),
    "evaluate": (Role.DEPUTY,),
    "remark": (Role.SUPERVISOR, Role.CONGRESS_OFFICE, Role.SUPERVISION_OFFICE),
    "mark_key": (Role.CONGRESS_OFFICE,),
    "resolve_escalation": (Role.SUPERVISION_OFFICE,),
    "fulfil_commitment": (Role.UNIT,),
    "withdraw": (Role.DEPUTY,),
    "expire_evaluation": (Role.SYSTEM,),
    "report_progress": (Role.UNIT,),
    "recompute_deadlines": (Role.ADMIN,),
}
HUMAN_ACTIONS = tuple(a for a, roles in ROLE_RULES.items() if Role.SYSTEM not in roles)
# Who may enter a step that happened on paper (补录): dated when it happened, for someone else.
BACKFILL_ROLES = (Role.ADMIN,)


def check_backfill(role: Role | str) -> None:
    """Refuse a backdated or on-behalf step from anyone but an admin."""
    if role not in BACKFILL_ROLES:
        raise Refused("role_not_allowed", "只有系统管理员可以补录（代为登记或指定发生时间）")


def check_submission(actor: str, role: Role | str, lead_deputy: str) -> None:
    """提: the lead deputy submits; an admin may enter a paper submission (补录)."""
    if role in BACKFILL_ROLES:
        return
    if role != Role.DEPUTY:
        raise Refused("role_not_allowed", "只有代表可以提出建议（系统管理员可以补录）")
    if actor != lead_deputy:
        raise Refused("not_lead_deputy", f"建议应由领衔代表（{lead_deputy}）提出，「{actor}」不能代为提出")

_OPEN = [s.value for s in OPEN_STATES]
_WORKING = [State.ASSIGNED, State.ADJUSTMENT_REQUESTED, State.HANDLING, State.REPLY_REVIEW, State.REHANDLING]


@dataclass(frozen=True)
class Step:
    trigger: str
    source: State | list[State] | list[str]
    dest: State | None  # None: the state stays (an internal transition)
    when: tuple[Guard, ...] = ()
    requires: tuple[Guard, ...] = ()
    sources: list[str] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        src = self.source if isinstance(self.source, list) else [self.source]
        object.__setattr__(self, "sources", [str(s) for s in src])


S = State
STEPS: tuple[Step, ...] = (
    # 提
    Step("review", S.SUBMITTED, S.REGISTERED, (REGISTER,)),
    Step("review", S.SUBMITTED, S.MERGED, (MERGE,)),
    Step("review", S.SUBMITTED, S.NOT_REGISTERED, (NOT_REGISTER,)),
    Step("review", S.SUBMITTED, S.RETURNED, (RETURN,)),
    Step("resubmit", S.RETURNED, S.SUBMITTED, requires=(IS_LEAD_DEPUTY,)),
    # 交
    Step("assign", S.REGISTERED, S.ASSIGNED),
    Step("sign", S.ASSIGNED, S.HANDLING, requires=(IS_LEAD_UNIT,)),
    Step("request_adjustment", S.ASSIGNED, S.ADJUSTMENT_REQUESTED, requires=(IS_HANDLER, WINDOW_OPEN)),
    Step("decide_adjustment", S.ADJUSTMENT_REQUESTED, S.ASSIGNED, (APPROVE,)),
    Step("decide_adjustment", S.ADJUSTMENT_REQUESTED, S.ASSIGNED, (REFUSE,)),
    # 办
    Step("request_extension", [S.HANDLING], None, requires=(IS_LEAD_UNIT, EXTENSION_LEFT, NO_PENDING_EXTENSION)),
    Step("decide_extension", [S.HANDLING, S.REPLY_REVIEW], None, (APPROVE,), (EXTENSION_PENDING,)),
    Step("decide_extension", [S.HANDLING, S.REPLY_REVIEW], None, (REFUSE,), (EXTENSION_PENDING,)),
    Step("record_contact", [S.HANDLING, S.REHANDLING], None, requires=(IS_HANDLER,)),
    Step("co_opinion", [S.ASSIGNED, S.HANDLING, S.REHANDLING], None, requires=(IS_CO_HANDLER,)),
    Step("reply", [S.HANDLING, S.REHANDLING], S.REPLY_REVIEW, (NEEDS_REVIEW,), (IS_LEAD_UNIT, CONTACT_RECORDED)),
    Step("reply", [S.HANDLING, S.REHANDLING], S.REPLIED, (NO_REVIEW,), (IS_LEAD_UNIT, CONTACT_RECORDED)),
    Step("review_reply", S.REPLY_REVIEW, S.REPLIED, (APPROVE,)),
    Step("review_reply", S.REPLY_REVIEW, S.HANDLING, (REFUSE, FIRST_ROUND)),
    Step("review_reply", S.REPLY_REVIEW, S.REHANDLING, (REFUSE, LATER_ROUND)),
    # 评
    Step("evaluate", S.REPLIED, S.FOLLOW_UP, (RESULT_OK_WITH_COMMITMENTS,), (IS_LEAD_DEPUTY,)),
    Step("evaluate", S.REPLIED, S.CLOSED, (RESULT_OK,), (IS_LEAD_DEPUTY,)),
    Step("evaluate", S.REPLIED, S.REHANDLING, (RESULT_BAD_ROUNDS_LEFT,), (IS_LEAD_DEPUTY,)),
    Step("evaluate", S.REPLIED, S.ESCALATED, (RESULT_BAD_LAST_ROUND,), (IS_LEAD_DEPUTY,)),
    Step("expire_evaluation", S.REPLIED, S.CLOSED),
    # 督
    Step("resolve_escalation", S.ESCALATED, S.REHANDLING, (REHANDLE,)),
    Step("resolve_escalation", S.ESCALATED, S.CLOSED, (CLOSE,)),
    Step("fulfil_commitment", S.FOLLOW_UP, None, (MORE_COMMITMENTS,), (IS_LEAD_UNIT, HAS_OPEN_COMMITMENT)),
    Step("fulfil_commitment", S.FOLLOW_UP, S.CLOSED, (LAST_COMMITMENT,), (IS_LEAD_UNIT, HAS_OPEN_COMMITMENT)),
    Step("report_progress", S.FOLLOW_UP, None, requires=(IS_LEAD_UNIT, HAS_OPEN_COMMITMENT)),
    Step("recompute_deadlines", list(_OPEN), None),
    Step("remark", list(_OPEN), None),
    Step("mark_key", list(_OPEN), None),
    Step(
        "withdraw",
        [S.SUBMITTED, S.RETURNED, S.REGISTERED, *_WORKING],
        S.WITHDRAWN,
        requires=(IS_LEAD_DEPUTY, NOT_REPLIED),
    ),
)


@dataclass(frozen=True)
class Decision:
    action: str
    source: str
    dest: str  # the state after the action (the same state for an internal one)
    selectors: tuple[str, ...]


class Lifecycle:
    """One case's place in the lifecycle; rebuilt from the stored state string."""

    state: str

    def __init__(self, state: str | State = State.SUBMITTED) -> None:
        self.machine = Machine(
            model=self,
            states=[s.value for s in State],
            transitions=[self._transition(step) for step in STEPS],
            initial=str(state),
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=False,
        )

    @staticmethod
    def _transition(step: Step) -> dict[str, Any]:
        return {
            "trigger": step.trigger,
            "source": step.sources,
            "dest": str(step.dest) if step.dest else None,
            "conditions": [*step.when, *step.requires],
        }

    # -- asking -------------------------------------------------------------------------------
    def decide(self, action: str, facts: Facts) -> Decision:
        """The step ``action`` would take now, or :class:`Refused` with a Chinese reason."""
        if action not in ROLE_RULES:
            raise Refused("unknown_action", f"未知的操作「{action}」")
        label = ACTION_LABELS[action]
        candidates = [s for s in STEPS if s.trigger == action and self.state in s.sources]
        if not candidates:
            raise Refused(
                "illegal_state",
                f"建议当前状态为「{STATE_LABELS[self.state]}」，不能{label}",
            )
        if facts.role not in ROLE_RULES[action]:
            allowed = "、".join(ROLE_LABELS[r] for r in ROLE_RULES[action])
            raise Refused(
                "role_not_allowed",
                f"角色「{ROLE_LABELS[facts.role]}」不能{label}（可由{allowed}办理）",
            )
        chosen = [s for s in candidates if all(g.test(facts) for g in s.when)]
        if not chosen:
            raise Refused("invalid_choice", f"{label}的选项无效：{_choice_hint(action, facts)}")
        for step in chosen:
            failing = next((g for g in step.requires if not g.test(facts)), None)
            if failing is None:
                dest = str(step.dest) if step.dest else self.state
                return Decision(action, self.state, dest, tuple(g.code for g in step.when))
        first = next(g for g in chosen[0].requires if not g.test(facts))
        raise Refused(first.code, first.explain(facts, action))

    def may(self, action: str, facts: Facts) -> bool:
        try:
            self.decide(action, facts)
        except Refused:
            return False
        return True

    def actions_for(self, role: Role) -> list[str]:
        """Actions this role could take in the current state (before looking at the details)."""
        return [
            a
            for a, roles in ROLE_RULES.items()
            if role in roles and any(s.trigger == a and self.state in s.sources for s in STEPS)
        ]

    # -- doing --------------------------------------------------------------------------------
    def apply(self, action: str, facts: Facts) -> Decision:
        """Take the step (refusing exactly as :meth:`decide` does); returns what happened."""
        decision = self.decide(action, facts)
        if not self.trigger(action, facts=facts):  # type: ignore[attr-defined]
            raise Refused("refused", f"不能{ACTION_LABELS[action]}")  # pragma: no cover
        return decision

    @property
    def is_terminal(self) -> bool:
        return State(self.state) in TERMINAL


def _choice_hint(action: str, facts: Facts) -> str:
    hints = {
        "review": "decision 应为 register（立案）/ merge（并案）/ not_register（不予立案）/ return（退回修改）",
        "decide_adjustment": "decision 应为 approve（同意）或 refuse（不同意）",
        "decide_extension": "decision 应为 approve（同意）或 refuse（不同意）",
        "review_reply": "decision 应为 approve（通过）或 refuse（退回修改）",
        "resolve_escalation": "decision 应为 rehandle（责令重新办理）或 close（按未解决办结）",
        "evaluate": "办理结果应为 满意 / 基本满意 / 不满意",
    }
    return hints.get(action, str(facts.payload))


def mermaid_diagram(state: str = State.SUBMITTED) -> str:
    """The state diagram as Mermaid text (transitions' own mermaid engine), for docs/."""
    from transitions.extensions import GraphMachine

    class _Model:
        pass

    model = _Model()
    GraphMachine(
        model=model,
        states=[s.value for s in State],
        transitions=[Lifecycle._transition(step) for step in STEPS if step.dest],
        initial=str(state),
        auto_transitions=False,
        graph_engine="mermaid",
        title="建议办理生命周期",
    )
    return model.get_graph().draw(None)  # type: ignore[attr-defined]
