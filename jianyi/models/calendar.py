"""The Chinese working-day calendar: State Council data (chinesecalendar), 调休 included.

Precedence for a day: an admin override, then the chinesecalendar data, then (for a year with
no data at all) Monday–Friday, marked *provisional* so the deadline says it may move.
Pure: overrides are handed in; nothing here reads a database or a clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache, lru_cache
from importlib.metadata import version

import chinese_calendar

DATA_VERSION = f"chinesecalendar {version('chinesecalendar')}"

HOLIDAY_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


@cache
def package_covers(year: int) -> bool:
    """Whether the chinesecalendar data has the State Council's schedule for ``year``."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@dataclass(frozen=True)
class DayOverride:
    """An admin's word on one day: a working day or not, and why (e.g. 春节 / 春节调休)."""

    day: date
    workday: bool
    name: str = ""


@dataclass(frozen=True)
class SkippedDay:
    day: date
    reason: str  # 周末 / 春节 / …


@dataclass
class WorkCalendar:
    """Answers "is this a working day?" for any date, and counts working days."""

    overrides: Mapping[date, DayOverride] = field(default_factory=dict)
    loaded_years: frozenset[int] = frozenset()  # years an admin loaded in full from a file

    @classmethod
    def with_overrides(
        cls, overrides: Iterable[DayOverride] = (), loaded_years: Iterable[int] = ()
    ) -> WorkCalendar:
        return cls({o.day: o for o in overrides}, frozenset(loaded_years))

    @property
    def version(self) -> str:
        if not self.overrides:
            return DATA_VERSION
        digest = hashlib.sha256(
            "|".join(f"{d}:{o.workday}:{o.name}" for d, o in sorted(self.overrides.items())).encode()
        ).hexdigest()[:10]
        return f"{DATA_VERSION} + 管理员调整 {len(self.overrides)} 天 ({digest})"

    def has_data(self, year: int) -> bool:
        return year in self.loaded_years or package_covers(year)

    def is_provisional(self, day: date) -> bool:
        """True where the answer for ``day`` is only the Monday–Friday guess."""
        return day not in self.overrides and not self.has_data(day.year)

    def is_workday(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day].workday
        if not self.has_data(day.year):
            return day.weekday() < 5
        if day.year in self.loaded_years:
            return day.weekday() < 5
        return _package_workday(day)

    def reason_off(self, day: date) -> str:
        """Why ``day`` is not a working day, in Chinese (for explanations)."""
        if day in self.overrides:
            return self.overrides[day].name or "管理员设定的休息日"
        if self.has_data(day.year) and day.year not in self.loaded_years:
            on_holiday, name = chinese_calendar.get_holiday_detail(day)
            if on_holiday and name:
                return HOLIDAY_NAMES.get(name, name)
        return "周末"

    def next_workday(self, day: date) -> tuple[date, list[SkippedDay]]:
        """``day`` itself if it is a working day, else the first one after; with the days passed."""
        skipped: list[SkippedDay] = []
        while not self.is_workday(day):
            skipped.append(SkippedDay(day, self.reason_off(day)))
            day += timedelta(days=1)
        return day, skipped

    def add_workdays(self, start: date, n: int) -> tuple[date, list[SkippedDay]]:
        """The n-th working day after ``start`` (``start`` itself is not counted)."""
        skipped: list[SkippedDay] = []
        day, counted = start, 0
        while counted < n:
            day += timedelta(days=1)
            if self.is_workday(day):
                counted += 1
            else:
                skipped.append(SkippedDay(day, self.reason_off(day)))
        return day, skipped

    def workdays_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when end <= start)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            if self.is_workday(day):
                count += 1
        return count

    def first_workday_of_month(self, year: int, month: int) -> date:
        """The first working day of a month (2025-02 → 02-05 after the Spring Festival)."""
        day, _ = self.next_workday(date(year, month, 1))
        return day

    def provisional_in(self, start: date, end: date) -> bool:
        return any(not self.has_data(y) for y in range(start.year, end.year + 1))


def parse_calendar_file(text: str) -> tuple[list[DayOverride], set[int]]:
    """Parse an admin calendar file: one day a line, ``2027-01-01 休 元旦`` or ``2027-02-07 班 春节调休``.

    Blank lines and ``#`` comments are ignored. Returns the overrides and the years they cover.
    Raises ValueError with a Chinese message naming the line.
    """
    overrides: list[DayOverride] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split(maxsplit=2)
        if len(parts) < 2 or parts[1] not in ("休", "班"):
            raise ValueError(f"第{lineno}行格式错误：应为「YYYY-MM-DD 休|班 说明」，实际为「{raw.strip()}」")
        try:
            day = date.fromisoformat(parts[0])
        except ValueError:
            raise ValueError(f"第{lineno}行日期「{parts[0]}」无效，应为 YYYY-MM-DD") from None
        overrides.append(DayOverride(day, parts[1] == "班", parts[2] if len(parts) > 2 else ""))
    if not overrides:
        raise ValueError("日历文件中没有任何日期")
    return overrides, {o.day.year for o in overrides}


# The holidays of every State Council notice: a calendar file for a year must name each of them.
STATUTORY_HOLIDAYS = ("元旦", "春节", "清明", "劳动节", "端午", "中秋", "国庆")


def missing_holidays(overrides: list[DayOverride], year: int) -> list[str]:
    """The statutory holidays of ``year`` that no rest day in ``overrides`` names."""
    names = " ".join(o.name for o in overrides if o.day.year == year and not o.workday)
    return [h for h in STATUTORY_HOLIDAYS if h not in names]


@lru_cache(maxsize=16384)
def _package_workday(day: date) -> bool:
    """The package's answer, kept: it checks its arguments at length and every count asks it day by day."""
    return chinese_calendar.is_workday(day)
