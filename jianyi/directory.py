"""Reference data an admin keeps: deputies, handling units, sessions, the calendar overrides."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session as DbSession
from sqlmodel import select

from jianyi.adminlog import record_admin_event
from jianyi.models.bounds import CALENDAR_MAX_BYTES
from jianyi.models.calendar import missing_holidays, parse_calendar_file
from jianyi.models.commands import InputError
from jianyi.models.contacts import check_contact
from jianyi.models.db import session_for, to_db
from jianyi.models.tables import (
    CalendarOverride,
    CalendarYear,
    Deputy,
    HandlingUnit,
    Session,
    Supervisor,
)


def add_unit(
    url: str,
    name: str,
    email: str = "",
    kind: str = "政府部门",
    channel: str = "email",
    *,
    webhook_url: str = "",
    phone: str = "",
    actor: str = "系统管理员",
) -> None:
    """Register (or replace) a unit; ``channel`` says how its notices go (email / wecom / dingtalk / webhook / sms)."""
    name = name.strip()
    if not name:
        raise InputError("单位名称不能为空")
    channel, webhook_url, phone = channel.strip() or "email", webhook_url.strip(), phone.strip()
    check_contact(channel, email, webhook_url, phone)
    with session_for(url) as db:
        row = db.exec(select(HandlingUnit).where(HandlingUnit.name == name)).first() or HandlingUnit(name=name)
        row.email, row.kind, row.channel = email, kind, channel
        row.webhook_url, row.phone = webhook_url, phone
        db.add(row)
        record_admin_event(db, actor, "admin", "directory_unit", {"name": name, "kind": kind, "channel": channel})
        db.commit()


def add_deputy(
    url: str,
    name: str,
    email: str = "",
    phone: str = "",
    constituency: str = "",
    *,
    channel: str = "email",
    webhook_url: str = "",
    actor: str = "系统管理员",
) -> None:
    name = name.strip()
    if not name:
        raise InputError("代表姓名不能为空")
    channel, webhook_url = channel.strip() or "email", webhook_url.strip()
    check_contact(channel, email, webhook_url, phone)
    with session_for(url) as db:
        row = db.exec(select(Deputy).where(Deputy.name == name)).first() or Deputy(name=name)
        row.email, row.phone, row.constituency = email, phone, constituency
        row.channel, row.webhook_url = channel, webhook_url
        db.add(row)
        record_admin_event(db, actor, "admin", "directory_deputy", {"name": name, "channel": channel})
        db.commit()


def add_session(url: str, code: str, name: str, opened_on: date | None = None, actor: str = "系统管理员") -> str:
    """Register a session (会次) or update it; returns its previous name ("" when it is new)."""
    code, name = code.strip(), name.strip()
    if not code or not name:
        raise InputError("会次代码和名称都不能为空，如 16-3 \"武昌区第十六届人民代表大会第三次会议\"")
    if opened_on is not None and opened_on > date.today() + timedelta(days=366):
        raise InputError(f"开幕日 {opened_on} 太远：应为已开或一年内将开的会次")
    with session_for(url) as db:
        row = db.exec(select(Session).where(Session.code == code)).first()
        before = row.name if row is not None else ""
        row = row or Session(code=code, name=name)
        row.name, row.opened_on = name, opened_on
        db.add(row)
        record_admin_event(db, actor, "admin", "directory_session", {"code": code, "name": name, "before": before})
        db.commit()
    return before


def add_supervisor(
    url: str, name: str, title: str = "", email: str = "", phone: str = "", *,
    channel: str = "email", webhook_url: str = "", actor: str = "系统管理员",
) -> None:
    """Register (or replace) a supervisor (督办人) who may be assigned key-supervision items."""
    name = name.strip()
    if not name:
        raise InputError("督办人姓名不能为空")
    channel, webhook_url = channel.strip() or "email", webhook_url.strip()
    check_contact(channel, email, webhook_url, phone)
    with session_for(url) as db:
        row = db.exec(select(Supervisor).where(Supervisor.name == name)).first() or Supervisor(name=name)
        row.title, row.email, row.phone, row.channel, row.webhook_url = title, email, phone, channel, webhook_url
        db.add(row)
        record_admin_event(db, actor, "admin", "directory_supervisor", {"name": name, "title": title, "channel": channel})
        db.commit()


def supervisor_exists(url: str, name: str) -> bool:
    with session_for(url) as db:
        return bool(name) and db.exec(select(Supervisor).where(Supervisor.name == name)).first() is not None


def unknown_units(url: str, names: Iterable[str]) -> list[str]:
    wanted = [n for n in names if n]
    with session_for(url) as db:
        known = set(db.exec(select(HandlingUnit.name).where(HandlingUnit.name.in_(wanted))))  # type: ignore[attr-defined]
    return [n for n in wanted if n not in known]


def unknown_deputies(url: str, names: Iterable[str]) -> list[str]:
    with session_for(url) as db:
        return _unknown_deputies(db, names)


def _unknown_deputies(db: DbSession, names: Iterable[str]) -> list[str]:
    wanted = [n for n in names if n]
    known = set(db.exec(select(Deputy.name).where(Deputy.name.in_(wanted))))  # type: ignore[attr-defined]
    return [n for n in wanted if n not in known]


def submission_references(url: str, code: str, deputies: Iterable[str]) -> tuple[bool, date | None, list[str]]:
    """What a submission names, looked up at once: whether its session (会次) is registered, the day
    it opened, and the deputies that are not registered."""
    with session_for(url) as db:
        row = db.exec(select(Session).where(Session.code == code)).first()
        return row is not None, row.opened_on if row else None, _unknown_deputies(db, deputies)


def session_exists(url: str, code: str) -> bool:
    with session_for(url) as db:
        return db.exec(select(Session).where(Session.code == code)).first() is not None


def calendar_text(data: bytes) -> str:
    """A calendar file's text, bounded and UTF-8 (an InputError in Chinese otherwise); give it at most
    ``CALENDAR_MAX_BYTES + 1`` bytes."""
    if len(data) > CALENDAR_MAX_BYTES:
        raise InputError(f"日历文件太大（超过 {CALENDAR_MAX_BYTES // 1024} KB）：每年只需几十行「YYYY-MM-DD 休|班 说明」")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("日历文件应为 UTF-8 文本") from None


def load_calendar_file(url: str, text: str, source: str, actor: str = "系统管理员") -> list[int]:
    """Load an admin calendar file (holidays and 调休 days for whole years); returns the years.

    A file must cover whole years: each year's State Council holidays, or it is refused whole.
    """
    try:
        overrides, years = parse_calendar_file(text)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    for year in sorted(years):
        missing = missing_holidays(overrides, year)
        if missing:
            raise InputError(f"日历文件未覆盖{year}年全年：缺少{'、'.join(missing)}的放假安排（应包含国务院通知的全部节假日）")
    with session_for(url) as db:
        for o in overrides:
            row = db.get(CalendarOverride, o.day) or CalendarOverride(day=o.day, workday=o.workday)
            row.workday, row.name = o.workday, o.name
            db.add(row)
        for y in years:
            row = db.get(CalendarYear, y) or CalendarYear(year=y, loaded_at=to_db(datetime.now(UTC)))
            row.source, row.loaded_at = source, to_db(datetime.now(UTC))
            db.add(row)
        record_admin_event(db, actor, "admin", "calendar_load", {"source": source, "years": sorted(years), "days": len(overrides)})
        db.commit()
    return sorted(years)
