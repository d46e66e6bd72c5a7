"""Deadlines as the Civil Code counts them (DESIGN §3), asserted on exact dates.

Pure unit tests of jianyi.models.calendar and jianyi.models.policy: no Temporal, no database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from jianyi.models.calendar import (
    DATA_VERSION,
    DayOverride,
    WorkCalendar,
    parse_calendar_file,
)
from jianyi.models.policy import (
    Policy,
    add_months,
    compute,
    end_of_day,
    lateness,
    overdue_repeats,
    time_left,
)

CST = ZoneInfo("Asia/Shanghai")
POLICY = Policy()
CAL = WorkCalendar()
PROVISIONAL_NOTE = "暂按周一至周五为工作日计算"


def at(y: int, m: int, d: int, hour: int = 10, minute: int = 0) -> datetime:
    """A moment in China time, as a clock in a government office shows it."""
    return datetime(y, m, d, hour, minute, tzinfo=CST)


def utc(y: int, m: int, d: int, hour: int = 0) -> datetime:
    return datetime(y, m, d, hour, tzinfo=UTC)


# -- the calendar ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("day", "workday"),
    [
        (date(2025, 10, 1), False),  # 国庆节
        (date(2025, 10, 6), False),  # 中秋节 inside the National Day week
        (date(2025, 10, 8), False),  # a weekday given as holiday
        (date(2025, 10, 9), True),
        (date(2025, 9, 28), True),  # Sunday make-up workday (调休)
        (date(2025, 10, 11), True),  # Saturday make-up workday (调休)
        (date(2025, 1, 26), True),  # Sunday make-up workday before 春节
        (date(2025, 2, 8), True),  # Saturday make-up workday after 春节
        (date(2025, 1, 28), False),  # 春节 eve
        (date(2025, 9, 27), False),  # ordinary Saturday
        (date(2025, 9, 29), True),  # ordinary Monday
    ],
)
def test_workdays_follow_state_council_data(day: date, workday: bool) -> None:
    assert CAL.is_workday(day) is workday
    assert not CAL.is_provisional(day)


def test_reasons_are_chinese_holiday_names() -> None:
    assert CAL.reason_off(date(2025, 10, 1)) == "国庆节"
    assert CAL.reason_off(date(2025, 10, 6)) == "中秋节"
    assert CAL.reason_off(date(2025, 1, 29)) == "春节"
    assert CAL.reason_off(date(2025, 9, 27)) == "周末"


def test_add_workdays_does_not_count_the_start_day() -> None:
    # Monday 2025-09-22 + 1 working day is Tuesday, not Monday itself.
    assert CAL.add_workdays(date(2025, 9, 22), 1)[0] == date(2025, 9, 23)
    assert CAL.add_workdays(date(2025, 9, 22), 0) == (date(2025, 9, 22), [])
    # Friday → next Monday, the weekend listed as skipped.
    day, skipped = CAL.add_workdays(date(2025, 9, 19), 1)
    assert day == date(2025, 9, 22)
    assert [s.day for s in skipped] == [date(2025, 9, 20), date(2025, 9, 21)]


def test_workdays_between_counts_make_up_days() -> None:
    # 2025-09-26 (Fri) → 2025-09-30 (Tue): 28 (Sun, 调休), 29, 30 are working days; 27 is not.
    assert CAL.workdays_between(date(2025, 9, 26), date(2025, 9, 30)) == 3
    assert CAL.workdays_between(date(2025, 9, 30), date(2025, 9, 26)) == 0
    # The whole National Day week contributes nothing.
    assert CAL.workdays_between(date(2025, 9, 30), date(2025, 10, 8)) == 0


def test_next_workday_is_the_day_itself_when_working() -> None:
    assert CAL.next_workday(date(2025, 9, 28)) == (date(2025, 9, 28), [])
    day, skipped = CAL.next_workday(date(2025, 10, 1))
    assert day == date(2025, 10, 9)
    assert len(skipped) == 8


# -- months: 民法典 第二百零一条至第二百零三条 ------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2025, 7, 1), 3, date(2025, 10, 1)),
        (date(2024, 11, 30), 3, date(2025, 2, 28)),
        (date(2023, 11, 30), 3, date(2024, 2, 29)),  # leap year
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2025, 3, 31), 1, date(2025, 4, 30)),
        (date(2025, 10, 31), 3, date(2026, 1, 31)),
        (date(2025, 12, 15), 1, date(2026, 1, 15)),
        (date(2025, 5, 10), 12, date(2026, 5, 10)),
    ],
)
def test_add_months_ends_on_the_corresponding_day(start: date, months: int, end: date) -> None:
    assert add_months(start, months) == end


def test_three_months_from_1_july_2025_moves_past_national_day() -> None:
    d = compute("reply", at(2025, 7, 1), POLICY, CAL)
    assert d.start_day == date(2025, 7, 1)
    assert d.nominal_end == date(2025, 10, 1)
    assert d.last_day == date(2025, 10, 9)
    assert [s.day for s in d.skipped] == [date(2025, 10, n) for n in range(1, 9)]
    assert {s.reason for s in d.skipped} == {"国庆节", "中秋节"}
    assert "国庆节" in d.explanation and "中秋节" in d.explanation
    assert "顺延" in d.explanation
    assert "2025-10-01" in d.explanation and "2025-10-09" in d.explanation
    assert "当日不计入" in d.explanation
    assert d.calendar_version == DATA_VERSION
    assert d.provisional is False
    assert d.display_due() == "2025-10-09 24:00"


@pytest.mark.parametrize(
    ("start", "last"),
    [
        (at(2024, 11, 30), date(2025, 2, 28)),  # Friday, a working day: no move
        (at(2023, 11, 30), date(2024, 2, 29)),  # Thursday of a leap February
    ],
)
def test_three_months_from_30_november_is_end_of_february(start: datetime, last: date) -> None:
    d = compute("reply", start, POLICY, CAL)
    assert d.nominal_end == last
    assert d.last_day == last
    assert d.skipped == []
    assert "顺延" not in d.explanation


def test_the_start_day_is_the_china_date_of_the_event() -> None:
    # 2025-06-30 20:00 UTC is already 1 July 04:00 in Beijing: the clock starts on 1 July.
    d = compute("reply", utc(2025, 6, 30, 20), POLICY, CAL)
    assert d.start_day == date(2025, 7, 1)
    assert d.last_day == date(2025, 10, 9)
    # The time of day does not matter: 23:59 on 1 July gives the same deadline.
    assert compute("reply", at(2025, 7, 1, 23, 59), POLICY, CAL).last_day == date(2025, 10, 9)


def test_a_month_end_on_a_weekend_moves_to_monday() -> None:
    # 2025-05-09 + 3 months = Saturday 2025-08-09 → Monday 2025-08-11.
    d = compute("reply", at(2025, 5, 9), POLICY, CAL)
    assert (d.nominal_end, d.last_day) == (date(2025, 8, 9), date(2025, 8, 11))
    assert {s.reason for s in d.skipped} == {"周末"}


def test_a_month_end_on_a_make_up_workday_does_not_move() -> None:
    # 2025-06-28 + 3 months = Sunday 2025-09-28, a 调休 working day: the deadline stays there.
    d = compute("reply", at(2025, 6, 28), POLICY, CAL)
    assert d.nominal_end == d.last_day == date(2025, 9, 28)
    assert d.skipped == []


# -- working days ---------------------------------------------------------------------------
def test_five_working_days_over_the_2025_spring_festival() -> None:
    d = compute("sign", at(2025, 1, 24), POLICY, CAL)
    # 26 Jan (Sunday, 调休) and 27 Jan count; 28 Jan – 4 Feb is 春节; then 5, 6, 7 Feb.
    assert d.last_day == date(2025, 2, 7)
    assert d.nominal_end == d.last_day
    skipped = [s.day for s in d.skipped]
    assert date(2025, 1, 26) not in skipped
    assert date(2025, 1, 25) in skipped
    assert skipped[1:] == [date(2025, 1, 28 + n) if n < 4 else date(2025, 2, n - 3) for n in range(8)]
    assert "春节" in d.explanation and "第5个工作日为2025-02-07" in d.explanation
    assert d.reminders == []
    assert d.escalate_at is None  # the sign-for deadline does not escalate


def test_a_deadline_over_the_2025_09_28_make_up_day_counts_it() -> None:
    # From Friday 2025-09-26: 28 (Sunday, 调休) is the 1st, 29 the 2nd, 30 the 3rd, then
    # 1–8 October off, 9 the 4th, 10 the 5th.
    d = compute("sign", at(2025, 9, 26), POLICY, CAL)
    assert d.last_day == date(2025, 10, 10)
    assert date(2025, 9, 28) not in [s.day for s in d.skipped]
    assert date(2025, 9, 27) in [s.day for s in d.skipped]
    # Were 28 September not counted, the 5th day would be Saturday 11 October (itself 调休).
    assert CAL.workdays_between(date(2025, 9, 26), date(2025, 10, 10)) == 5


def test_inter_session_assignment_deadline_is_five_working_days_from_submission() -> None:
    d = compute("assign", at(2025, 4, 30), POLICY, CAL)
    # 劳动节 1–5 May (2025-04-27, the Sunday make-up day, lies before the start): 6–9 May,
    # then the weekend, then Monday 12 May.
    assert d.last_day == date(2025, 5, 12)
    assert "劳动节" in d.explanation
    assert d.label == "闭会期间建议交办期限"


# -- due time, reminders, escalation ----------------------------------------------------------
def test_due_at_is_midnight_ending_the_last_day_in_china() -> None:
    d = compute("reply", at(2025, 7, 1), POLICY, CAL)
    # 24:00 CST on 9 October = 10 October 00:00 CST = 9 October 16:00 UTC.
    assert d.due_at == utc(2025, 10, 9, 16)
    assert d.due_at.utcoffset().total_seconds() == 0
    assert d.due_at.astimezone(CST) == datetime(2025, 10, 10, 0, 0, tzinfo=CST)
    assert end_of_day(date(2024, 2, 29)) == utc(2024, 2, 29, 16)


def test_reminders_15_5_1_0_days_before_at_nine_china_time() -> None:
    d = compute("reply", at(2025, 7, 1), POLICY, CAL)
    assert d.reminders == [
        utc(2025, 9, 24, 1),  # 15 days before, 09:00 CST
        utc(2025, 10, 4, 1),  # 5 days before (calendar days, even on a holiday)
        utc(2025, 10, 8, 1),  # 1 day before
        utc(2025, 10, 9, 1),  # on the day
    ]
    assert all(r.astimezone(CST).hour == 9 for r in d.reminders)
    assert all(r < d.due_at for r in d.reminders)


def test_reminders_before_the_start_are_dropped() -> None:
    # A policy with a 1-month re-handling period and a 40-day reminder: only those after the start.
    policy = Policy(reminder_days_before=(40, 5, 0))
    d = compute("rehandle", at(2025, 3, 10), policy, CAL)
    assert d.last_day == date(2025, 4, 10)
    assert d.reminders == [utc(2025, 4, 5, 1), utc(2025, 4, 10, 1)]


def test_escalation_is_ten_working_days_after_the_last_day() -> None:
    d = compute("reply", at(2025, 7, 1), POLICY, CAL)
    # After 9 Oct: 10, 11 (Saturday, 调休), 13–17, 20, 21, 22 → the 10th is 22 October.
    assert d.escalate_at == end_of_day(date(2025, 10, 22))
    assert d.escalate_at == utc(2025, 10, 22, 16)


def test_overdue_notices_repeat_weekly_until_given_time() -> None:
    d = compute("reply", at(2025, 7, 1), POLICY, CAL)
    repeats = overdue_repeats(d, POLICY, utc(2025, 10, 30, 16))
    assert repeats == [utc(2025, 10, 16, 16), utc(2025, 10, 23, 16), utc(2025, 10, 30, 16)]
    assert overdue_repeats(d, POLICY, d.due_at) == []


def test_evaluation_window_is_twenty_working_days_reminder_on_the_tenth() -> None:
    d = compute("evaluation", at(2025, 9, 22), POLICY, CAL)
    # 23–26 Sep (4), 28 Sep 调休 (5), 29–30 (7), 9–10 Oct (9), 11 Oct Saturday 调休 (10),
    # 13–17 (15), 20–24 (20).
    assert d.last_day == date(2025, 10, 24)
    assert d.reminders == [utc(2025, 10, 11, 1)]
    assert d.escalate_at is None
    assert d.label == "代表评价期限"
    assert "20个工作日" in d.explanation


def test_extension_counts_from_the_original_deadline() -> None:
    d = compute("extension", at(2025, 9, 1), POLICY, CAL, base_day=date(2025, 10, 9))
    assert d.start_day == date(2025, 10, 9)
    assert d.last_day == date(2026, 1, 9)
    assert d.escalate_at is not None
    assert len(d.reminders) == 4


def test_policy_values_are_configuration() -> None:
    d = compute("reply", at(2025, 7, 1), Policy(reply_months=2), CAL)
    assert (d.nominal_end, d.last_day, d.amount) == (date(2025, 9, 1), date(2025, 9, 1), 2)
    d = compute("sign", at(2025, 1, 24), Policy(sign_workdays=1), CAL)
    assert d.last_day == date(2025, 1, 26)  # the Sunday make-up day


# -- years without data -----------------------------------------------------------------------
def test_a_year_without_data_falls_back_to_monday_to_friday() -> None:
    assert not CAL.has_data(2027)
    assert CAL.has_data(2026)
    assert CAL.is_provisional(date(2027, 3, 1))
    assert CAL.is_workday(date(2027, 1, 1))  # a Friday; 元旦 is unknown without data
    assert not CAL.is_workday(date(2027, 1, 2))  # Saturday
    assert CAL.reason_off(date(2027, 1, 2)) == "周末"


def test_a_deadline_in_a_year_without_data_is_provisional_and_says_so() -> None:
    d = compute("sign", at(2027, 3, 5), POLICY, CAL)  # Friday
    assert d.last_day == date(2027, 3, 12)
    assert d.provisional is True
    assert PROVISIONAL_NOTE in d.explanation
    # A deadline that only ends in such a year is provisional too.
    d = compute("reply", at(2026, 11, 2), POLICY, CAL)
    assert d.last_day == date(2027, 2, 2)
    assert d.provisional is True
    # One within known years is not.
    d = compute("reply", at(2026, 6, 1), POLICY, CAL)
    assert d.provisional is False
    assert PROVISIONAL_NOTE not in d.explanation


# -- admin overrides and loaded years ---------------------------------------------------------
def test_admin_overrides_beat_the_data_and_change_the_version() -> None:
    storm = WorkCalendar.with_overrides([DayOverride(date(2025, 10, 9), False, "台风停工")])
    assert storm.version != CAL.version
    assert storm.version.startswith(DATA_VERSION)
    assert "管理员调整 1 天" in storm.version
    d = compute("reply", at(2025, 7, 1), POLICY, storm)
    assert d.last_day == date(2025, 10, 10)
    assert "台风停工" in d.explanation
    assert d.calendar_version == storm.version

    # An override can make a statutory holiday a working day, too.
    worked = WorkCalendar.with_overrides([DayOverride(date(2025, 10, 1), True, "特别安排")])
    assert worked.is_workday(date(2025, 10, 1))
    d = compute("reply", at(2025, 7, 1), POLICY, worked)
    assert d.last_day == d.nominal_end == date(2025, 10, 1)


def test_the_version_names_the_overrides_themselves() -> None:
    a = WorkCalendar.with_overrides([DayOverride(date(2025, 10, 9), False, "台风停工")])
    b = WorkCalendar.with_overrides([DayOverride(date(2025, 10, 10), False, "台风停工")])
    a2 = WorkCalendar.with_overrides([DayOverride(date(2025, 10, 9), False, "台风停工")])
    assert a.version != b.version
    assert a.version == a2.version
    assert WorkCalendar.with_overrides([]).version == DATA_VERSION


def test_parse_calendar_file() -> None:
    text = """
    # 2027年节假日安排（国务院办公厅通知）
    2027-01-01 休 元旦
    2027-02-07 班 春节调休

    2027-02-08 休   春节   # 初一前夕
    2027-02-09 休
    """
    overrides, years = parse_calendar_file(text)
    assert years == {2027}
    assert overrides == [
        DayOverride(date(2027, 1, 1), False, "元旦"),
        DayOverride(date(2027, 2, 7), True, "春节调休"),
        DayOverride(date(2027, 2, 8), False, "春节"),
        DayOverride(date(2027, 2, 9), False, ""),
    ]


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("2027-01-01 休 元旦\n2027-01-02 放假 元旦", ["第2行", "格式错误", "2027-01-02 放假 元旦"]),
        ("2027-01-01", ["第1行", "格式错误"]),
        ("2027-01-01 休 元旦\n\n2027-02-30 休 春节", ["第3行", "2027-02-30", "无效"]),
        ("2027/01/01 休 元旦", ["第1行", "2027/01/01", "YYYY-MM-DD"]),
        ("# 只有注释\n\n", ["没有任何日期"]),
    ],
)
def test_parse_calendar_file_refuses_bad_lines_in_chinese(text: str, fragments: list[str]) -> None:
    with pytest.raises(ValueError) as caught:
        parse_calendar_file(text)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_a_loaded_year_is_no_longer_provisional() -> None:
    overrides, years = parse_calendar_file(
        "2027-01-01 休 元旦\n2027-02-06 休 春节\n2027-02-07 班 春节调休\n"
    )
    cal = WorkCalendar.with_overrides(overrides, loaded_years=years)
    assert cal.has_data(2027)
    assert not cal.is_provisional(date(2027, 3, 1))
    assert not cal.is_workday(date(2027, 1, 1))
    assert cal.is_workday(date(2027, 2, 7))  # a Sunday made a working day
    assert cal.reason_off(date(2027, 1, 1)) == "元旦"

    # 2026-12-28 (Monday) + 5 working days: 29, 30, 31 Dec, (1 Jan 元旦), 4, 5 Jan.
    d = compute("sign", at(2026, 12, 28), POLICY, cal)
    assert d.last_day == date(2027, 1, 5)
    assert d.provisional is False
    assert "元旦" in d.explanation
    assert PROVISIONAL_NOTE not in d.explanation
    assert d.calendar_version == cal.version != DATA_VERSION
    # The same count without the file guessed 1 January as a working day.
    guessed = compute("sign", at(2026, 12, 28), POLICY, CAL)
    assert (guessed.last_day, guessed.provisional) == (date(2027, 1, 4), True)

    # The make-up Sunday counts: from Friday 2027-02-05, the 6th is off and the 7th is the 1st.
    assert cal.add_workdays(date(2027, 2, 5), 1)[0] == date(2027, 2, 7)


def test_overrides_without_loading_the_year_keep_it_provisional() -> None:
    cal = WorkCalendar.with_overrides([DayOverride(date(2027, 1, 1), False, "元旦")])
    assert not cal.is_provisional(date(2027, 1, 1))  # the admin's word on that day
    assert cal.is_provisional(date(2027, 1, 4))
    assert compute("sign", at(2026, 12, 28), POLICY, cal).provisional is True


def test_a_certain_deadline_whose_escalation_date_is_provisional_says_exactly_that() -> None:
    d = compute("reply", at(2026, 9, 20), POLICY, CAL)
    assert d.last_day == date(2026, 12, 21)
    assert d.escalate_at == end_of_day(date(2027, 1, 4))  # 1 January guessed as a working day
    assert d.provisional is False  # its own last day lies in 2026, which has data
    assert d.escalation_provisional is True
    assert "本期限已确定" in d.explanation and "移交督查室的日期（2027-01-04 24:00）" in d.explanation


def test_provisional_marks_a_deadline_only_when_its_own_last_day_lacks_calendar_data() -> None:
    assert compute("reply", at(2026, 11, 20), POLICY, CAL).provisional is True  # ends in February 2027
    assert compute("sign", at(2026, 11, 2), POLICY, CAL).provisional is False


# -- how late: counted as the rule counts, never "0" once the deadline has passed ------------------------
def test_a_reply_deadline_passed_last_night_is_one_day_late_the_next_morning():
    due = end_of_day(date(2025, 10, 9))
    assert lateness("reply", due, at(2025, 10, 9, 23, 59), CAL) == "0天"  # not yet passed
    assert lateness("reply", due, at(2025, 10, 10, 9), CAL) == "1天"
    assert lateness("reply", due, at(2025, 11, 9, 9), CAL) == "31天"


def test_a_working_day_deadline_is_late_in_working_days_once_one_has_passed():
    due = end_of_day(date(2025, 9, 26))  # a Friday: the 27th is a Saturday, the 28th a 调休 working Sunday
    assert lateness("sign", due, at(2025, 9, 27, 10), CAL) == "1天"  # no working day missed yet: not "0个工作日"
    assert lateness("sign", due, at(2025, 9, 28, 10), CAL) == "1个工作日"
    assert lateness("sign", due, at(2025, 10, 9, 10), CAL) == "4个工作日"  # 9-28, 9-29, 9-30, then 国庆 to 10-08, 10-09
    assert lateness("sign", due, at(2025, 9, 29, 10), None) == "3天"  # without a calendar: calendar days


def test_time_left_counts_working_days_down_then_lateness_up():
    due = end_of_day(date(2025, 10, 9))  # the first working day after 国庆
    assert time_left("reply", due, at(2025, 9, 29, 10), CAL) == ("剩余2个工作日", False)  # 9-30, 10-09
    assert time_left("reply", due, at(2025, 10, 10, 10), CAL) == ("已逾期1天", True)
