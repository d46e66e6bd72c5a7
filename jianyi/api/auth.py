"""Sessions, CSRF and the current account. The acting identity comes from here, never from a form."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from fastapi import Request
from sqlmodel import select

from jianyi.accounts import account_for_token
from jianyi.api.access import Forbidden
from jianyi.models.accounts import Account
from jianyi.models.db import owner_only, session_for
from jianyi.settings import Settings

IDLE_SECONDS = 30 * 60  # a session expires after 30 minutes without a request


class LoginRequired(Exception):
    """No (or an expired) session: pages redirect to the login page, the API answers 401."""

    def __init__(self, message: str = "请先登录") -> None:
        super().__init__(message)
        self.message = message


def session_secret(settings: Settings) -> str:
    """The key that signs session cookies: from the settings, or made once and kept owner-only in var/."""
    if settings.session_secret:
        return settings.session_secret
    owner_only(settings.var_dir)
    path = Path(settings.var_dir) / "session.key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return token


def check_csrf(request: Request, sent: str | None) -> None:
    expected = request.session.get("csrf")
    if not expected or not sent or not secrets.compare_digest(expected, sent):
        raise Forbidden("表单已失效或来源不明（CSRF 校验未通过），请刷新页面后重试", "csrf")


def sign_in(request: Request, account: Account) -> None:
    request.session.clear()
    request.session.update({"login": account.login, "seen": time.time(), "csrf": secrets.token_urlsafe(24)})


def current_account(request: Request) -> Account:
    """The logged-in account (session cookie, or ``Authorization: Bearer`` for the API)."""
    settings: Settings = request.app.state.settings
    bearer = request.headers.get("authorization", "")
    if bearer.lower().startswith("bearer "):
        account = account_for_token(settings.db_url, bearer[7:].strip())
        if account is None:
            raise LoginRequired("API 令牌无效或账号已停用")
        return account
    login, seen = request.session.get("login"), request.session.get("seen", 0)
    if not login:
        raise LoginRequired()
    if time.time() - seen > IDLE_SECONDS:
        request.session.clear()
        raise LoginRequired("长时间未操作，已自动退出，请重新登录")
    request.session["seen"] = time.time()
    with session_for(settings.db_url) as db:
        account = db.exec(select(Account).where(Account.login == login, Account.active)).first()
    if account is None:
        request.session.clear()
        raise LoginRequired("账号已停用，请联系管理员")
    return account
