"""Importing Excel: a 交办 list (registered and assigned as the congress office would), or a finished
year from an old system (补录: each case replayed through its workflow with the real dates).

Every row is checked first; one bad row refuses the whole file, naming every bad row, and nothing is
written. A case that exists already is skipped, so running the same file again creates nothing twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlmodel import select

from jianyi import directory
from jianyi.models.commands import InputError, parse_submit
from jianyi.models.db import session_for
from jianyi.models.policy import CST
from jianyi.models.tables import Deputy, HandlingUnit, Suggestion
from jianyi.reports.excel import ASSIGN_COLUMNS, HISTORY_COLUMNS, ImportRow, check_rows, read_rows
from jianyi.service import Engine, offices_named

Progress = Callable[[int, int, str], None]


def checked(url: str, data: bytes, history: bool, offices: tuple[str, ...] = ()) -> list[ImportRow]:
    rows, errors = read_rows(data, HISTORY_COLUMNS if history else ASSIGN_COLUMNS)
    if not errors:
        with session_for(url) as db:
            units = set(db.exec(select(HandlingUnit.name)))
            deputies = set(db.exec(select(Deputy.name)))
        errors = check_rows(rows, history, units, deputies)
        errors += [f"第{r.line}行：未知的会次「{r.values['会次']}」" for r in rows
                   if r.values.get("会次") and not directory.session_exists(url, r.values["会次"])]
        errors += [f"第{r.line}行：{e}" for r in rows for e in _engine_errors(r, offices)]
    if errors:
        raise InputError("导入文件有错误，未写入任何数据：\n" + "\n".join(errors))
    return rows


async def import_file(engine: Engine, data: bytes, admin: str, history: bool, progress: Progress | None = None) -> tuple[int, int]:
    """(created, skipped). ``admin`` is the admin account's name (补录 on behalf of each role)."""
    url = engine.settings.db_url
    rows = await asyncio.to_thread(checked, url, data, history, engine.settings.offices)
    created = skipped = 0
    for n, row in enumerate(rows, start=1):
        sid = parse_submit(_submission(row)).workflow_id  # the id the engine gives it
        if await asyncio.to_thread(_exists, url, sid):
            skipped += 1
        else:
            await (_replay(engine, row, admin) if history else _assign(engine, row, admin))
            created += 1
        if progress:
            progress(n, len(rows), row.values["编号"])
    return created, skipped


def _engine_errors(row: ImportRow, offices: tuple[str, ...]) -> list[str]:
    """What the engine would refuse half way through the file, said for the row before anything is written."""
    out = []
    try:
        parse_submit(_submission(row))
    except InputError as exc:
        out.append(exc.message)
    leads = row.names("主办单位")
    if len(leads) > 1:
        out.append(f"「主办单位」只能填一个单位（现为{'、'.join(leads)}），其余请填入「协办单位」")
    if problem := offices_named([*leads, *row.names("协办单位")], offices):
        out.append(problem)
    return out


def _exists(url: str, sid: str) -> bool:
    with session_for(url) as db:
        return db.get(Suggestion, sid) is not None


def _submission(row: ImportRow) -> dict[str, Any]:
    v = row.values
    return {"session": v["会次"], "number": v["编号"], "title": v["标题"], "text": v.get("正文", ""), "category": v.get("类别", ""),
            "period": v.get("期间") or "大会期间", "lead_deputy": v["领衔代表"], "co_signers": row.names("联名代表")}


async def _assign(engine: Engine, row: ImportRow, admin: str) -> None:
    office = f"congress_office:{engine.settings.congress_office}"
    sid = await engine.submit(_submission(row), admin, "admin", effective_at=datetime.now(CST) - timedelta(minutes=1))
    await engine.act(sid, "review", admin, "admin", {"decision": "register"}, on_behalf_of=office)
    await engine.act(sid, "assign", admin, "admin", {"lead_unit": row.values["主办单位"], "co_handlers": row.names("协办单位")},
                     on_behalf_of=office)


async def _replay(engine: Engine, row: ImportRow, admin: str) -> None:
    """A finished case, step by step, each dated when it happened."""
    v, d, s = row.values, row.dates, engine.settings
    unit, deputy = f"unit:{v['主办单位']}", f"deputy:{v['领衔代表']}"
    office, gov = f"congress_office:{s.congress_office}", f"government_office:{s.government_office}"
    assigned = d["交办日期"]
    sid = await engine.submit(_submission(row), admin, "admin", effective_at=_at(assigned, 8, 30))

    async def step(action: str, who: str, day: date, hour: int, minute: int = 0, **payload: Any) -> None:
        await engine.act(sid, action, admin, "admin", payload, on_behalf_of=who, effective_at=_at(day, hour, minute))

    await step("review", office, assigned, 8, 40, decision="register")
    await step("assign", office, assigned, 9, lead_unit=v["主办单位"], co_handlers=row.names("协办单位"))
    await step("sign", unit, d.get("签收日期", assigned), 10)
    await _reply(step, unit, gov, d["答复日期"], v["答复类别"])
    judged = d.get("评价日期", d["答复日期"] + timedelta(days=5))
    if v.get("办理结果评价") in ("满意", "基本满意", "不满意"):
        work = v.get("办理工作评价") or v["办理结果评价"]
        comment = "（补录）" if v["办理结果评价"] == "不满意" else ""
        await step("evaluate", deputy, judged, 11, work=work, result=v["办理结果评价"], comment=comment)
    if v.get("办理结果评价") == "不满意":
        await _reply(step, unit, gov, d["重新办理答复日期"], v["答复类别"])
        final = v["重新办理结果评价"]
        await step("evaluate", deputy, d["重新办理答复日期"] + timedelta(days=5), 11, work=final, result=final,
                   comment="（补录）" if final == "不满意" else "")


async def _reply(step: Callable[..., Any], unit: str, gov: str, day: date, reply_class: str) -> None:
    await step("record_contact", unit, day, 8, 30, method="书面", on=day.isoformat(), note="（补录）")
    await step("reply", unit, day, 9, reply_class=reply_class, text="（补录：答复原件见原系统）", signed_by="（补录）")
    await step("review_reply", gov, day, 9, 30, decision="approve")


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), CST)
