"""Accounts (DESIGN §7): who may log in, as which role, bound to which unit, deputy or supervisor.

The identity of every action comes from an account: the web session, an API token, or an
existing account named on the server's CLI (``--as ROLE:NAME``) — never from a form field.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from jianyi.models.states import Role

# Roles whose account is bound to one record of the directory (the name it acts as).
BOUND_ROLES = {Role.DEPUTY: "代表", Role.UNIT: "承办单位", Role.SUPERVISOR: "督办人"}
ACCOUNT_ROLES = [r for r in Role if r is not Role.SYSTEM]


class Account(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(index=True, unique=True, max_length=50)
    display_name: str = Field(max_length=100)
    role: str = Field(index=True)
    binding: str = Field(default="", index=True)  # the unit / deputy / supervisor (or office) it acts as
    password_hash: str
    active: bool = True
    must_change: bool = True  # the first login forces a new password
    failed_logins: int = 0
    locked_until: datetime | None = None
    created_at: datetime
    last_login_at: datetime | None = None

    @property
    def acts_as(self) -> str:
        """The name its actions are recorded under (the unit, deputy, supervisor or office)."""
        return self.binding or self.display_name


class ApiToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(index=True, unique=True)
    login: str = Field(index=True)
    label: str = ""
    created_at: datetime
    last_used_at: datetime | None = None
