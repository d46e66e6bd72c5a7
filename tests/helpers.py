"""Test data from the seed reports and a few steps that many tests share."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from jianyi import directory
from jianyi.models.db import session_for
from jianyi.models.tables import AuditEvent, Outbox
from jianyi.service import Engine
from jianyi.settings import Settings

CONGRESS = "congress_office:代表工委"
UNITS = {
    "区地方金融工作局": "jinrong@example.gov",
    "区科技局": "keji@example.gov",
    "区城管局": "chengguan@example.gov",
    "区水务局": "shuiwu@example.gov",
    "杨园街道办事处": "yangyuan@example.gov",
    "区人大常委会代表工作委员会": "daigongwei@example.gov",
    "区政府办公室": "zhengfuban@example.gov",
    "区政府督查室": "duchashi@example.gov",
}
DEPUTIES = ["杨永兵", "刘正心", "饶满琳", "胡家胜", "王琨", "楚俊"]
FIRST = {
    "session": "16-3",
    "number": "第40号",
    "title": "关于做好武昌区科技金融、绿色金融、普惠金融、养老金融、数字金融的建议",
    "text": "依托金融网格化工作机制，搭建金融机构服务辖区企业的载体。",
    "category": "经济发展",
    "lead_deputy": "杨永兵",
}


def seed_directory(settings: Settings) -> None:
    """Units, deputies and a session whose code is unique to the test (workflow ids stay apart)."""
    url = settings.db_url
    directory.add_session(url, settings.task_queue, "武昌区第十六届人民代表大会第三次会议")
    for name, email in UNITS.items():
        directory.add_unit(url, name, email)
    for name in DEPUTIES:
        directory.add_deputy(url, name, email=f"{name}@deputy.example")


def who(spec: str) -> tuple[str, str]:
    role, _, name = spec.partition(":")
    return name, role


async def do(engine: Engine, sid: str, action: str, spec: str, **payload: Any):  # noqa: ANN201
    actor, role = who(spec)
    return await engine.act(sid, action, actor, role, payload)


def suggestion(settings: Settings, **changes: Any) -> dict[str, Any]:
    """The 第40号 suggestion of the seed report, in this test's own session."""
    return {**FIRST, "session": settings.task_queue, **changes}


async def submit_and_assign(engine: Engine, data: dict[str, Any] | None = None, lead: str = "区地方金融工作局", co: list[str] | None = None) -> str:
    data = data or suggestion(engine.settings)
    sid = await engine.submit(data, data["lead_deputy"])
    await do(engine, sid, "review", CONGRESS, decision="register")
    await do(engine, sid, "assign", CONGRESS, lead_unit=lead, co_handlers=co or [])
    return sid


async def reply_and_approve(engine: Engine, sid: str, unit: str = "区地方金融工作局", reply_class: str = "A", commitments: list[dict[str, Any]] | None = None) -> None:
    await do(engine, sid, "record_contact", f"unit:{unit}", method="座谈", on="2026-11-20", note="与代表座谈")
    await do(engine, sid, "reply", f"unit:{unit}", reply_class=reply_class, text="已组织金融对接活动。", signed_by="局长 张三", commitments=commitments or [])
    await do(engine, sid, "review_reply", "government_office:区政府办公室", decision="approve")


def audit(settings: Settings, sid: str) -> list[AuditEvent]:
    with session_for(settings.db_url) as db:
        return list(db.exec(select(AuditEvent).where(AuditEvent.suggestion_id == sid).order_by(AuditEvent.seq)))


def outbox(settings: Settings, sid: str, kind: str | None = None) -> list[Outbox]:
    with session_for(settings.db_url) as db:
        q = select(Outbox).where(Outbox.suggestion_id == sid)
        if kind:
            q = q.where(Outbox.kind == kind)
        return list(db.exec(q.order_by(Outbox.id)))
