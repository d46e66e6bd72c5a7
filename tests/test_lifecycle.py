"""The lifecycle machine (DESIGN §2): every state's legal exits, refusals in Chinese, branching.

Pure unit tests of jianyi.models.lifecycle: no Temporal, no database.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from jianyi.models.lifecycle import (
    ACTION_LABELS,
    OPEN_STATES,
    ROLE_RULES,
    STATE_LABELS,
    STEPS,
    TERMINAL,
    Facts,
    Lifecycle,
    Refused,
    Role,
    State,
    mermaid_diagram,
)

S = State
DEPUTY = "饶满琳"  # the lead deputy
CO_SIGNER = "胡家胜"
LEAD = "区城管局"
CO = "区水务局"
OTHER_UNIT = "区教育局"
PRINCIPALS = {
    Role.DEPUTY: DEPUTY,
    Role.UNIT: LEAD,
    Role.CONGRESS_OFFICE: "区人大常委会代表工作委员会",
    Role.GOVERNMENT_OFFICE: "区政府办公室",
    Role.SUPERVISION_OFFICE: "区政府督查室",
    Role.SUPERVISOR: "主任会议成员",
    Role.AUDITOR: "审计人员",
    Role.ADMIN: "系统管理员",
    Role.SYSTEM: "system",
}


def facts(role: Role, principal: str | None = None, **kw: Any) -> Facts:
    """Facts under which a well-behaved caller acts: contact recorded, window open, round 1."""
    base: dict[str, Any] = dict(
        principal=principal if principal is not None else PRINCIPALS[role],
        role=role,
        lead_deputy=DEPUTY,
        lead_unit=LEAD,
        co_handlers=[CO],
        contact_this_round=True,
        adjustment_window_due="2025-03-14 24:00",
    )
    base.update(kw)
    return Facts(**base)


def refusal(state: State, action: str, f: Facts) -> Refused:
    with pytest.raises(Refused) as caught:
        Lifecycle(state).decide(action, f)
    return caught.value


# -- the table of DESIGN §2 -----------------------------------------------------------------
# (action, destination); a destination equal to the source is an internal step (state stays).
INTERNAL = ("remark", "mark_key", "recompute_deadlines", "act_on_escalation")
EXITS: dict[State, set[tuple[str, State]]] = {
    S.SUBMITTED: {
        ("review", S.REGISTERED),
        ("review", S.MERGED),
        ("review", S.NOT_REGISTERED),
        ("review", S.RETURNED),
        ("withdraw", S.WITHDRAWN),
    },
    S.RETURNED: {("resubmit", S.SUBMITTED), ("withdraw", S.WITHDRAWN)},
    S.REGISTERED: {("assign", S.ASSIGNED), ("withdraw", S.WITHDRAWN)},
    S.ASSIGNED: {
        ("sign", S.HANDLING),
        ("request_adjustment", S.ADJUSTMENT_REQUESTED),
        ("co_opinion", S.ASSIGNED),
        ("withdraw", S.WITHDRAWN),
    },
    S.ADJUSTMENT_REQUESTED: {("decide_adjustment", S.ASSIGNED), ("withdraw", S.WITHDRAWN)},
    S.HANDLING: {
        ("reply", S.REPLY_REVIEW),
        ("reply", S.REPLIED),
        ("request_extension", S.HANDLING),
        ("decide_extension", S.HANDLING),
        ("record_contact", S.HANDLING),
        ("co_opinion", S.HANDLING),
        ("withdraw", S.WITHDRAWN),
    },
    S.REPLY_REVIEW: {
        ("review_reply", S.REPLIED),
        ("review_reply", S.HANDLING),
        ("review_reply", S.REHANDLING),
        ("decide_extension", S.REPLY_REVIEW),
        ("withdraw", S.WITHDRAWN),
    },
    S.REPLIED: {
        ("evaluate", S.CLOSED),
        ("evaluate", S.FOLLOW_UP),
        ("evaluate", S.REHANDLING),
        ("evaluate", S.ESCALATED),
        ("expire_evaluation", S.CLOSED),
    },
    S.REHANDLING: {
        ("reply", S.REPLY_REVIEW),
        ("reply", S.REPLIED),
        ("record_contact", S.REHANDLING),
        ("co_opinion", S.REHANDLING),
        ("withdraw", S.WITHDRAWN),  # listed, but refused once a reply was ever given
    },
    S.ESCALATED: {("resolve_escalation", S.REHANDLING), ("resolve_escalation", S.CLOSED)},
    S.FOLLOW_UP: {("fulfil_commitment", S.FOLLOW_UP), ("fulfil_commitment", S.CLOSED), ("report_progress", S.FOLLOW_UP)},
    S.MERGED: set(),
    S.NOT_REGISTERED: set(),
    S.WITHDRAWN: set(),
    S.CLOSED: set(),
}
for _state in OPEN_STATES:
    EXITS[_state] |= {(a, _state) for a in INTERNAL}


def test_the_table_covers_every_state() -> None:
    assert set(EXITS) == set(State)
    assert {s for s, exits in EXITS.items() if not exits} == set(TERMINAL)


@pytest.mark.parametrize("state", list(State))
def test_every_state_has_exactly_the_designed_exits(state: State) -> None:
    declared = {
        (step.trigger, State(step.dest) if step.dest else state)
        for step in STEPS
        if state.value in step.sources
    }
    assert declared == EXITS[state]
    assert Lifecycle(state).is_terminal is (state in TERMINAL)


# Each designed exit, reached through decide() with the facts that lead there.
REACH: list[tuple[State, str, Facts, State]] = [
    (S.SUBMITTED, "review", facts(Role.CONGRESS_OFFICE, payload={"decision": "register"}), S.REGISTERED),
    (S.SUBMITTED, "review", facts(Role.CONGRESS_OFFICE, payload={"decision": "merge"}), S.MERGED),
    (S.SUBMITTED, "review", facts(Role.CONGRESS_OFFICE, payload={"decision": "not_register"}), S.NOT_REGISTERED),
    (S.SUBMITTED, "review", facts(Role.CONGRESS_OFFICE, payload={"decision": "return"}), S.RETURNED),
    (S.SUBMITTED, "withdraw", facts(Role.DEPUTY), S.WITHDRAWN),
    (S.RETURNED, "resubmit", facts(Role.DEPUTY), S.SUBMITTED),
    (S.RETURNED, "withdraw", facts(Role.DEPUTY), S.WITHDRAWN),
    (S.REGISTERED, "assign", facts(Role.CONGRESS_OFFICE), S.ASSIGNED),
    (S.REGISTERED, "assign", facts(Role.GOVERNMENT_OFFICE), S.ASSIGNED),
    (S.REGISTERED, "withdraw", facts(Role.DEPUTY), S.WITHDRAWN),
    (S.ASSIGNED, "sign", facts(Role.UNIT), S.HANDLING),
    (S.ASSIGNED, "request_adjustment", facts(Role.UNIT), S.ADJUSTMENT_REQUESTED),
    (S.ASSIGNED, "request_adjustment", facts(Role.UNIT, CO), S.ADJUSTMENT_REQUESTED),
    (S.ASSIGNED, "co_opinion", facts(Role.UNIT, CO), S.ASSIGNED),
    (S.ASSIGNED, "withdraw", facts(Role.DEPUTY), S.WITHDRAWN),
    (S.ADJUSTMENT_REQUESTED, "decide_adjustment", facts(Role.CONGRESS_OFFICE, payload={"decision": "approve"}), S.ASSIGNED),
    (S.ADJUSTMENT_REQUESTED, "decide_adjustment", facts(Role.CONGRESS_OFFICE, payload={"decision": "refuse"}), S.ASSIGNED),
    (S.ADJUSTMENT_REQUESTED, "withdraw", facts(Role.DEPUTY), S.WITHDRAWN),
    (S.HANDLING, "reply", facts(Role.UNIT), S.REPLY_REVIEW),
    (S.HANDLING, "reply", facts(Role.UNIT, review_required=False), S.REPLIED),
    (S.HANDLING, "reply", facts(Role.UNIT, contact_this_round=False, contact_required=False), S.REPLY_REVIEW),
    (S.HANDLING, "request_extension", facts(Role.UNIT), S.HANDLING),
    (S.HANDLING, "decide_extension", facts(Role.CONGRESS_OFFICE, extension_pending=True, payload={"decision": "approve"}), S.HANDLING),
    (S.HANDLING, "decide_extension", facts(Role.CONGRESS_OFFICE, extension_pending=True, payload={"decision": "refuse"}), S.HANDLING),
    (S.HANDLING, "record_contact", facts(Role.UNIT), S.HANDLING),
    (S.HANDLING, "record_contact", facts(Role.UNIT, CO), S.HANDLING),
    (S.HANDLING, "co_opinion", facts(Role.UNIT, CO), S.HANDLING),
    (S.HANDLING, "withdraw", facts(Role.DEPUTY), S.WITHDRAWN),
    (S.REPLY_REVIEW, "review_reply", facts(Role.GOVERNMENT_OFFICE, payload={"decision": "approve"}), S.REPLIED),
    (S.REPLY_REVIEW, "review_reply", facts(Role.GOVERNMENT_OFFICE, payload={"decision": "refuse"}), S.HANDLING),
    (S.REPLY_REVIEW, "review_reply", facts(Role.GOVERNMENT_OFFICE, round=2, payload={"decision": "refuse"}), S.REHANDLING),
    (S.REPLY_REVIEW, "decide_extension", facts(Role.CONGRESS_OFFICE, extension_pending=True, payload={"decision": "approve"}), S.REPLY_REVIEW),
    (S.REPLY_REVIEW, "withdraw", facts(Role.DEPUTY), S.WITHDRAWN),
    (S.REPLIED, "evaluate", facts(Role.DEPUTY, payload={"result": "满意"}), S.CLOSED),
    (S.REPLIED, "evaluate", facts(Role.DEPUTY, payload={"result": "基本满意"}), S.CLOSED),
    (S.REPLIED, "evaluate", facts(Role.DEPUTY, open_commitments=[1], payload={"result": "满意"}), S.FOLLOW_UP),
    (S.REPLIED, "evaluate", facts(Role.DEPUTY, payload={"result": "不满意"}), S.REHANDLING),
    (S.REPLIED, "evaluate", facts(Role.DEPUTY, round=2, payload={"result": "不满意"}), S.ESCALATED),
    (S.REPLIED, "expire_evaluation", facts(Role.SYSTEM), S.CLOSED),
    (S.REHANDLING, "reply", facts(Role.UNIT, round=2), S.REPLY_REVIEW),
    (S.REHANDLING, "reply", facts(Role.UNIT, round=2, review_required=False), S.REPLIED),
    (S.REHANDLING, "record_contact", facts(Role.UNIT, round=2), S.REHANDLING),
    (S.REHANDLING, "co_opinion", facts(Role.UNIT, CO, round=2), S.REHANDLING),
    (S.REHANDLING, "withdraw", facts(Role.DEPUTY, replied_ever=False), S.WITHDRAWN),
    (S.ESCALATED, "resolve_escalation", facts(Role.SUPERVISION_OFFICE, payload={"decision": "rehandle"}), S.REHANDLING),
    (S.ESCALATED, "resolve_escalation", facts(Role.SUPERVISION_OFFICE, payload={"decision": "close"}), S.CLOSED),
    (S.FOLLOW_UP, "fulfil_commitment", facts(Role.UNIT, open_commitments=[1, 2], payload={"number": 2}), S.FOLLOW_UP),
    (S.FOLLOW_UP, "fulfil_commitment", facts(Role.UNIT, open_commitments=[2], payload={"number": 2}), S.CLOSED),
    (S.FOLLOW_UP, "report_progress", facts(Role.UNIT, open_commitments=[2], payload={"number": 2}), S.FOLLOW_UP),
] + [
    (state, action, facts(role, key_supervision=True, supervisor=PRINCIPALS[role], open_escalation=True), state)
    for state in OPEN_STATES
    for action in INTERNAL
    for role in ROLE_RULES[action]
]


def _id(case: tuple[State, str, Facts, State]) -> str:
    state, action, f, dest = case
    return f"{state}-{action}-{f.role}-{dest}"


@pytest.mark.parametrize("case", REACH, ids=_id)
def test_each_exit_is_reached_with_its_facts(case: tuple[State, str, Facts, State]) -> None:
    state, action, f, dest = case
    machine = Lifecycle(state)
    decision = machine.decide(action, f)
    assert (decision.action, decision.source, decision.dest) == (action, state, dest)
    assert machine.state == state  # deciding changes nothing
    assert machine.apply(action, f) == decision
    assert machine.state == dest


def test_every_designed_exit_is_reached() -> None:
    reached = {(state, action, dest) for state, action, _, dest in REACH}
    designed = {(state, action, dest) for state, exits in EXITS.items() for action, dest in exits}
    assert reached == designed


@pytest.mark.parametrize("state", sorted(TERMINAL))
def test_terminal_states_allow_nothing(state: State) -> None:
    machine = Lifecycle(state)
    assert machine.is_terminal
    for role in Role:
        assert machine.actions_for(role) == []
    refused = refusal(state, "remark", facts(Role.SUPERVISOR))
    assert refused.code == "illegal_state"
    assert STATE_LABELS[state] in refused.message


# -- refusals, with their codes and Chinese messages -------------------------------------------
def test_illegal_state() -> None:
    r = refusal(S.SUBMITTED, "sign", facts(Role.UNIT))
    assert r.code == "illegal_state"
    assert r.message == "建议当前状态为「已提出（待阅看）」，不能签收"
    assert str(r) == r.message


def test_unknown_action() -> None:
    r = refusal(S.SUBMITTED, "approve_everything", facts(Role.ADMIN))
    assert r.code == "unknown_action"
    assert "approve_everything" in r.message and "未知的操作" in r.message


@pytest.mark.parametrize(
    ("state", "action", "role", "message"),
    [
        (S.SUBMITTED, "review", Role.DEPUTY, "角色「代表」不能阅看（可由代表工委办理）"),
        (S.REGISTERED, "assign", Role.UNIT, "角色「承办单位」不能交办（可由代表工委、政府办办理）"),
        (S.HANDLING, "reply", Role.GOVERNMENT_OFFICE, "角色「政府办」不能答复（可由承办单位办理）"),
        (S.REPLIED, "evaluate", Role.CONGRESS_OFFICE, "角色「代表工委」不能评价（可由代表办理）"),
        (S.REPLIED, "expire_evaluation", Role.DEPUTY, "角色「代表」不能评价期满未表态（可由系统办理）"),
        (S.HANDLING, "remark", Role.AUDITOR, "角色「审计人员」不能督办批注（可由督办人、代表工委、督查室办理）"),
        (S.ESCALATED, "resolve_escalation", Role.ADMIN, "角色「系统管理员」不能处理督查事项（可由督查室办理）"),
    ],
)
def test_wrong_role(state: State, action: str, role: Role, message: str) -> None:
    r = refusal(state, action, facts(role, payload={"decision": "register", "result": "满意"}))
    assert r.code == "role_not_allowed"
    assert r.message == message


@pytest.mark.parametrize(
    ("state", "action", "f"),
    [
        (S.ASSIGNED, "sign", facts(Role.UNIT, CO)),
        (S.HANDLING, "request_extension", facts(Role.UNIT, CO)),
        (S.HANDLING, "reply", facts(Role.UNIT, CO)),
        (S.FOLLOW_UP, "fulfil_commitment", facts(Role.UNIT, CO, open_commitments=[1], payload={"number": 1})),
    ],
)
def test_not_lead_unit(state: State, action: str, f: Facts) -> None:
    r = refusal(state, action, f)
    assert r.code == "not_lead_unit"
    assert r.message == f"只有主办单位（{LEAD}）可以{ACTION_LABELS[action]}，「{CO}」不能"


def test_a_stranger_unit_is_not_a_handler() -> None:
    r = refusal(S.ASSIGNED, "request_adjustment", facts(Role.UNIT, OTHER_UNIT))
    assert r.code == "not_handler"
    assert r.message == f"「{OTHER_UNIT}」不是本建议的承办单位，不能申请调整"
    r = refusal(S.HANDLING, "co_opinion", facts(Role.UNIT, LEAD))
    assert r.code == "not_co_handler"
    assert r.message == f"「{LEAD}」不是本建议的协办单位，不能提交协办意见"


@pytest.mark.parametrize(
    ("state", "action", "payload"),
    [
        (S.REPLIED, "evaluate", {"result": "满意"}),
        (S.RETURNED, "resubmit", {}),
        (S.SUBMITTED, "withdraw", {}),
    ],
)
def test_not_lead_deputy(state: State, action: str, payload: dict[str, Any]) -> None:
    r = refusal(state, action, facts(Role.DEPUTY, CO_SIGNER, payload=payload))
    assert r.code == "not_lead_deputy"
    assert r.message == f"只有领衔代表（{DEPUTY}）可以{ACTION_LABELS[action]}，「{CO_SIGNER}」不能"


@pytest.mark.parametrize("state", [S.HANDLING, S.REHANDLING])
def test_reply_without_contact(state: State) -> None:
    r = refusal(state, "reply", facts(Role.UNIT, contact_this_round=False))
    assert r.code == "no_contact"
    assert "答复前须先记录与代表的沟通" in r.message
    assert "座谈、上门、电话或书面" in r.message
    # Where policy does not require contact, the same reply passes.
    assert Lifecycle(state).may("reply", facts(Role.UNIT, contact_this_round=False, contact_required=False))


def test_second_extension() -> None:
    r = refusal(S.HANDLING, "request_extension", facts(Role.UNIT, extensions_used=1))
    assert r.code == "extension_used"
    assert r.message == "延期最多只能申请1次，本建议已经延期过"
    # A policy allowing two extensions lets the second one through.
    assert Lifecycle(S.HANDLING).may("request_extension", facts(Role.UNIT, extensions_used=1, max_extensions=2))


def test_extension_requests_and_decisions_pair_up() -> None:
    r = refusal(S.HANDLING, "request_extension", facts(Role.UNIT, extension_pending=True))
    assert (r.code, r.message) == ("extension_pending", "已有一项待审批的延期申请")
    r = refusal(S.HANDLING, "decide_extension", facts(Role.CONGRESS_OFFICE, payload={"decision": "approve"}))
    assert (r.code, r.message) == ("no_extension_request", "没有待审批的延期申请")


def test_adjustment_window_closed() -> None:
    r = refusal(S.ASSIGNED, "request_adjustment", facts(Role.UNIT, adjustment_window_open=False))
    assert r.code == "adjustment_window_closed"
    assert r.message == "已超过申请调整的期限（2025-03-14 24:00），不能再申请调整"


def test_withdraw_after_reply() -> None:
    # Once replied, withdrawal is not among the exits at all …
    r = refusal(S.REPLIED, "withdraw", facts(Role.DEPUTY, replied_ever=True))
    assert r.code == "illegal_state"
    assert r.message == "建议当前状态为「已答复（待评价）」，不能撤回"
    # … and while re-handling (a reply was given before) or re-reviewing it, it is refused.
    for state in (S.REHANDLING, S.REPLY_REVIEW):
        r = refusal(state, "withdraw", facts(Role.DEPUTY, round=2, replied_ever=True))
        assert r.code == "already_replied"
        assert r.message == "答复已送达代表，不能再撤回"
    for state in (S.FOLLOW_UP, S.ESCALATED, S.CLOSED):
        assert refusal(state, "withdraw", facts(Role.DEPUTY, replied_ever=True)).code == "illegal_state"


@pytest.mark.parametrize(
    ("state", "action", "role", "payload", "hint"),
    [
        (S.SUBMITTED, "review", Role.CONGRESS_OFFICE, {"decision": "approve"}, "register（立案）"),
        (S.REPLIED, "evaluate", Role.DEPUTY, {"result": "还行"}, "满意 / 基本满意 / 不满意"),
        (S.REPLY_REVIEW, "review_reply", Role.GOVERNMENT_OFFICE, {}, "approve（通过）"),
        (S.ESCALATED, "resolve_escalation", Role.SUPERVISION_OFFICE, {"decision": "close_quietly"}, "rehandle"),
    ],
)
def test_invalid_choice(state: State, action: str, role: Role, payload: dict[str, Any], hint: str) -> None:
    r = refusal(state, action, facts(role, payload=payload))
    assert r.code == "invalid_choice"
    assert r.message.startswith(f"{ACTION_LABELS[action]}的选项无效")
    assert hint in r.message


def test_fulfilling_an_unknown_commitment() -> None:
    r = refusal(S.FOLLOW_UP, "fulfil_commitment", facts(Role.UNIT, open_commitments=[1], payload={"number": 3}))
    assert (r.code, r.message) == ("no_such_commitment", "没有编号为 3 的未兑现承诺事项")
    # Without a number it is a refusal too, never a KeyError.
    r = refusal(S.FOLLOW_UP, "fulfil_commitment", facts(Role.UNIT, open_commitments=[1]))
    assert r.code == "no_such_commitment"


def test_a_refused_apply_leaves_the_state() -> None:
    machine = Lifecycle(S.HANDLING)
    with pytest.raises(Refused):
        machine.apply("reply", facts(Role.UNIT, contact_this_round=False))
    assert machine.state == S.HANDLING


# -- evaluation branching ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("result", "round_", "commitments", "dest"),
    [
        ("满意", 1, [], S.CLOSED),
        ("基本满意", 1, [], S.CLOSED),
        ("满意", 2, [], S.CLOSED),
        ("满意", 1, [1, 2], S.FOLLOW_UP),
        ("基本满意", 2, [3], S.FOLLOW_UP),
        ("不满意", 1, [], S.REHANDLING),
        ("不满意", 1, [1], S.REHANDLING),  # commitments do not rescue an unsatisfied result
        ("不满意", 2, [], S.ESCALATED),  # the last allowed round
        ("不满意", 3, [], S.ESCALATED),  # after an ordered re-handling beyond the limit
    ],
)
def test_evaluate_branches(result: str, round_: int, commitments: list[int], dest: State) -> None:
    f = facts(Role.DEPUTY, round=round_, open_commitments=commitments, payload={"work": "满意", "result": result})
    assert Lifecycle(S.REPLIED).decide("evaluate", f).dest == dest


def test_rounds_are_configuration() -> None:
    f = facts(Role.DEPUTY, round=2, max_rounds=3, payload={"result": "不满意"})
    assert Lifecycle(S.REPLIED).decide("evaluate", f).dest == S.REHANDLING
    f = facts(Role.DEPUTY, round=1, max_rounds=1, payload={"result": "不满意"})
    assert Lifecycle(S.REPLIED).decide("evaluate", f).dest == S.ESCALATED


def test_the_decision_names_the_branch_taken() -> None:
    d = Lifecycle(S.REPLIED).decide("evaluate", facts(Role.DEPUTY, round=2, payload={"result": "不满意"}))
    assert d.selectors == ("bad_last_round",)
    d = Lifecycle(S.REPLY_REVIEW).decide(
        "review_reply", facts(Role.GOVERNMENT_OFFICE, round=2, payload={"decision": "refuse"})
    )
    assert d.selectors == ("refuse", "later_round")


def test_a_whole_case_with_a_rehandling_round() -> None:
    m = Lifecycle()
    assert m.state == S.SUBMITTED
    m.apply("review", facts(Role.CONGRESS_OFFICE, payload={"decision": "register"}))
    m.apply("assign", facts(Role.CONGRESS_OFFICE))
    m.apply("sign", facts(Role.UNIT))
    m.apply("record_contact", facts(Role.UNIT))
    m.apply("reply", facts(Role.UNIT))
    m.apply("review_reply", facts(Role.GOVERNMENT_OFFICE, payload={"decision": "approve"}))
    assert m.state == S.REPLIED
    m.apply("evaluate", facts(Role.DEPUTY, payload={"result": "不满意"}))
    assert m.state == S.REHANDLING
    m.apply("reply", facts(Role.UNIT, round=2, review_required=False))
    assert m.state == S.REPLIED
    m.apply("evaluate", facts(Role.DEPUTY, round=2, open_commitments=[1], payload={"result": "基本满意"}))
    assert m.state == S.FOLLOW_UP
    m.apply("fulfil_commitment", facts(Role.UNIT, open_commitments=[1], payload={"number": 1}))
    assert m.state == S.CLOSED and m.is_terminal


# -- decide and apply agree ------------------------------------------------------------------
PAYLOADS: list[dict[str, Any]] = [
    {},
    {"decision": "register"},
    {"decision": "merge"},
    {"decision": "return"},
    {"decision": "approve"},
    {"decision": "refuse"},
    {"decision": "rehandle"},
    {"decision": "close"},
    {"result": "满意"},
    {"result": "不满意"},
    {"number": 1},
    {"number": 2},
]
SITUATIONS: list[dict[str, Any]] = [
    {},
    {"contact_this_round": False},
    {"review_required": False},
    {"round": 2},
    {"round": 2, "replied_ever": True},
    {"extensions_used": 1},
    {"extension_pending": True},
    {"adjustment_window_open": False},
    {"open_commitments": [1]},
    {"open_commitments": [1, 2]},
]
WHO = [(role, PRINCIPALS[role]) for role in Role] + [
    (Role.UNIT, CO),
    (Role.UNIT, OTHER_UNIT),
    (Role.DEPUTY, CO_SIGNER),
]


def test_decide_and_apply_agree_everywhere() -> None:
    """Over states × actions × callers × payloads × situations, apply does what decide says."""
    outcomes: dict[str, int] = {"moved": 0, "stayed": 0, "refused": 0}
    for state in State:
        machine = Lifecycle(state)
        for action in ROLE_RULES:
            legal_here = any(s.trigger == action and state.value in s.sources for s in STEPS)
            # Where the action has no step from this state, one caller is enough to compare;
            # elsewhere every caller allowed to act, plus one who is not.
            callers = [
                (role, who)
                for role, who in WHO
                if legal_here and (role in ROLE_RULES[action] or role is Role.AUDITOR)
            ] or [WHO[0]]
            for (role, who), payload, situation in itertools.product(callers, PAYLOADS, SITUATIONS):
                f = facts(role, who, payload=payload, **situation)
                try:
                    decision = machine.decide(action, f)
                except Refused as refused:
                    with pytest.raises(Refused) as again:
                        machine.apply(action, f)
                    assert (again.value.code, again.value.message) == (refused.code, refused.message)
                    assert machine.state == state
                    outcomes["refused"] += 1
                    continue
                assert machine.may(action, f)
                assert machine.apply(action, f) == decision
                assert machine.state == decision.dest
                outcomes["moved" if decision.dest != state else "stayed"] += 1
                machine.machine.set_state(state.value)  # by name: transitions maps an Enum to .name
    # The sweep exercised every kind of outcome, not only refusals.
    assert min(outcomes.values()) > 100, outcomes


# -- actions_for -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("state", "role", "actions"),
    [
        (S.SUBMITTED, Role.CONGRESS_OFFICE, ["review", "remark", "mark_key"]),
        (S.SUBMITTED, Role.DEPUTY, ["withdraw"]),
        (S.SUBMITTED, Role.UNIT, []),
        (S.RETURNED, Role.DEPUTY, ["resubmit", "withdraw"]),
        (S.REGISTERED, Role.GOVERNMENT_OFFICE, ["assign"]),
        (S.ASSIGNED, Role.UNIT, ["sign", "request_adjustment", "co_opinion"]),
        (S.ADJUSTMENT_REQUESTED, Role.CONGRESS_OFFICE, ["decide_adjustment", "remark", "mark_key"]),
        (S.HANDLING, Role.UNIT, ["request_extension", "record_contact", "co_opinion", "reply"]),
        (S.HANDLING, Role.CONGRESS_OFFICE, ["decide_extension", "remark", "mark_key"]),
        (S.HANDLING, Role.DEPUTY, ["withdraw"]),
        (S.REPLY_REVIEW, Role.GOVERNMENT_OFFICE, ["review_reply"]),
        (S.REPLIED, Role.DEPUTY, ["evaluate"]),
        (S.REPLIED, Role.SYSTEM, ["expire_evaluation"]),
        (S.REPLIED, Role.UNIT, []),
        (S.REHANDLING, Role.UNIT, ["record_contact", "co_opinion", "reply"]),
        (S.ESCALATED, Role.SUPERVISION_OFFICE, ["remark", "resolve_escalation", "act_on_escalation"]),
        (S.FOLLOW_UP, Role.UNIT, ["fulfil_commitment", "report_progress"]),
        (S.FOLLOW_UP, Role.SUPERVISOR, ["remark"]),
    ],
)
def test_actions_for(state: State, role: Role, actions: list[str]) -> None:
    assert Lifecycle(state).actions_for(role) == actions


@pytest.mark.parametrize("state", list(State))
def test_auditors_change_nothing_and_admins_only_recompute_deadlines(state: State) -> None:
    assert Lifecycle(state).actions_for(Role.AUDITOR) == []
    assert Lifecycle(state).actions_for(Role.ADMIN) == ([] if state in TERMINAL else ["recompute_deadlines"])


def test_human_actions_are_labelled() -> None:
    assert set(ROLE_RULES) <= set(ACTION_LABELS)
    assert set(STATE_LABELS) == {s.value for s in State}


# -- the diagram -------------------------------------------------------------------------------
def test_mermaid_diagram_contains_every_state_and_moving_step() -> None:
    text = mermaid_diagram()
    assert "建议办理生命周期" in text
    assert "stateDiagram-v2" in text
    for state in State:
        assert f'state "{state.value}" as {state.value}' in text
    for step in STEPS:
        if step.dest:
            for source in step.sources:
                assert f"{source} --> {step.dest}: " in text, (source, step.trigger, step.dest)
    assert "[*] --> submitted" in text
