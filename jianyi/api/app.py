"""The FastAPI application: Chinese pages for every role, and the JSON API under /api/.

Every page and API call runs as the logged-in account (session cookie or API token); every form
carries a CSRF token; every refusal is a Chinese page or a JSON error with a stable code.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import logging
import re
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware
from temporalio.client import Client

from jianyi.api.access import Forbidden, check_may_act, check_may_see, identity, menu
from jianyi.api.auth import (
    LoginRequired,
    csrf_token,
    session_secret,
)
from jianyi.models.accounts import Account
from jianyi.models.actions import label
from jianyi.models.case import CaseState
from jianyi.models.commands import InputError, errors_text
from jianyi.models.contacts import CHANNEL_LABELS
from jianyi.models.db import DatabaseProblem, to_db
from jianyi.models.lifecycle import allowed_actions
from jianyi.models.notices import status_text
from jianyi.models.policy import CST
from jianyi.models.states import ROLE_LABELS, Role
from jianyi.queries import describe_event, timeline, waiting_on
from jianyi.settings import ServiceUnreachable, Settings

LOG = logging.getLogger("jianyi.api")
HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
# a role and a notice channel are shown by their Chinese names on every page
TEMPLATES.env.globals.update(ROLE_LABELS=ROLE_LABELS, CHANNEL_LABELS=CHANNEL_LABELS)


def local(moment: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """A stored moment (UTC, naive as SQLite returns it) in Beijing time, as every page shows time."""
    return to_db(moment).astimezone(CST).strftime(pattern) if moment else ""


TEMPLATES.env.globals["local"] = local
TEMPLATES.env.globals["menu"] = menu
TEMPLATES.env.globals["status_text"] = status_text  # an outbox row's status, as the CLI says it
MAX_PDF = 10 * 1024 * 1024


def create_app(settings: Settings, client: Client | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        if app.state.client is None:
            try:
                await temporal_client(app)
            except ServiceUnreachable as exc:  # the pages from the records still serve; a step waits for Temporal
                LOG.warning("%s（网页照常启动：需要 Temporal 的页面答复 503，连上后恢复）", exc.message)
        yield

    app = FastAPI(title="jianyi 人大代表建议办理", lifespan=lifespan, openapi_url="/openapi.json",
                  docs_url=None, redoc_url=None)  # FastAPI's doc pages load their scripts from a CDN: none here
    app.state.settings, app.state.client, app.state.connecting = settings, client, asyncio.Lock()
    app.add_middleware(SessionMiddleware, secret_key=session_secret(settings), session_cookie="jianyi_session",
                       same_site="lax", https_only=settings.base_url.startswith("https"))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    _errors(app)
    from jianyi.api import json_api, notice_pages, office_pages, pages, report_pages

    app.include_router(pages.router)
    app.include_router(office_pages.router)
    app.include_router(notice_pages.router)
    app.include_router(report_pages.router)
    app.include_router(json_api.router)
    return app


def _errors(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        if _wants_json(request):
            return JSONResponse({"code": "login_required", "message": exc.message}, status_code=401)
        return RedirectResponse(f"/login?next={quote(request.url.path)}&why={quote(exc.message)}", status_code=303)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
        """A query, path or body value of the wrong kind: said in Chinese, naming the parameter (never FastAPI's
        English); the API keeps pydantic's exact errors beside it for developers."""
        message = "请求参数有误：" + errors_text(exc.errors(), lambda loc: str(loc[-1]) if loc else "")
        if _wants_json(request):
            return JSONResponse({"code": "invalid_input", "message": message, "detail": jsonable_encoder(exc.errors())}, status_code=422)
        return error(request, 400, "invalid_input", message)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return error(request, 404 if exc.code == "not_found" else 403, exc.code, exc.message)

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> Response:
        status = 503 if getattr(exc, "exit_code", 1) == 3 else 400
        return error(request, status, "unavailable" if status == 503 else "invalid_input", exc.message)

    @app.exception_handler(ServiceUnreachable)
    async def _temporal(request: Request, exc: ServiceUnreachable) -> Response:
        LOG.error("%s", exc.message)  # the address and the settings are for the operator's log, not the page
        return error(request, 503, "unavailable", "处理服务暂时不可用，请稍后重试（已记录，系统管理员可查看日志）")

    @app.exception_handler(DatabaseProblem)
    async def _database(request: Request, exc: DatabaseProblem) -> Response:
        return error(request, 503, "database", exc.message)

    @app.exception_handler(404)
    async def _missing(request: Request, exc: Exception) -> Response:
        return error(request, 404, "not_found", "找不到这个页面")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        LOG.exception("unexpected error on %s %s", request.method, request.url.path)  # the page says 已记录: it is
        return error(request, 500, "internal", "系统内部错误，已记录，请稍后重试或联系管理员")


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error(request: Request, status: int, code: str, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"code": code, "message": message}, status_code=status)
    return TEMPLATES.TemplateResponse(request, "error.html", {"status": status, "message": message, "account": None}, status_code=status)


