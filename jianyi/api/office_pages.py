"""Pages for the offices and the auditor beyond a single case: the 交办会 (several cases assigned at
once), the audit check and the export of a whole session, and the admin's directory and calendar."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlmodel import select

from jianyi import directory
from jianyi.api.access import ADMINS, ASSIGNERS, EXPORTS_AUDIT, Forbidden, require, visible
from jianyi.api.app import act, engine, render, rows_response
from jianyi.api.auth import check_csrf
from jianyi.api.pages import Ready
from jianyi.models.bounds import CALENDAR_MAX_BYTES
from jianyi.models.commands import InputError
from jianyi.models.db import session_for
from jianyi.models.tables import AuditEvent, Deputy, HandlingUnit, Suggestion, Supervisor
from jianyi.queries import verify_audit

router = APIRouter(include_in_schema=False)


# -- 交办会: several registered cases assigned at once ----------------------------------------------------
@router.get("/assign", response_class=HTMLResponse)
async def assign_page(request: Request, me: Ready, results: list[str] | None = None) -> Response:
    require(me, ASSIGNERS, "交办")
    with session_for(request.app.state.settings.db_url) as db:
        waiting = list(db.exec(select(Suggestion).where(Suggestion.state == "registered").order_by(Suggestion.id)))
        offices = request.app.state.settings.offices  # they are told of cases, never handle one
        units = list(db.exec(select(HandlingUnit.name).where(HandlingUnit.name.not_in(offices)).order_by(HandlingUnit.name)))  # type: ignore[attr-defined]
    return render(request, "assign.html", me, waiting=waiting, units=units, results=results or [])


@router.post("/assign", response_class=HTMLResponse)
async def assign_many(request: Request, me: Ready) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    require(me, ASSIGNERS, "交办")
    lead = str(form.get("lead_unit", "")).strip()
    co = [u.strip() for u in str(form.get("co_handlers", "")).replace("，", "、").split("、") if u.strip()]
    results = []
    for sid in form.getlist("ids"):
        try:
            case = await act(request, me, str(sid), "assign", {"lead_unit": lead, "co_handlers": co})  # as any one case's form
            results.append(f"{case.submission.display_number}：已交办{lead}")
        except (InputError, Forbidden) as exc:
            results.append(f"{sid}：{exc.message}")
    return await assign_page(request, me, results or ["未选择任何建议"])


# -- 审计: the chains, and a whole session exported ----------------------------------------------------
@router.get("/audit", response_class=HTMLResponse)
async def audit_page(request: Request, me: Ready) -> Response:
    require(me, EXPORTS_AUDIT, "审计核验")
    count, events, breaks = verify_audit(request.app.state.settings.db_url)
    return render(request, "audit.html", me, count=count, events=events, breaks=breaks)


@router.get("/audit/export.{fmt}")
async def export_session(request: Request, me: Ready, session: str, fmt: str) -> Response:
    require(me, EXPORTS_AUDIT, "导出审计记录")
    if not directory.session_exists(request.app.state.settings.db_url, session):  # an empty export would read as "nothing happened"
        raise Forbidden(f"没有会次「{session[:40]}」：请核对会次，如 16-3", "not_found")
    with session_for(request.app.state.settings.db_url) as db:
        q = select(Suggestion.id).where(Suggestion.session == session)
        scope = visible(me)
        ids = list(db.exec(q.where(scope) if scope is not None else q))
        events = list(db.exec(select(AuditEvent).where(AuditEvent.suggestion_id.in_(ids)).order_by(AuditEvent.suggestion_id, AuditEvent.seq)))  # type: ignore[attr-defined]
    return rows_response([_row(e) for e in events], fmt, f"audit-{session}")


def _row(e: AuditEvent) -> dict[str, Any]:
    return {"suggestion_id": e.suggestion_id, "seq": e.seq, "actor": e.actor, "role": e.role, "action": e.action,
            "from": e.from_state, "to": e.to_state, "payload": e.payload, "at": e.at.isoformat(),
            "effective_at": e.effective_at.isoformat(), "prev_hash": e.prev_hash, "hash": e.hash}


# -- 管理: the directory and the calendar ---------------------------------------------------------------
@router.get("/admin/directory", response_class=HTMLResponse)
async def directory_page(request: Request, me: Ready, message: str = "") -> Response:
    require(me, ADMINS, "管理目录")
    with session_for(request.app.state.settings.db_url) as db:
        lists = {"units": list(db.exec(select(HandlingUnit))), "deputies": list(db.exec(select(Deputy))),
                 "supervisors": list(db.exec(select(Supervisor)))}
    return render(request, "directory.html", me, message=message, **lists)


@router.post("/admin/directory", response_class=HTMLResponse)
async def directory_add(request: Request, me: Ready, kind: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "",
                        email: Annotated[str, Form()] = "", title: Annotated[str, Form()] = "",
                        csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    require(me, ADMINS, "管理目录")
    url = request.app.state.settings.db_url
    add = {"unit": lambda: directory.add_unit(url, name, email, actor=me.login),
           "deputy": lambda: directory.add_deputy(url, name, email, actor=me.login),
           "supervisor": lambda: directory.add_supervisor(url, name, title, email, actor=me.login)}
    try:
        if kind not in add:
            raise InputError("请选择登记的类别")
        add[kind]()
        message = f"已登记：{name}"
    except InputError as exc:
        message = exc.message
    return await directory_page(request, me, message)


@router.post("/admin/calendar", response_class=HTMLResponse)
async def calendar_load(request: Request, me: Ready, csrf: Annotated[str, Form()] = "",
                        file: Annotated[UploadFile | None, File()] = None) -> Response:
    check_csrf(request, csrf)
    require(me, ADMINS, "管理日历")
    try:
        if file is None or not file.filename:
            raise InputError("请选择日历文件（每行：YYYY-MM-DD 休|班 说明）")
        text = directory.calendar_text(await file.read(CALENDAR_MAX_BYTES + 1))
        years = directory.load_calendar_file(request.app.state.settings.db_url, text, file.filename, actor=me.login)
        moved = await (await engine(request)).recompute_open(me.login, f"载入 {'、'.join(map(str, years))} 年节假日安排")
        changed = sum(1 for _, m in moved if m)
        message = f"已载入 {'、'.join(map(str, years))} 年节假日安排；重新计算 {len(moved)} 件未办结建议的期限，其中 {changed} 件有变化。"
    except InputError as exc:
        message = exc.message
    return await directory_page(request, me, message)
