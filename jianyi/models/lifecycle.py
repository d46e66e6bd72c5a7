"""The lifecycle of a suggestion (DESIGN §2), written once with ``transitions``.

Pure: no I/O and no clock. The same object answers "may this role do this now?" for the
workflow's update validators, the CLI and the tests, and draws the state diagram for the docs.
Facts that depend on time (is the adjustment window still open?) are computed by the caller
and handed in as :class:`Facts`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from pydantic import BaseModel, Field
from transitions import EventData, Machine

from jianyi.models.actions import HUMAN_ACTIONS, SPECS, Action
from jianyi.models.case import CaseState
from jianyi.models.policy import china_day
from jianyi.models.states import (  # noqa: F401  (re-exported: the lifecycle's vocabulary)
    AWAITING_REPLY,
    HANDLING_STATES,
    NEXT_STEPS,
    OPEN_STATES,
    ROLE_LABELS,
    SATISFIED,
    STAGES,
    STATE_LABELS,
    TERMINAL,
    WITHDRAWABLE,
    Role,
    State,
)

ROLE_RULES: dict[str, tuple[Role, ...]] = {a.value: spec.roles for a, spec in SPECS.items() if a is not Action.SUBMIT}
ACTION_LABELS: dict[str, str] = {a.value: spec.label for a, spec in SPECS.items()}


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
    supervisor: str = ""
    adjustment_asked: bool = False  # the principal already asked to adjust this assignment
    open_escalation: bool = False  # 督查室 has an escalation open on the case
    today: str = ""  # the day (China) the act takes effect, ISO
    assigned_day: str = ""  # the day of the current assignment, ISO


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
NOT_REPLIED = Guard("already_replied", "答复已送达代表，不能再撤回", lambda f: not f.replied_ever)
NOT_ASKED_YET = Guard(
    "adjustment_asked", "「{f.principal}」已就本次交办申请过调整，每次交办只能申请一次", lambda f: not f.adjustment_asked
)
ASSIGNED_SUPERVISOR = Guard(
    "not_assigned_supervisor",
    "「{f.principal}」不是本建议的督办人，不能{action}",
    lambda f: f.role != Role.SUPERVISOR or (f.key_supervision and f.principal == f.supervisor),
)
CONTACT_DATE_OK = Guard(
    "contact_date",
    "沟通日期应不早于交办日（{f.assigned_day}）、不晚于今天（{f.today}）",
    lambda f: not f.today or f.assigned_day <= str(f.payload.get("on", "")) <= f.today,
)
COMMITMENT_DATES_OK = Guard(
    "commitment_date",
    "承诺完成日期应晚于答复日（{f.today}），且不超过答复后5年",
    lambda f: not f.today or all(f.today < str(c.get("promised_date", "")) <= _years_later(f.today, 5) for c in f.payload.get("commitments", [])),
)
HAS_OPEN_ESCALATION = Guard("no_open_escalation", "本建议没有待处理的督查事项", lambda f: f.open_escalation)
HAS_OPEN_COMMITMENT = Guard(
    "no_such_commitment",
    "没有编号为 {number} 的未兑现承诺事项",
    lambda f: f.payload.get("number") in f.open_commitments,
)

# Who may enter a step that happened on paper (补录): dated when it happened, for someone else.
BACKFILL_ROLES = (Role.ADMIN,)


def check_backfill(role: Role | str) -> None:
    """Refuse a backdated or on-behalf step from anyone but an admin."""
    if role not in BACKFILL_ROLES:
        raise Refused("role_not_allowed", "只有系统管理员可以补录（代为登记或指定发生时间）")


def backfill_principal(
    role: Role, on_behalf_of: str, effective_at: datetime | None, now: datetime, last_effective_at: datetime | None
) -> tuple[str, Role, datetime]:
    """补录: whose act an admin enters (``unit:区城管局``) and when it happened (past, in order)."""
    check_backfill(role)
    role_text, _, name = on_behalf_of.partition(":")
    if role_text not in {r.value for r in Role} or not name or role_text in (Role.ADMIN, Role.SYSTEM):
        raise Refused("invalid_input", "补录须指明代谁登记，格式为 角色:名称，如 unit:区城管局")
    effective = effective_at or now
    if effective > now:
        raise Refused("invalid_input", "补录的发生时间不能晚于现在")
    if last_effective_at and effective < last_effective_at:
        raise Refused("invalid_input", "补录的发生时间不能早于上一步的发生时间")
    return name, Role(role_text), effective


def check_submission(actor: str, role: Role | str, lead_deputy: str) -> None:
    """提: the lead deputy submits; an admin may enter a paper submission (补录)."""
    if role in BACKFILL_ROLES:
        return
    if role != Role.DEPUTY:
        raise Refused("role_not_allowed", "只有代表可以提出建议（系统管理员可以补录）")
    if actor != lead_deputy:
        raise Refused("not_lead_deputy", f"建议应由领衔代表（{lead_deputy}）提出，「{actor}」不能代为提出")

_OPEN = [s.value for s in OPEN_STATES]


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
    Step("request_adjustment", S.ASSIGNED, S.ADJUSTMENT_REQUESTED, requires=(IS_HANDLER, WINDOW_OPEN, NOT_ASKED_YET)),
    Step("decide_adjustment", S.ADJUSTMENT_REQUESTED, S.ASSIGNED, (APPROVE,)),
    Step("decide_adjustment", S.ADJUSTMENT_REQUESTED, S.ASSIGNED, (REFUSE,)),
    # 办
    Step("request_extension", [S.HANDLING], None, requires=(IS_LEAD_UNIT, EXTENSION_LEFT, NO_PENDING_EXTENSION)),
    Step("decide_extension", [S.HANDLING, S.REPLY_REVIEW], None, (APPROVE,), (EXTENSION_PENDING,)),
    Step("decide_extension", [S.HANDLING, S.REPLY_REVIEW], None, (REFUSE,), (EXTENSION_PENDING,)),
    Step("record_contact", [S.HANDLING, S.REHANDLING], None, requires=(IS_HANDLER, CONTACT_DATE_OK)),
    Step("co_opinion", [S.ASSIGNED, S.HANDLING, S.REHANDLING], None, requires=(IS_CO_HANDLER,)),
    Step("reply", [S.HANDLING, S.REHANDLING], S.REPLY_REVIEW, (NEEDS_REVIEW,), (IS_LEAD_UNIT, CONTACT_RECORDED, COMMITMENT_DATES_OK)),
    Step("reply", [S.HANDLING, S.REHANDLING], S.REPLIED, (NO_REVIEW,), (IS_LEAD_UNIT, CONTACT_RECORDED, COMMITMENT_DATES_OK)),
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
    Step("remark", list(_OPEN), None, requires=(ASSIGNED_SUPERVISOR,)),
    Step("act_on_escalation", list(_OPEN), None, requires=(HAS_OPEN_ESCALATION,)),
    Step("mark_key", list(_OPEN), None),
    Step(
        "withdraw",
        list(WITHDRAWABLE),
        S.WITHDRAWN,
        requires=(IS_LEAD_DEPUTY, NOT_REPLIED),
    ),
)


@dataclass(frozen=True)
class Move:
    """The step an action takes: from which state to which, and by which branch."""

    action: str
    source: str
    dest: str  # the state after the action (the same state for an internal one)
    selectors: tuple[str, ...]


class Lifecycle:
    """One case's place in the lifecycle; rebuilt from the stored state string."""

    state: str

    def __init__(self, state: str | State = State.SUBMITTED) -> None:
        self.state = str(state)

    @cached_property
    def machine(self) -> Machine:
        """The ``transitions`` machine that takes the steps, built on first use: deciding needs only
        the state and STEPS, and a workflow rebuilds its Lifecycle for every case it loads."""
        return Machine(
            model=self,
            states=[s.value for s in State],
            transitions=[self._transition(step) for step in STEPS],
            initial=self.state,
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
    def decide(self, action: str, facts: Facts) -> Move:
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
                return Move(action, self.state, dest, tuple(g.code for g in step.when))
        first = next(g for g in chosen[0].requires if not g.test(facts))
        raise Refused(first.code, first.explain(facts, action))

    def could(self, action: str, facts: Facts) -> bool:
        """May this be done now, whatever options its form will choose?"""
        if facts.role not in ROLE_RULES.get(action, ()):
            return False
        steps = [s for s in STEPS if s.trigger == action and self.state in s.sources]
        return any(all(g.test(facts) for g in s.requires if g.code not in CHOSEN_IN_FORM) for s in steps)

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
    def apply(self, action: str, facts: Facts) -> Move:
        """Take the step (refusing exactly as :meth:`decide` does); returns what happened."""
        decision = self.decide(action, facts)
        if not self.machine.events[action].trigger(self, facts=facts):  # type: ignore[attr-defined]
            raise Refused("refused", f"不能{ACTION_LABELS[action]}")  # pragma: no cover
        return decision

    def move_to(self, state: str) -> None:
        """Take a step decided before (and recorded since): the state becomes ``state``."""
        self.state = State(state).value  # transitions keeps the state on its model: this is the machine's state too

    @property
    def is_terminal(self) -> bool:
        return State(self.state) in TERMINAL


def _years_later(iso_day: str, years: int) -> str:
    return f"{int(iso_day[:4]) + years:04d}{iso_day[4:]}"


def _choice_hint(action: str, facts: Facts) -> str:
    return SPECS[Action(action)].choices or str(facts.payload)


def facts_for(case: CaseState, principal: str, role: Role, payload: dict[str, Any], at: datetime) -> Facts:
    """What the machine needs to decide, read from the case (the workflow, the API and the CLI)."""
    p = case.policy
    sign = case.deadlines.get("sign")
    asked = any(a.active and a.unit == principal and a.adjustment_asked for a in case.assignments)
    return Facts(
        principal=principal, role=role, payload=payload,
        lead_deputy=case.submission.lead_deputy, lead_unit=case.lead_unit, co_handlers=case.co_handlers,
        round=case.round, max_rounds=p.max_rounds,
        contact_this_round=case.round in case.contact_rounds, contact_required=p.contact_required,
        review_required=p.reply_review_required,
        extensions_used=case.extensions_used, max_extensions=p.max_extensions, extension_pending=case.extension_pending,
        adjustment_window_open=sign is None or at < sign.due_at, adjustment_window_due=sign.display_due() if sign else "",
        replied_ever=case.reply_reached_deputy, open_commitments=case.open_commitments,
        key_supervision=case.key_supervision, supervisor=case.supervisor,
        adjustment_asked=asked, open_escalation=case.open_escalation is not None,
        today=china_day(at).isoformat(), assigned_day=china_day(case.assigned_at).isoformat() if case.assigned_at else "",
    )


CHOSEN_IN_FORM = ("invalid_choice", "no_such_commitment", "contact_date", "commitment_date")


def allowed_actions(case: CaseState, principal: str, role: Role, at: datetime) -> list[str]:
    """The human actions this principal may take on the case now, before its form is filled in:
    the state and role allow it, and every requirement holds that does not depend on the form."""
    machine = Lifecycle(case.state)
    facts = facts_for(case, principal, role, {}, at)
    return [a for a in machine.actions_for(role) if a in HUMAN_ACTIONS and machine.could(a, facts)]


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
