"""Authorization in one place (DESIGN §7). The lifecycle machine answers "may this role do this
now?"; this module only adds "is this account that unit / deputy / supervisor" and what it may read."""

from __future__ import annotations

import json

from sqlalchemy import String, cast, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import exists

from jianyi.models.accounts import Account
from jianyi.models.case import CaseState
from jianyi.models.lifecycle import ROLE_RULES
from jianyi.models.states import ROLE_LABELS, Role
from jianyi.models.tables import Assignment, Suggestion

SEE_ALL = {Role.CONGRESS_OFFICE, Role.GOVERNMENT_OFFICE, Role.SUPERVISION_OFFICE, Role.AUDITOR, Role.ADMIN}
READS_FIGURES = SEE_ALL  # 统计
EXPORTS_AUDIT = {Role.AUDITOR, Role.ADMIN, Role.CONGRESS_OFFICE, Role.SUPERVISION_OFFICE}  # 审计核验 and exports
READS_OUTBOX = {Role.ADMIN}  # 发件箱: every notice and its address (the admin is told of each failed delivery)
ASSIGNERS = set(ROLE_RULES["assign"])  # 交办 (several at once): the machine's answer, not a second list
ADMINS = {Role.ADMIN}  # accounts, directory, calendar
SUBMITTERS = {Role.DEPUTY}
SEES_STUCK = {r for r in Role if r not in (Role.DEPUTY, Role.SYSTEM)}  # a unit or supervisor only its own (stuck_scope)

# The menu: each page with the roles that may open it (None: everyone), from the sets above.
MENU: list[tuple[str, str, set[Role] | None]] = [
    ("/", "工作台", None), ("/submit", "提出建议", SUBMITTERS), ("/stuck", "卡住的建议", SEES_STUCK),
    ("/reports", "统计", READS_FIGURES), ("/assign", "交办", ASSIGNERS), ("/audit", "审计", EXPORTS_AUDIT),
    ("/admin", "账号", ADMINS), ("/admin/directory", "目录与日历", ADMINS), ("/outbox", "发件箱", READS_OUTBOX),
]


def menu(account: Account) -> list[tuple[str, str]]:
    """The pages this account may open, in the menu's order."""
    return [(href, text) for href, text, roles in MENU if roles is None or Role(account.role) in roles]


class Forbidden(Exception):
    """A refusal for people (Chinese), answered with 403 (404 when its code is ``not_found``)."""

    def __init__(self, message: str, code: str = "forbidden") -> None:
        super().__init__(message)
        self.message, self.code = message, code


def identity(account: Account) -> tuple[str, Role]:
    """Whose act an action of this account is: the unit, deputy, supervisor or office it is bound to."""
    return account.acts_as, Role(account.role)


def visible(account: Account) -> ColumnElement[bool] | None:
    """The suggestions this account may read, as SQL (None: all of them)."""
    role, name = Role(account.role), account.acts_as
    if role in SEE_ALL:
        return None
    if role == Role.UNIT:
        co = exists().where(Assignment.suggestion_id == Suggestion.id, Assignment.unit == name)
        return or_(Suggestion.lead_unit == name, co)
    if role == Role.DEPUTY:
        # the JSON column keeps names as json.dumps writes them: match that exact quoted form
        return or_(Suggestion.lead_deputy == name, cast(Suggestion.co_signers, String).like(f"%{json.dumps(name)}%"))
    return Suggestion.supervisor == name  # type: ignore[return-value]


def may_see(account: Account, case: CaseState) -> bool:
    role, name = Role(account.role), account.acts_as
    if role in SEE_ALL:
        return True
    if role == Role.UNIT:
        return name == case.lead_unit or name in case.co_handlers or any(a.unit == name for a in case.assignments)
    if role == Role.DEPUTY:
        return name in case.deputies
    return role == Role.SUPERVISOR and name == case.supervisor


def check_may_see(account: Account, case: CaseState) -> None:
    if not may_see(account, case):
        raise Forbidden(f"{ROLE_LABELS[account.role]}「{account.acts_as}」无权查看这件建议（只能查看与本账号相关的建议）")


def require(account: Account, roles: set[Role] | tuple[Role, ...], what: str) -> None:
    """Refuse (403, Chinese) an account whose role is not among ``roles``."""
    if Role(account.role) not in roles:
        allowed = "、".join(ROLE_LABELS[r] for r in roles)
        raise Forbidden(f"{ROLE_LABELS[account.role]}账号不能{what}（{allowed}可以）")


def stuck_scope(account: Account) -> tuple[str | None, str | None]:
    """Whose stuck cases an account sees: (unit, supervisor); a unit or supervisor only its own."""
    role = Role(account.role)
    if role == Role.DEPUTY:
        raise Forbidden("代表账号不能查看卡住的建议汇总")
    return (account.acts_as if role == Role.UNIT else None), (account.acts_as if role == Role.SUPERVISOR else None)


def check_may_act(account: Account) -> None:
    if Role(account.role) == Role.AUDITOR:
        raise Forbidden("审计人员只能查看，不能办理")
