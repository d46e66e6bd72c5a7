"""统计: the figures of a session with charts (SVG drawn on the server), the three workbooks to
download, and the admin's import form with its row-numbered errors."""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlmodel import select

from jianyi.api.access import READS_FIGURES, Forbidden, require
from jianyi.api.app import download_headers, engine, render
from jianyi.api.auth import check_csrf
from jianyi.api.pages import Ready
from jianyi.directory import session_exists
from jianyi.models.accounts import Account
from jianyi.models.bounds import IMPORT_MAX_BYTES
from jianyi.models.commands import InputError
from jianyi.models.db import session_for
from jianyi.models.states import Role
from jianyi.models.tables import Session
from jianyi.reports.excel import commitments_ledger, replies_ledger, statistics_workbook
from jianyi.reports.figures import breakdown, figures
from jianyi.reports.load import commitment_rows, load_cases
from jianyi.reports.text import PERIOD_WORDS, report_text

router = APIRouter(include_in_schema=False)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WORKBOOK_NAMES = {"statistics": "统计工作簿", "replies": "答复台账", "commitments": "承诺事项台账"}  # as the page names them


def _reader(me: Account) -> None:
    require(me, READS_FIGURES, "查看统计")


def bars(values: dict[str, float], unit: str = "%", width: int = 520) -> str:
    """A horizontal bar chart as inline SVG (no script, no CDN)."""
    top = max(values.values(), default=0) or 1
    rows = []
    for i, (name, value) in enumerate(values.items()):
        w = int((width - 220) * value / top)
        rows.append(f'<text x="0" y="{i * 24 + 16}" font-size="13">{escape(name[:12])}</text>'
                    f'<rect x="170" y="{i * 24 + 4}" width="{w}" height="16" fill="#8b0000"/>'
                    f'<text x="{176 + w}" y="{i * 24 + 16}" font-size="12">{value:g}{unit}</text>')
    return f'<svg viewBox="0 0 {width} {len(values) * 24 + 8}" width="100%" role="img">{"".join(rows)}</svg>'


@router.get("/reports", response_class=HTMLResponse)
async def reports_page(request: Request, me: Ready, session: str = "", period: str = "", message: str = "") -> Response:
    _reader(me)
    url = request.app.state.settings.db_url
    with session_for(url) as db:
        sessions = list(db.exec(select(Session).order_by(Session.code)))
    session = session or (sessions[-1].code if sessions else "")
    if session and session not in {s.code for s in sessions}:
        message = message or f"没有会次「{session}」：请从列表选择已登记的会次"
    if period and period not in PERIOD_WORDS:
        message, period = message or f"没有期间「{period[:20]}」：应为 大会期间 或 闭会期间（下面是两个期间合计）", ""
    rows = load_cases(url, session, period or None) if session else []
    f = figures(rows) if rows else None
    charts = {}
    if f:
        d = f.first_result
        charts["evaluation"] = bars({f"{w}（{n}件）": float(d.pct(w)) for w, n in d.counts.items()})  # 未表态 is a count, said apart
        charts["units"] = bars({u: g.replied for u, g in breakdown(rows, "lead_unit").items()}, unit="件")
    return render(request, "reports.html", me, sessions=sessions, session=session, period=period, f=f, charts=charts,
                  text=report_text(rows, period or None) if f else "", message=message, can_import=Role(me.role) == Role.ADMIN)


@router.get("/reports/{session}/{kind}.xlsx")
async def workbook(request: Request, session: str, kind: str, me: Ready) -> Response:
    _reader(me)
    url = request.app.state.settings.db_url
    makers = {"statistics": lambda: statistics_workbook(load_cases(url, session)), "replies": lambda: replies_ledger(load_cases(url, session)),
              "commitments": lambda: commitments_ledger(commitment_rows(url, session))}
    if kind not in makers:
        raise Forbidden("没有这种工作簿", "not_found")
    if not session_exists(url, session):
        raise Forbidden(f"没有会次「{session}」：请在统计页选择已登记的会次", "not_found")
    return Response(makers[kind](), media_type=XLSX, headers=download_headers(f"{session}-{WORKBOOK_NAMES[kind]}.xlsx"))


@router.post("/reports/import", response_class=HTMLResponse)
async def import_excel(request: Request, me: Ready, kind: Annotated[str, Form()] = "assign", csrf: Annotated[str, Form()] = "",
                       file: Annotated[UploadFile | None, File()] = None) -> Response:
    check_csrf(request, csrf)
    if Role(me.role) != Role.ADMIN:
        raise Forbidden("导入只能由系统管理员执行")
    from jianyi.imports import import_file

    try:
        if file is None or not file.filename:
            raise InputError("请选择要导入的 Excel 文件")
        created, skipped = await import_file(await engine(request), await file.read(IMPORT_MAX_BYTES + 1), me.acts_as, history=kind == "history")
        message = f"导入完成：新建{created}件，已存在跳过{skipped}件。"
    except InputError as exc:
        message = exc.message
    return await reports_page(request, me, message=message)
