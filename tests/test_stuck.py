"""The stuck view (`jianyi stuck`, the daily digest, the web page): each kind defined once, in SQL,
ordered by urgency, paged, each reason with its day count."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from helpers import CONGRESS, case_handle, do, quiesce, skip_past, suggestion

from jianyi.models.commands import InputError
from jianyi.models.db import session_for
from jianyi.models.policy import end_of_day
from jianyi.models.states import OPEN_VALUES
from jianyi.models.stuck import KINDS, stuck_from
from jianyi.models.tables import (
    Assignment,
    Commitment,
    Escalation,
    HandlingUnit,
    Session,
    Suggestion,
)
from jianyi.queries import stuck_cases

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)

pytestmark = pytest.mark.both_databases  # the records layer, on SQLite and PostgreSQL


def case(db, n: int, state: str, **kw) -> str:  # noqa: ANN001
    """A suggestion row as the projection writes it: with its facts and ``stuck_from``."""
    sid = f"suggestion-16-3-{n}"
    row = Suggestion(id=sid, session="16-3", number=f"第{n}号", title=f"建议{n}", lead_deputy="杨永兵", state=state,
                     lead_unit=kw.pop("lead_unit", "区城管局"), **kw)
    row.stuck_from = stuck_from(row.model_dump())
    db.add(row)
    return sid


def fill(settings) -> dict[str, str]:  # noqa: ANN001
    with session_for(settings.db_url) as db:
        db.add_all([HandlingUnit(name="区城管局"), HandlingUnit(name="区水务局"), Session(code="16-3", name="三次会议"),
                    Session(code="16-4", name="四次会议")])
        ids = {
            "error": case(db, 1, "handling", error="ValueError: x", reply_due=NOW + 30 * DAY),
            "overdue": case(db, 2, "handling", reply_due=NOW - 12 * DAY),
            "unsigned": case(db, 3, "assigned", sign_due=NOW - 3 * DAY, reply_due=NOW + 60 * DAY),
            "not_reviewed": case(db, 4, "submitted", review_due=NOW - 2 * DAY),
            "co_opinion": case(db, 5, "handling", co_opinion_due=NOW - 4 * DAY, reply_due=NOW + 50 * DAY, missing_co_opinions=1),
            "commitment_missed": case(db, 6, "follow_up", missed_commitments=1),
            "escalated": case(db, 7, "handling", reply_due=NOW + 20 * DAY, lead_unit="区水务局", open_escalations=1),
            "evaluation": case(db, 8, "replied", replied_at=NOW - 5 * DAY),
            "fine": case(db, 9, "handling", reply_due=NOW + 40 * DAY),
            "closed": case(db, 10, "closed", reply_due=NOW - 40 * DAY),
        }
        db.add(Assignment(suggestion_id=ids["co_opinion"], unit="区水务局", role="协办", assigned_at=NOW - 40 * DAY))
        db.add(Commitment(suggestion_id=ids["commitment_missed"], number=1, round=1, text="建成", promised_date=(NOW - 9 * DAY).date(), status="逾期"))
        db.add(Escalation(suggestion_id=ids["escalated"], reason="逾期未答复", escalated_at=NOW - 6 * DAY))
        db.commit()
    return ids


def test_every_kind_is_listed_most_urgent_first_each_with_its_day_count(settings):
    ids = fill(settings)
    found = stuck_cases(settings.db_url, NOW)
    order = [c.id for c in found.cases]
    assert order == [ids[k] for k in ("error", "escalated", "overdue", "commitment_missed", "unsigned", "not_reviewed", "co_opinion", "evaluation")]
    reasons = {c.id: "；".join(c.reasons) for c in found.cases}
    assert "已逾期12天" in reasons[ids["overdue"]]
    assert "6天前移交" in reasons[ids["escalated"]]
    assert "超过签收期限未签收（已超" in reasons[ids["unsigned"]] and "个工作日" in reasons[ids["unsigned"]]
    assert "超过阅看期限未阅看" in reasons[ids["not_reviewed"]]
    assert "协办意见逾期（区水务局，已逾期4天）" in reasons[ids["co_opinion"]]
    assert "承诺事项逾期未兑现1项" in reasons[ids["commitment_missed"]]
    assert "等待代表评价（承办单位答复已5天" in reasons[ids["evaluation"]]
    assert found.total == 8 and found.counts["overdue"] == 1 and found.counts["escalated"] == 1


def test_the_stuck_view_filters_by_unit_kind_and_session_and_pages(settings):
    ids = fill(settings)
    water = stuck_cases(settings.db_url, NOW, "区水务局")  # leads one, co-handles another
    assert {c.id for c in water.cases} == {ids["escalated"], ids["co_opinion"]}
    only = stuck_cases(settings.db_url, NOW, kind="overdue")
    assert [c.id for c in only.cases] == [ids["overdue"]] and only.total == 1
    assert stuck_cases(settings.db_url, NOW, session="16-4").total == 0
    first, second = (stuck_cases(settings.db_url, NOW, page=p, per_page=5) for p in (1, 2))
    assert len(first.cases) == 5 and len(second.cases) == 3 and first.total == 8
    assert (first.pages, second.page) == (2, 2)


def test_a_filter_naming_an_unregistered_unit_or_session_is_refused_never_answered_with_an_empty_list(settings):
    fill(settings)
    with pytest.raises(InputError, match="未登记的承办单位「区水务处」"):  # a typo of 区水务局, which has two stuck cases
        stuck_cases(settings.db_url, NOW, "区水务处")
    with pytest.raises(InputError, match="未登记的会次「16-9」"):
        stuck_cases(settings.db_url, NOW, session="16-9")


def test_a_page_past_the_end_or_before_the_first_shows_the_nearest_page(settings):
    fill(settings)
    last = stuck_cases(settings.db_url, NOW, page=2, per_page=5)
    for page in (3, 10**30):  # more than SQLite's integers hold: still the last page, not an error
        past = stuck_cases(settings.db_url, NOW, page=page, per_page=5)
        assert (past.page, [c.id for c in past.cases]) == (2, [c.id for c in last.cases])
    assert [stuck_cases(settings.db_url, NOW, page=p, per_page=5).page for p in (0, -7)] == [1, 1]


async def test_a_suggestion_not_reviewed_within_the_review_window_is_listed_as_stuck(env, engine, settings):
    sid = await engine.submit(suggestion(settings), "杨永兵")
    await quiesce(env, case_handle(env, sid))  # the submission's first task has recorded its deadlines
    case = await engine.view(sid)
    await skip_past(env, case.deadlines["review"].due_at)
    found = stuck_cases(settings.db_url, await env.get_current_time(), kind="not_reviewed")
    assert [c.id for c in found.cases] == [sid]
    await do(engine, sid, "review", CONGRESS, decision="register")
    assert stuck_cases(settings.db_url, await env.get_current_time(), kind="not_reviewed").total == 0


def test_within_a_kind_the_case_stuck_longest_comes_first_in_every_list(settings):
    with session_for(settings.db_url) as db:
        late = [case(db, 20 + n, "handling", reply_due=NOW - days * DAY) for n, days in enumerate((3, 30, 10))]
        unsigned = [case(db, 30 + n, "assigned", sign_due=NOW - days * DAY, reply_due=NOW + (90 - days) * DAY)
                    for n, days in enumerate((2, 9))]
        twice = case(db, 40, "escalated", reply_due=NOW + 5 * DAY, open_escalations=1)  # both clauses of one kind
        db.add(HandlingUnit(name="区城管局"))
        db.commit()
    longest_first = [twice, late[1], late[2], late[0], unsigned[1], unsigned[0]]
    assert [c.id for c in stuck_cases(settings.db_url, NOW).cases] == longest_first  # kind by kind, index order
    assert [c.id for c in stuck_cases(settings.db_url, NOW, "区城管局").cases] == longest_first  # one query, ranked
    counted = stuck_cases(settings.db_url, NOW)
    assert counted.counts["escalated"] == 1 and counted.total == 6


def test_no_kind_names_a_closed_state_so_a_closed_row_is_never_stuck(settings):
    assert all(set(c.states) <= set(OPEN_VALUES) for k in KINDS for c in k.clauses)
    assert all(len({c.order for c in k.clauses}) == 1 for k in KINDS)  # a kind's page runs by one column
    with session_for(settings.db_url) as db:
        sid = case(db, 50, "closed", reply_due=NOW - 40 * DAY, error="x", open_escalations=1, missed_commitments=1)
        db.commit()
        assert db.get(Suggestion, sid).stuck_from is None
    assert stuck_cases(settings.db_url, NOW).total == 0


def test_a_deadline_passed_last_night_is_one_day_overdue_this_morning_and_an_escalation_of_today_says_today(settings):
    morning = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
    with session_for(settings.db_url) as db:
        db.add_all([HandlingUnit(name="区城管局"), Session(code="16-3", name="三次会议")])
        sid = case(db, 11, "handling", reply_due=end_of_day(date(2026, 11, 19)))
        escalated = case(db, 12, "handling", reply_due=morning + 20 * DAY, open_escalations=1)
        db.add(Escalation(suggestion_id=escalated, reason="逾期未答复", escalated_at=morning - timedelta(minutes=30)))
        db.commit()
    reasons = {c.id: c.reasons for c in stuck_cases(settings.db_url, morning).cases}
    assert reasons[sid] == ["逾期未答复（已逾期1天）"]  # not "0天"
    assert reasons[escalated] == ["督查室督办中（今天移交）"]  # not "0天前"


def test_a_case_being_re_handled_names_its_deadline_as_the_re_handling_one(settings):
    with session_for(settings.db_url) as db:
        db.add_all([HandlingUnit(name="区城管局"), Session(code="16-3", name="三次会议")])
        again = case(db, 13, "rehandling", reply_due=NOW - 2 * DAY)
        first = case(db, 14, "handling", reply_due=NOW - 2 * DAY)
        db.commit()
    labels = {c.id: c.due_label for c in stuck_cases(settings.db_url, NOW).cases}
    assert labels == {again: "重新办理期限", first: "答复期限"}
