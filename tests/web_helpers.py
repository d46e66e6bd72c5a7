"""What the web tests share: accounts made ready to log in, and the pages served on a free port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn
from sqlmodel import select

from jianyi import accounts
from jianyi.api.app import create_app
from jianyi.models.accounts import Account
from jianyi.models.db import session_for


def ready_accounts(url: str, people: list[tuple[str, str, str, str]], password: str) -> None:
    """(login, name, role, binding) accounts with a known password, past their first-login change."""
    for login, name, role, binding in people:
        accounts.add_account(url, login, name, role, binding, password=password)
        with session_for(url) as db:
            account = db.exec(select(Account).where(Account.login == login)).one()
            account.must_change = False
            db.add(account)
            db.commit()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def served(settings, client) -> AsyncIterator[str]:  # noqa: ANN001
    """The application on a free loopback port in this event loop (uvicorn), stopped afterwards."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, client), host="127.0.0.1", port=port, log_level="warning"))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
