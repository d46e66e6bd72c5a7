"""Bounds on what reaches workflow code: text people can read, names of sane length, dates in range.

Pure. Texts with control characters, bidi overrides or nothing but invisible characters are
refused (they can hide what a record says); every date and time must lie between the policy's
earliest date and some years ahead of "now" — handed in, because workflow code may not read a clock.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel

EARLIEST = date(2000, 1, 1)
YEARS_AHEAD = 10
NAME_MAX = 50
# files an admin hands in: an Excel import (a national year's 9,000 rows are about 2 MB) and a calendar file
IMPORT_MAX_BYTES = 20 * 1024 * 1024
IMPORT_MAX_ROWS = 20_000
CALENDAR_MAX_BYTES = 1024 * 1024
# Bidi embeddings, overrides and isolates: they reorder what a reader sees (U+200E/F marks are allowed).
BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
INVISIBLE = set("\u200b\u200c\u200d\u2060\ufeff\u00ad")


def text_problem(value: str) -> str:
    """Why ``value`` cannot be kept as text people read ("" when it can)."""
    if any(ch in BIDI for ch in value):
        return "含有改变文字显示顺序的控制字符"
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\r\t" for ch in value):
        return "含有控制字符"
    if any(ch in INVISIBLE for ch in value) and all(ch in INVISIBLE or ch.isspace() for ch in value):
        return "只有不可见字符"
    return ""


def check_texts(data: Any, where: str = "") -> None:
    """Every string in a payload (lists and nested objects included); ValueError names the field."""
    if isinstance(data, str):
        problem = text_problem(data)
        if problem:
            raise ValueError(f"「{where or '内容'}」{problem}")
    elif isinstance(data, dict):
        for key, value in data.items():
            check_texts(value, str(key))
    elif isinstance(data, list | tuple):
        for value in data:
            check_texts(value, where)


def latest(now: datetime) -> date:
    return (now + timedelta(days=365 * YEARS_AHEAD + YEARS_AHEAD // 4)).date()


def date_problem(value: date | datetime, now: datetime | None) -> str:
    """Why a date is out of range ("" when it is not): before 2000, or more than 10 years ahead."""
    day = value.date() if isinstance(value, datetime) else value
    if day < EARLIEST:
        return f"不能早于{EARLIEST.isoformat()}"
    if now is not None and day > latest(now):
        return f"不能晚于{latest(now).isoformat()}（今后{YEARS_AHEAD}年内）"
    if day.year > 2200:
        return "超出可计算的范围"
    return ""


def check_dates(model: BaseModel, now: datetime | None) -> None:
    """Every date and time in a payload; ValueError with a Chinese message naming the field."""
    fields = type(model).model_fields
    for name, value in model:
        title = (fields[name].title if name in fields else None) or name
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, BaseModel):
                check_dates(v, now)
            elif isinstance(v, date | datetime):
                problem = date_problem(v, now)
                if problem:
                    raise ValueError(f"「{title}」{problem}")