def render(request: Request, name: str, account: Account | None, **context: Any) -> HTMLResponse:
    context |= {"account": account, "csrf": csrf_token(request), "role_label": ROLE_LABELS.get(account.role, "") if account else ""}
    return TEMPLATES.TemplateResponse(request, name, context, status_code=context.pop("status", 200))


async def temporal_client(app: FastAPI) -> Client:
    """The Temporal client, connected on first need (the web starts, and stays up, while Temporal is down)."""
    async with app.state.connecting:
        if app.state.client is None:
            from jianyi.temporal import connect

            app.state.client = await connect(app.state.settings)
    return app.state.client


async def engine(request: Request):  # noqa: ANN201
    from jianyi.service import Engine

    return Engine(await temporal_client(request.app), request.app.state.settings)


async def visible_case(request: Request, account: Account, suggestion_id: str):  # noqa: ANN201
    case = await (await engine(request)).view(suggestion_id)
    check_may_see(account, case)
    return case


def buttons(account: Account, case) -> list[tuple[str, str]]:  # noqa: ANN001
    """Exactly the actions the machine allows this account on this case now."""
    if Role(account.role) == Role.AUDITOR:
        return []
    actor, role = identity(account)
    return [(a, label(a)) for a in allowed_actions(case, actor, role, datetime.now(UTC))]


async def act(request: Request, account: Account, suggestion_id: str, action: str, payload: dict[str, Any]):  # noqa: ANN201
    """One action, as this account (the form names no actor)."""
    check_may_take(account, await visible_case(request, account, suggestion_id), action)
    actor, role = identity(account)
    via = "api" if _wants_json(request) else "web"
    return await (await engine(request)).act(suggestion_id, action, actor, role, payload, via=via)


def check_may_take(account: Account, case: CaseState, action: str) -> None:
    """Refuse (403) an action this account may not take on the case now: its form, and its step."""
    check_may_act(account)
    if action not in dict(buttons(account, case)):
        raise Forbidden(f"{ROLE_LABELS[account.role]}「{account.acts_as}」现在不能{label(action)}这件建议")


async def keep_pdf(settings: Settings, upload) -> tuple[str, str]:  # noqa: ANN001
    """A reply letter: a PDF of at most 10 MB, kept under var/attachments/ by its SHA-256."""
    data = await upload.read(MAX_PDF + 1)
    if len(data) > MAX_PDF:
        raise InputError("答复函不能超过 10 MB")
    if not data.startswith(b"%PDF"):
        raise InputError("答复函须为 PDF 文件")
    digest = hashlib.sha256(data).hexdigest()
    folder = Path(settings.var_dir) / "attachments"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{digest}.pdf").write_bytes(data)
    return (upload.filename or "答复函.pdf")[:200], digest


def download_headers(filename: str) -> dict[str, str]:
    """A download's header: the name as given (RFC 6266 ``filename*``, so 会次 and Chinese names survive) and an
    ASCII stand-in for old clients; nothing a URL brings in can break out of the header."""
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "_", filename).strip("_") or "download"
    return {"Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"}


# what Excel would run as a formula (=, +, -, @ and the control characters it skips first): shown as text instead
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value
    return "'" + text if isinstance(text, str) and text.startswith(FORMULA_START) else text


def rows_response(rows: list[dict[str, Any]], fmt: str, filename: str) -> Response:
    """Exported rows as JSON (exactly as recorded), or as CSV that Excel opens (UTF-8 with BOM; nested values as
    JSON; a text Excel would take for a formula begins with ' so that it is shown, never run)."""
    if fmt == "json":
        return Response(json.dumps(rows, ensure_ascii=False, indent=1), media_type="application/json")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["seq"])
    writer.writeheader()
    writer.writerows({k: _csv_cell(v) for k, v in r.items()} for r in rows)
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers=download_headers(f"{filename}.csv"))


def attachment(settings: Settings, digest: str) -> FileResponse:
    return FileResponse(Path(settings.var_dir) / "attachments" / f"{digest}.pdf", media_type="application/pdf")


def case_context(request: Request, account: Account, case) -> dict[str, Any]:  # noqa: ANN001
    settings: Settings = request.app.state.settings
    _, entries = timeline(settings.db_url, case.id)
    waiting, left, late = waiting_on(settings.db_url, case.state, case.deadlines, datetime.now(UTC))
    return {
        "waiting": waiting, "left": left, "late": late,
        "case": case, "buttons": buttons(account, case), "deadlines": case.deadlines,
        "events": [(e, describe_event(e)) for e in entries],
        "when": lambda text: datetime.fromisoformat(text).astimezone(CST).strftime("%Y-%m-%d %H:%M"),
    }


