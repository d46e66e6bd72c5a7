"""Accounts: create, reset, disable, log in (argon2 via pwdlib), lock out, change passwords,
API tokens. Every change, login and lock-out is an event of the admin log."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from functools import cache

from pwdlib import PasswordHash
from sqlmodel import select

from jianyi import directory
from jianyi.adminlog import record_admin_event
from jianyi.models.accounts import ACCOUNT_ROLES, BOUND_ROLES, Account, ApiToken
from jianyi.models.bounds import text_problem
from jianyi.models.commands import InputError
from jianyi.models.db import session_for, to_db
from jianyi.models.states import ROLE_LABELS, Role

HASHER = PasswordHash.recommended()
MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 8


class LoginError(InputError):
    """A refused login; the message never says whether the login name exists."""


def _now() -> datetime:
    return datetime.now(UTC)


def new_password() -> str:
    return secrets.token_urlsafe(9)


def add_account(url: str, login: str, display_name: str, role: str, binding: str = "", *, actor: str = "系统管理员",
                password: str | None = None) -> str:
    """Create an account; returns its initial password (shown once; it must be changed at first login)."""
    login, display_name, binding = login.strip(), display_name.strip() or login.strip(), binding.strip()
    _check_account(url, login, display_name, role, binding)
    password = password or new_password()
    with session_for(url) as db:
        if db.exec(select(Account).where(Account.login == login)).first():
            raise InputError(f"登录名「{login}」已被使用")
        db.add(Account(login=login, display_name=display_name, role=role, binding=binding,
                       password_hash=HASHER.hash(password), created_at=to_db(_now())))
        record_admin_event(db, actor, "admin", "account_add", {"login": login, "role": role, "binding": binding})
        db.commit()
    return password


def _check_account(url: str, login: str, display_name: str, role: str, binding: str) -> None:
    if not login or len(login) > 50 or text_problem(login) or " " in login:
        raise InputError("登录名不能为空、不能含空格，且不超过50字")
    if role not in {r.value for r in ACCOUNT_ROLES}:
        raise InputError(f"未知的角色「{role}」，可选：{'、'.join(f'{r.value}（{ROLE_LABELS[r]}）' for r in ACCOUNT_ROLES)}")
    kind = BOUND_ROLES.get(Role(role))
    if kind and not binding:
        raise InputError(f"{ROLE_LABELS[role]}账号须绑定一个{kind}（填写「绑定」，命令行为 --binding）")
    missing = {
        Role.UNIT: lambda: directory.unknown_units(url, [binding]),
        Role.DEPUTY: lambda: directory.unknown_deputies(url, [binding]),
        Role.SUPERVISOR: lambda: [] if directory.supervisor_exists(url, binding) else [binding],
    }.get(Role(role), lambda: [])()
    if missing:
        raise InputError(f"绑定的{kind}「{binding}」尚未登记")


def reset_password(url: str, login: str, *, actor: str = "系统管理员") -> str:
    password = new_password()
    with session_for(url) as db:
        account = _get(db, login)
        account.password_hash, account.must_change = HASHER.hash(password), True
        account.failed_logins, account.locked_until = 0, None
        db.add(account)
        record_admin_event(db, actor, "admin", "account_reset", {"login": login})
        db.commit()
    return password


def set_active(url: str, login: str, active: bool, *, actor: str = "系统管理员", acting_login: str = "") -> None:
    """Disable or enable an account; never the one that acts (``acting_login``): it would lock its admin out."""
    if login == acting_login:
        raise InputError("不能停用或启用自己正在使用的账号：请用另一个管理员账号操作")
    with session_for(url) as db:
        account = _get(db, login)
        account.active = active
        db.add(account)
        record_admin_event(db, actor, "admin", "account_enable" if active else "account_disable", {"login": login})
        db.commit()


def list_accounts(url: str) -> list[Account]:
    with session_for(url) as db:
        return list(db.exec(select(Account).order_by(Account.role, Account.login)))


def _get(db, login: str) -> Account:  # noqa: ANN001
    account = db.exec(select(Account).where(Account.login == login)).first()
    if account is None:
        raise InputError(f"没有登录名为「{login}」的账号")
    return account


def authenticate(url: str, login: str, password: str, now: datetime | None = None) -> Account:
    """The account, or LoginError; repeated failures lock it for a while (each audited)."""
    now = to_db(now or _now())
    with session_for(url) as db:
        account = db.exec(select(Account).where(Account.login == login.strip())).first()
        if account is None or not account.active:
            HASHER.verify(password, _nobody())  # as long as a wrong password takes: the time tells no one which logins exist
            raise LoginError("登录名或密码错误")
        if account.locked_until and to_db(account.locked_until) > now:
            raise LoginError(f"连续输错密码次数过多，账号已锁定至 {account.locked_until.astimezone(UTC) + timedelta(hours=8):%H:%M}（北京时间），请稍后再试或联系管理员")
        if not HASHER.verify(password, account.password_hash):
            _failed(db, account, now)
            db.commit()
            raise LoginError("登录名或密码错误")
        account.failed_logins, account.locked_until, account.last_login_at = 0, None, now
        db.add(account)
        record_admin_event(db, account.login, account.role, "login", {"login": account.login})
        db.commit()
        return account


@cache
def _nobody() -> str:
    return HASHER.hash("no account has this password")


def _failed(db, account: Account, now: datetime) -> None:  # noqa: ANN001
    account.failed_logins += 1
    record_admin_event(db, account.login, account.role, "login_failed", {"login": account.login, "failures": account.failed_logins})
    if account.failed_logins >= MAX_FAILURES:
        account.locked_until, account.failed_logins = now + timedelta(minutes=LOCK_MINUTES), 0
        record_admin_event(db, account.login, account.role, "account_locked", {"login": account.login, "minutes": LOCK_MINUTES})
    db.add(account)


def change_password(url: str, login: str, old: str, new: str) -> None:
    if len(new) < MIN_PASSWORD or new == old:
        raise InputError(f"新密码至少{MIN_PASSWORD}位，且不能与原密码相同")
    with session_for(url) as db:
        account = _get(db, login)
        if not HASHER.verify(old, account.password_hash):
            raise InputError("原密码错误")
        account.password_hash, account.must_change = HASHER.hash(new), False
        db.add(account)
        record_admin_event(db, login, account.role, "password_changed", {"login": login})
        db.commit()


def account_for(url: str, role: str, name: str) -> Account | None:
    """The active account a CLI ``--as ROLE:NAME`` names: that role, bound to (or named) NAME."""
    with session_for(url) as db:
        q = select(Account).where(Account.role == role, Account.active)
        return next((a for a in db.exec(q) if name in (a.binding, a.login, a.display_name)), None)


def has_admin(url: str) -> bool:
    with session_for(url) as db:
        return db.exec(select(Account).where(Account.role == Role.ADMIN, Account.active)).first() is not None


def create_token(url: str, login: str, label: str = "", *, actor: str = "系统管理员") -> str:
    token = secrets.token_urlsafe(32)
    with session_for(url) as db:
        _get(db, login)
        db.add(ApiToken(token_hash=_digest(token), login=login, label=label, created_at=to_db(_now())))
        record_admin_event(db, actor, "admin", "token_created", {"login": login, "label": label})
        db.commit()
    return token


def account_for_token(url: str, token: str) -> Account | None:
    with session_for(url) as db:
        row = db.exec(select(ApiToken).where(ApiToken.token_hash == _digest(token))).first()
        account = db.exec(select(Account).where(Account.login == row.login, Account.active)).first() if row else None
        return account


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
