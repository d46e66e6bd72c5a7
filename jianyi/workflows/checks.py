"""Everything that may refuse a human action, before anything changes (workflow code).

Used by the update's validator and again by its handler (the state may have moved while the
update waited for the lock); a refusal leaves no trace in history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from jianyi.models.actions import HUMAN_ACTIONS, Action, decode
    from jianyi.models.bounds import check_dates
    from jianyi.models.case import CaseState
    from jianyi.models.commands import ActionRequest, InputError, Payload
    from jianyi.models.lifecycle import (
        Facts,
        Lifecycle,
        Move,
        Refused,
        Role,
        backfill_principal,
        facts_for,
    )


@dataclass
class Checked:
    """An action that passed every check: its typed payload and whose act it is, when."""

    payload: Payload
    principal: str
    role: Role
    effective: datetime
    move: Move


def refuse(code: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=code, non_retryable=True)


def decode_request(args: Sequence[RawValue]) -> ActionRequest:
    if len(args) != 1:
        raise refuse("bad_request", "请求格式错误：应只有一个参数")
    try:
        return workflow.payload_converter().from_payload(args[0].payload, ActionRequest)
    except Exception as exc:  # noqa: BLE001  (any decoding problem is the caller's)
        raise refuse("bad_request", f"请求格式错误：{exc}") from None


def check(case: CaseState, machine: Lifecycle, action: str, request: ActionRequest, now: datetime, dated: bool = True) -> Checked:
    """The payload decoded once into its type, whose act it is and when, and the step it takes."""
    if request.role == Role.SYSTEM or action not in HUMAN_ACTIONS:
        known = action in {a.value for a in Action}
        raise refuse("role_not_allowed" if known else "invalid_input", "系统操作不能由人发起" if known else f"未知的操作「{action}」")
    try:
        payload, role = decode(action, request.payload), Role(request.role)
    except InputError as exc:
        raise refuse("invalid_input", exc.message) from None
    except ValueError:
        raise refuse("unknown_role", f"未知的角色「{request.role}」") from None
    principal, effective = request.actor, now
    if request.on_behalf_of or request.effective_at:
        try:
            principal, role, effective = backfill_principal(role, request.on_behalf_of, request.effective_at, now, case.last_effective_at)
        except Refused as exc:
            raise refuse(exc.code, exc.message) from None
    if dated:
        try:
            check_dates(payload, now)
        except ValueError as exc:
            raise refuse("invalid_input", str(exc)) from None
    facts = facts_for(case, principal, role, payload.model_dump(mode="json"), effective)
    if not dated:  # a case started before contact and commitment dates were bounded replays as it ran
        facts.today = ""
    return Checked(payload, principal, role, effective, decide(machine, action, facts))


def decide(machine: Lifecycle, action: str, facts: Facts) -> Move:
    try:
        return machine.decide(action, facts)
    except Refused as exc:
        raise refuse(exc.code, exc.message) from None
