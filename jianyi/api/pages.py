"""The Chinese pages: login, 工作台, the case page and its action forms, submitting, the stuck view,
the auditor's export, and the admin's accounts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from jianyi import accounts
from jianyi.api import views
from jianyi.api.access import (
    ADMINS,
    EXPORTS_AUDIT,
    SUBMITTERS,
    Forbidden,
    check_may_act,
    identity,
    require,
    stuck_scope,
)
from jianyi.api.app import (
    act,
    attachment,
    case_context,
    check_may_take,
    keep_pdf,
    render,
    rows_response,
    visible_case,
)
from jianyi.api.auth import LoginRequired, check_csrf, current_account, sign_in
from jianyi.api.forms import form_fields, parse_form
from jianyi.models.accounts import ACCOUNT_ROLES, Account
from jianyi.models.actions import SPECS, Action, label
from jianyi.models.commands import InputError, SubmitInput
from jianyi.models.states import STATE_LABELS, Role
from jianyi.models.stuck import KINDS, StuckPage
from jianyi.queries import stuck_cases, timeline

router = APIRouter(include_in_schema=False)
Me = Annotated[Account, Depends(current_account)]


def ready(account: Me) -> Account:
    """An account that must first change its password may do nothing else."""
    if account.must_change:
        raise LoginRequired("首次登录须先修改密码")
    return account


Ready = Annotated[Account, Depends(ready)]


# -- login -------------------------------------------------------------------------------------------
@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/", why: str = "") -> Response:
    if why == "首次登录须先修改密码":
        return RedirectResponse("/password", status_code=303)
    return render(request, "login.html", None, next=local_path(next), message=why, login="")


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, login: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
                csrf: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/") -> Response:
    check_csrf(request, csrf)
    try:
        account = accounts.authenticate(request.app.state.settings.db_url, login, password)
    except InputError as exc:
        return render(request, "login.html", None, next=next, message=exc.message, login=login, status=401)
    sign_in(request, account)
    target = "/password" if account.must_change else local_path(next)
    return RedirectResponse(target, status_code=303)


def local_path(target: str) -> str:
    """Where a login may send the browser next: a path of this site only ("//host/…" and "/\\host" are other sites)."""
    if target.startswith("/") and not target.startswith(("//", "/\\")) and not any(c in target for c in "\r\n"):
        return target
    return "/"


@router.post("/logout")
async def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    request.session.clear()
    return RedirectResponse("/login?why=" + "已退出", status_code=303)


@router.get("/password", response_class=HTMLResponse)
async def password_page(request: Request, me: Me) -> Response:
    return render(request, "password.html", me, message="首次登录，请先设置新密码" if me.must_change else "")


@router.post("/password", response_class=HTMLResponse)
async def change_password(request: Request, me: Me, old: Annotated[str, Form()] = "", new: Annotated[str, Form()] = "",
                          again: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    try:
        if new != again:
            raise InputError("两次输入的新密码不一致")
        accounts.change_password(request.app.state.settings.db_url, me.login, old, new)
    except InputError as exc:
        return render(request, "password.html", me, message=exc.message, status=400)
    return RedirectResponse("/", status_code=303)


# -- 工作台 ----------------------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
async def workbench(request: Request, me: Ready) -> Response:
    settings = request.app.state.settings
    todos = views.todo_list(settings.db_url, me, datetime.now(UTC))
    mine = views.visible_suggestions(settings.db_url, me)
    return render(request, "workbench.html", me, todos=todos, mine=mine, can_submit=Role(me.role) == Role.DEPUTY, labels=STATE_LABELS)


# -- a case ------------------------------------------------------------------------------------------
@router.get("/suggestions/{suggestion_id}", response_class=HTMLResponse)
async def case_page(request: Request, suggestion_id: str, me: Ready) -> Response:
    case = await visible_case(request, me, suggestion_id)
    return render(request, "case.html", me, **case_context(request, me, case))


@router.get("/suggestions/{suggestion_id}/act/{action}", response_class=HTMLResponse)
async def action_form(request: Request, suggestion_id: str, action: str, me: Ready) -> Response:
    case = await visible_case(request, me, suggestion_id)
    spec = _spec(action)
    check_may_take(me, case, action)  # never a form for a step that would be refused
    return render(request, "action.html", me, case=case, action=action, title=spec.label,
                  fields=form_fields(spec.payload), message="", upload=action == Action.REPLY)


@router.post("/suggestions/{suggestion_id}/act/{action}", response_class=HTMLResponse)
async def action_post(request: Request, suggestion_id: str, action: str, me: Ready,
                      attachment_file: Annotated[UploadFile | None, File()] = None) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(request, form.get("csrf"))
    spec = _spec(action)
    payload = parse_form(spec.payload, form)
    try:
        if action == Action.REPLY and attachment_file is not None and attachment_file.filename:
            payload["attachment_name"], payload["attachment_sha256"] = await keep_pdf(request.app.state.settings, attachment_file)
        await act(request, me, suggestion_id, action, payload)
    except InputError as exc:
        case = await visible_case(request, me, suggestion_id)
        return render(request, "action.html", me, case=case, action=action, title=spec.label, fields=form_fields(spec.payload, form),
                      message=exc.message, upload=action == Action.REPLY, status=400 if getattr(exc, "exit_code", 1) != 3 else 503)
    return RedirectResponse(f"/suggestions/{suggestion_id}", status_code=303)


def _spec(action: str):  # noqa: ANN202
    try:
        return SPECS[Action(action)]
    except ValueError:
        raise Forbidden(f"未知的操作「{action}」", "unknown_action") from None


@router.get("/suggestions/{suggestion_id}/attachments/{digest}.pdf")
async def reply_letter(request: Request, suggestion_id: str, digest: str, me: Ready) -> Response:
    case = await visible_case(request, me, suggestion_id)
    if digest not in {r.attachment_sha256 for r in case.replies if r.attachment_sha256}:
        raise Forbidden("这件建议没有这份答复函", "not_found")
    return attachment(request.app.state.settings, digest)


# -- 代表: submit ---------------------------------------------------------------------------------------
@router.get("/submit", response_class=HTMLResponse)
async def submit_page(request: Request, me: Ready) -> Response:
    _deputy(me)
    return render(request, "action.html", me, case=None, action="submit", title="提出建议", message="", upload=False,
                  fields=[f for f in form_fields(SubmitInput) if f.name != "lead_deputy"])


@router.post("/submit", response_class=HTMLResponse)
async def submit(request: Request, me: Ready) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(request, form.get("csrf"))
    _deputy(me)
    from jianyi.api.app import engine

    data = parse_form(SubmitInput, form) | {"lead_deputy": me.acts_as}  # the lead deputy is the account, never a field
    try:
        sid = await (await engine(request)).submit(data, me.acts_as, Role.DEPUTY, via="web")
    except InputError as exc:
        fields = [f for f in form_fields(SubmitInput, form) if f.name != "lead_deputy"]
        return render(request, "action.html", me, case=None, action="submit", title="提出建议", fields=fields,
                      message=exc.message, upload=False, status=400)
    return RedirectResponse(f"/suggestions/{sid}", status_code=303)


def _deputy(me: Account) -> None:
    check_may_act(me)
    if Role(me.role) not in SUBMITTERS:
        raise Forbidden("只有代表可以提出建议")


# -- 卡住的建议 -------------------------------------------------------------------------------------------
@router.get("/stuck", response_class=HTMLResponse)
async def stuck_page(request: Request, me: Ready, unit: str = "", kind: str = "", session: str = "", page: int = 1) -> Response:
    own_unit, supervisor = stuck_scope(me)
    unit = own_unit or unit
    kind = kind if kind in {k.name for k in KINDS} else ""
    message = ""
    try:
        found = stuck_cases(request.app.state.settings.db_url, datetime.now(UTC), unit or None, kind=kind or None,
                            session=session or None, supervisor=supervisor, page=page)
    except InputError as exc:  # a filter naming what is not registered: said on the page, the filter kept to correct
        found, message = StuckPage.empty(), exc.message
    return render(request, "stuck.html", me, found=found, kinds=KINDS, unit=unit, kind=kind, session=session, message=message)


# -- 审计: export ----------------------------------------------------------------------------------------
@router.get("/suggestions/{suggestion_id}/export.{fmt}")
async def export_case(request: Request, suggestion_id: str, fmt: str, me: Ready) -> Response:
    require(me, EXPORTS_AUDIT, "导出审计记录")
    await visible_case(request, me, suggestion_id)
    _, entries = timeline(request.app.state.settings.db_url, suggestion_id)
    return rows_response([_export_row(e) for e in entries], fmt, suggestion_id)


def _export_row(e: Any) -> dict[str, Any]:
    return {"seq": e.seq, "effective_at": e.effective_at, "recorded_at": e.recorded_at, "actor": e.actor, "role": e.role,
            "action": e.action, "label": label(e.action, e.detail), "from": e.from_state, "to": e.to_state, "payload": e.detail,
            "hash": e.hash, "prev_hash": e.prev_hash}


# -- 管理: accounts --------------------------------------------------------------------------------------
@router.get("/admin", response_class=HTMLResponse)
async def admin_page(request: Request, me: Ready, message: str = "") -> Response:
    _admin(me)
    return render(request, "admin.html", me, accounts=accounts.list_accounts(request.app.state.settings.db_url),
                  roles=ACCOUNT_ROLES, message=message, created=None)


@router.post("/admin/accounts", response_class=HTMLResponse)
async def admin_add_account(request: Request, me: Ready, login: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "",
                            role: Annotated[str, Form()] = "", binding: Annotated[str, Form()] = "",
                            csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    _admin(me)
    url = request.app.state.settings.db_url
    try:
        password = accounts.add_account(url, login, name, role, binding, actor=me.login)
    except InputError as exc:
        return render(request, "admin.html", me, accounts=accounts.list_accounts(url), roles=ACCOUNT_ROLES, message=exc.message,
                      created=None, status=400)
    return render(request, "admin.html", me, accounts=accounts.list_accounts(url), roles=ACCOUNT_ROLES, message="",
                  created=(login, password))


@router.post("/admin/accounts/manage", response_class=HTMLResponse)
async def admin_manage_account(request: Request, me: Ready, login: Annotated[str, Form()] = "", op: Annotated[str, Form()] = "",
                               csrf: Annotated[str, Form()] = "") -> Response:
    """Reset a forgotten password (a new initial one, shown once, changed at first login), or disable / enable."""
    check_csrf(request, csrf)
    _admin(me)
    url = request.app.state.settings.db_url
    created, message, status = None, "", 200
    try:
        if op not in MANAGE_OPS:
            raise InputError("请选择要做的操作：重置密码、停用或启用")
        if op == "reset":
            created = (login, accounts.reset_password(url, login, actor=me.login))
        else:
            accounts.set_active(url, login, op == "enable", actor=me.login, acting_login=me.login)
            message = f"已{MANAGE_OPS[op]}账号 {login}"
    except InputError as exc:
        message, status = exc.message, 400
    return render(request, "admin.html", me, accounts=accounts.list_accounts(url), roles=ACCOUNT_ROLES, message=message,
                  created=created, reset=op == "reset", status=status)


MANAGE_OPS = {"reset": "重置密码", "disable": "停用", "enable": "启用"}


def _admin(me: Account) -> None:
    if Role(me.role) not in ADMINS:
        raise Forbidden("只有系统管理员可以管理账号")


__all__ = ["identity", "router"]
