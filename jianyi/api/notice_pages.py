"""Where the links in the notices lead beyond a single case: a digest (月度督办, 承诺事项台账, 每日督办清单)
as its recipient received it, and the admin's outbox with the notices that could not be delivered."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import select

from jianyi.api.access import READS_OUTBOX, SEE_ALL, Forbidden, require, visible
from jianyi.api.app import render
from jianyi.api.pages import Ready
from jianyi.models.accounts import Account
from jianyi.models.commands import InputError, suggestion_id_of
from jianyi.models.db import session_for
from jianyi.models.notices import FAILED
from jianyi.models.states import Role
from jianyi.models.tables import Outbox, Suggestion, in_number_order
from jianyi.queries import digest_rows, outbox_rows

router = APIRouter(include_in_schema=False)


@router.get("/digests/{source_id}", response_class=HTMLResponse)
async def digest_page(request: Request, me: Ready, source_id: str) -> Response:
    """A digest's letters: all of them for the offices, the admin and the auditor, else the account's own."""
    everyone = Role(me.role) in SEE_ALL
    rows = digest_rows(request.app.state.settings.db_url, source_id[:200], None if everyone else me.acts_as)
    if not rows:  # never sent, or not to this account: the same answer, so nothing is learnt about others
        raise Forbidden(f"找不到这份汇总通知「{source_id[:60]}」，或它不是发给「{me.acts_as}」的", "not_found")
    return render(request, "digest.html", me, rows=rows, cases=_listed(request, me, rows))


def _listed(request: Request, me: Account, rows: list[Outbox]) -> list[Suggestion]:
    """The suggestions a digest lists (by their numbers), those this account may open, to link to."""
    numbers = {n for r in rows for n in re.findall(r"(?:闭会)?第\d{1,6}号", r.body)}
    if not numbers:
        return []
    with session_for(request.app.state.settings.db_url) as db:
        q = select(Suggestion).where(Suggestion.number.in_(numbers))  # type: ignore[attr-defined]
        scope = visible(me)
        q = q.where(scope) if scope is not None else q
        return list(db.exec(q.order_by(*in_number_order()).limit(500)))


@router.get("/outbox", response_class=HTMLResponse)
async def outbox_page(request: Request, me: Ready, failed: bool = False, suggestion: str = "") -> Response:
    require(me, READS_OUTBOX, "查看发件箱")
    message, rows = "", []
    try:
        sid = suggestion_id_of(suggestion) if suggestion.strip() else None
        rows = outbox_rows(request.app.state.settings.db_url, failed, sid)
    except InputError as exc:
        message = exc.message
    return render(request, "outbox.html", me, rows=rows[-500:], total=len(rows), failed=failed, suggestion=suggestion,
                  message=message, failed_statuses=FAILED)
