"""The JSON API (/api/…): the same accounts, the same authorization, the same Chinese errors with
stable codes ({"code": …, "message": …}); an OpenAPI document at /openapi.json."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel

from jianyi.api import views
from jianyi.api.access import stuck_scope
from jianyi.api.app import act, buttons, visible_case
from jianyi.api.auth import LoginRequired, check_csrf, current_account
from jianyi.models.accounts import Account
from jianyi.models.actions import Action
from jianyi.models.commands import InputError
from jianyi.models.states import ROLE_LABELS
from jianyi.models.stuck import KIND_NAMES
from jianyi.queries import stuck_cases

router = APIRouter(prefix="/api", tags=["api"])


class ErrorOut(BaseModel):
    code: str
    message: str


ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorOut} for s in (400, 401, 403, 404, 503)}


def api_account(request: Request, account: Annotated[Account, Depends(current_account)]) -> Account:
    """A cookie session must also send its CSRF token (header X-CSRF-Token) to change anything."""
    if request.method != "GET" and not request.headers.get("authorization"):
        check_csrf(request, request.headers.get("x-csrf-token"))
    if account.must_change:
        raise LoginRequired("首次登录须先修改密码")
    return account


Me = Annotated[Account, Depends(api_account)]


class MeOut(BaseModel):
    login: str
    name: str
    role: str
    role_label: str
    acts_as: str


@router.get("/me", response_model=MeOut, responses=ERRORS)
async def me(account: Me) -> MeOut:
    return MeOut(login=account.login, name=account.display_name, role=account.role,
                 role_label=ROLE_LABELS[account.role], acts_as=account.acts_as)


class SuggestionOut(BaseModel):
    id: str
    number: str
    title: str
    state: str
    lead_unit: str
    reply_due: datetime | None


@router.get("/suggestions", response_model=list[SuggestionOut], responses=ERRORS)
async def suggestions(request: Request, account: Me) -> list[SuggestionOut]:
    rows = views.visible_suggestions(request.app.state.settings.db_url, account)
    return [SuggestionOut(id=s.id, number=s.number, title=s.title, state=s.state, lead_unit=s.lead_unit, reply_due=s.reply_due) for s in rows]


@router.get("/suggestions/{suggestion_id}", responses=ERRORS)
async def suggestion(request: Request, suggestion_id: str, account: Me) -> dict[str, Any]:
    case = await visible_case(request, account, suggestion_id)
    return case.model_dump(mode="json") | {"allowed_actions": [a for a, _ in buttons(account, case)]}


@router.post("/suggestions/{suggestion_id}/actions/{action}", responses=ERRORS)
async def action(request: Request, suggestion_id: str, action: Action, account: Me,
                 payload: Annotated[dict[str, Any], Body(default_factory=dict)]) -> dict[str, Any]:
    case = await act(request, account, suggestion_id, action.value, payload)
    return {"id": case.id, "state": case.state, "state_label": case.state_label, "round": case.round}


@router.get("/todo", responses=ERRORS)
async def todo(request: Request, account: Me) -> list[dict[str, Any]]:
    items = views.todo_list(request.app.state.settings.db_url, account, datetime.now(UTC))
    return [{"id": t.id, "number": t.number, "title": t.title, "what": t.what, "due": t.due, "left": t.left, "overdue": t.overdue}
            for t in items]


@router.get("/stuck", responses=ERRORS)
async def stuck(request: Request, account: Me, unit: str = "", kind: str = "", session: str = "", page: int = 1) -> dict[str, Any]:
    own_unit, supervisor = stuck_scope(account)
    if kind and kind not in KIND_NAMES:
        raise InputError(f"未知的类别「{kind}」，可选：{'、'.join(KIND_NAMES)}")
    unit = own_unit or unit
    found = stuck_cases(request.app.state.settings.db_url, datetime.now(UTC), unit or None, kind=kind or None,
                        session=session or None, supervisor=supervisor, page=page)
    return {"total": found.total, "page": found.page, "counts": found.counts, "cases": [c.to_json() for c in found.cases]}
