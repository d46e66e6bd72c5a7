"""States and roles of a suggestion's lifecycle, with their Chinese labels, and the state sets
every part of jianyi shares (one definition each: open / terminal, awaiting a reply).

The bottom of ``models/``: imports nothing of the project.
"""

from __future__ import annotations

from enum import StrEnum


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


# What is expected next in each state (for digests and reminders).
NEXT_STEPS: dict[str, str] = {
    "submitted": "代表工委阅看",
    "returned": "代表修改后重新提交",
    "registered": "交办承办单位",
    "assigned": "承办单位签收（或在期限内申请调整）",
    "adjustment_requested": "代表工委审批调整申请",
    "handling": "答复代表（答复前须与代表沟通）",
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
OPEN_VALUES = [str(s) for s in OPEN_STATES]
TERMINAL_VALUES = [str(s) for s in TERMINAL]
# The case can still be withdrawn: no approved reply has reached the deputy yet.
WITHDRAWABLE = (State.SUBMITTED, State.RETURNED, State.REGISTERED, *HANDLING_STATES)
EVALUATION_WORDS = ("满意", "基本满意", "不满意")


def is_terminal(state: str) -> bool:
    return state in TERMINAL_VALUES
