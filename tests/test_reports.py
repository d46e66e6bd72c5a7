"""Reports, ledgers and Excel (issue 9): the figures the office reports, computed from the records."""

from __future__ import annotations

import io
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from helpers import DEPUTIES, UNITS
from openpyxl import Workbook, load_workbook

from jianyi import directory
from jianyi.imports import import_file
from jianyi.models.commands import InputError, suggestion_workflow_id
from jianyi.models.db import session_for
from jianyi.models.tables import Suggestion
from jianyi.reports.excel import (
    ASSIGN_COLUMNS,
    COMMITMENT_COLUMNS,
    FIGURE_COLUMNS,
    HISTORY_COLUMNS,
    REPLY_COLUMNS,
    commitments_ledger,
    replies_ledger,
    statistics_workbook,
)
from jianyi.reports.figures import CaseRow, Evaluation, figures, percent
from jianyi.reports.load import commitment_rows, load_cases
from jianyi.reports.text import paragraph, rehandled_sentence, report_text

UNIT_LIST = [u for u in UNITS if u.startswith("区") and "办公室" not in u and "委员会" not in u and "督查室" not in u]

pytestmark = pytest.mark.both_databases  # the records layer, on SQLite and PostgreSQL


@pytest.mark.parametrize(("part", "whole", "shown"), [(113, 123, "91.87"), (9, 123, "7.32"), (1, 123, "0.81"), (1, 800, "0.13"),
                                                        (3, 800, "0.38"), (0, 0, "0.00"), (2, 3, "66.67")])
def test_percentages_have_two_decimals_rounded_half_up(part, whole, shown):
    assert percent(part, whole) == Decimal(shown)


def row(n: int, *judgements: tuple[str, str], **kw) -> CaseRow:  # noqa: ANN003
    from datetime import UTC, datetime

    base = dict(id=f"s-{n}", number=f"第{n}号", title="t", period="大会期间", category="", lead_deputy="杨永兵", co_signers=[],
                state="closed", outcome="", lead_unit="区城管局", co_handlers=[], key_supervision=False,
                assigned_at=datetime(2025, 3, 1, tzinfo=UTC), replied_at=datetime(2025, 5, 1, tzinfo=UTC), on_time_reply=True,
                reply_class="A", evaluations=[Evaluation(i + 1, w, r) for i, (w, r) in enumerate(judgements)])
    return CaseRow(**(base | kw))


def test_no_view_is_counted_apart_and_never_as_satisfied():
    f = figures([row(1, ("满意", "满意")), row(2, ("未表态", "未表态")), row(3, ("基本满意", "不满意"), ("满意", "基本满意"))])
    assert f.first_result.counts == {"满意": 1, "基本满意": 0, "不满意": 1} and f.first_result.no_view == 1
    assert f.first_result.satisfied_rate == Decimal("50.00")  # over the two evaluated cases
    assert f.final_result.counts == {"满意": 1, "基本满意": 1, "不满意": 0}
    assert rehandled_sentence(f) == "1件不满意建议通过重新办理，代表表示基本满意。"


def test_the_text_of_both_periods_counts_each_period_apart_as_the_seed_report_does():
    rows = [row(n, ("满意", "满意")) for n in (1, 2, 3)] + [row(n, ("基本满意", "满意"), period="闭会期间") for n in (4, 5)]
    both = report_text(rows)
    assert both.startswith("承办会议期间代表建议3件，全部办复完毕。代表对办理工作满意的3件，占100.00%")
    assert "承办闭会期间代表建议2件，全部办复完毕。代表对办理工作满意的0件，占0.00%；基本满意2件，占100.00%。" in both
    assert "代表建议5件" not in both  # the two periods are never added up and called 会议期间
    inter = report_text(rows, "闭会期间")
    assert inter.startswith("承办闭会期间代表建议2件") and "会议期间" not in inter


def test_a_period_nobody_has_evaluated_yet_gives_no_percentages_of_nothing():
    waiting = [row(n, period="闭会期间", state="handling", replied_at=None, on_time_reply=None, reply_class="") for n in (1, 2)]
    assert report_text(waiting) == "承办闭会期间代表建议2件，已办复0件，办复率0.00%。代表尚未作出评价。"
    lapsed = [row(1, ("未表态", "未表态"))]
    assert "另有1件代表未表态（不计入满意），尚无满意度可计。" in report_text(lapsed) and "占0.00%" not in report_text(lapsed)


def test_reply_rate_and_on_time_rate_come_from_the_replies():
    f = figures([row(1, ("满意", "满意")), row(2, replied_at=None, state="handling"), row(3, ("满意", "满意"), on_time_reply=False)])
    assert (f.assigned, f.replied, f.reply_rate, f.on_time, f.on_time_rate) == (3, 2, Decimal("66.67"), 1, Decimal("50.00"))


def year_file(session: str, rows: list[dict[str, str]], columns: list[str] = HISTORY_COLUMNS) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(columns)
    for r in rows:
        ws.append([r.get(c, "") for c in columns])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def seed_report_002_year(session: str) -> list[dict[str, str]]:
    """123 session suggestions: 113 满意, 9 基本满意, 1 不满意 that a re-handling made 满意 (seed report 002)."""
    rows = []
    for n in range(1, 124):
        word = "满意" if n <= 113 else "基本满意" if n <= 122 else "不满意"
        r = {"会次": session, "编号": f"第{n}号", "标题": f"建议{n}", "领衔代表": DEPUTIES[n % len(DEPUTIES)], "期间": "大会期间",
             "主办单位": UNIT_LIST[n % len(UNIT_LIST)], "类别": ["城市建设", "经济发展", "社会事业"][n % 3],
             "交办日期": "2023-02-20", "签收日期": "2023-02-22", "答复日期": "2023-05-10", "答复类别": "A",
             "办理工作评价": word, "办理结果评价": word, "评价日期": "2023-05-20"}
        if word == "不满意":
            r |= {"重新办理答复日期": "2023-06-15", "重新办理结果评价": "满意"}
        rows.append(r)
    return rows


async def test_a_finished_year_imported_gives_the_seed_reports_figures_and_sentence(env, engine, settings):
    session = settings.task_queue
    data = year_file(session, seed_report_002_year(session))
    seen: list[int] = []
    created, skipped = await import_file(engine, data, "系统管理员", history=True, progress=lambda n, total, _: seen.append(n))
    assert (created, skipped, seen[-1]) == (123, 0, 123)
    f = figures(load_cases(settings.db_url, session))
    d = f.first_result
    assert (d.counts["满意"], d.pct("满意"), d.counts["基本满意"], d.pct("基本满意"), d.counts["不满意"], d.pct("不满意")) == (
        113, Decimal("91.87"), 9, Decimal("7.32"), 1, Decimal("0.81"))
    text = paragraph(f)
    assert "代表对办理工作满意的113件，占91.87%；基本满意9件，占7.32%；不满意1件，占0.81%。" in text
    assert "1件不满意建议通过重新办理，代表表示满意。" in text
    assert (f.replied, f.reply_rate, f.final_result.counts["满意"]) == (123, Decimal("100.00"), 114)
    again = await import_file(engine, data, "系统管理员", history=True)
    assert again == (0, 123)  # a re-run creates nothing twice
    # the Excel files open with the documented sheets and columns
    stats = load_workbook(io.BytesIO(statistics_workbook(load_cases(settings.db_url, session))))
    assert stats.sheetnames == ["总体", "按期间", "按主办单位", "按协办单位", "按类别", "按重点督办"]
    assert [c.value for c in stats["总体"][1]] == FIGURE_COLUMNS and stats["总体"]["N2"].value == 91.87
    replies = load_workbook(io.BytesIO(replies_ledger(load_cases(settings.db_url, session))))["答复台账"]
    assert [c.value for c in replies[1]] == REPLY_COLUMNS and replies.max_row == 124
    commitments = load_workbook(io.BytesIO(commitments_ledger(commitment_rows(settings.db_url, session))))["承诺事项台账"]
    assert [c.value for c in commitments[1]] == COMMITMENT_COLUMNS


async def test_an_import_with_bad_rows_writes_nothing_and_names_every_bad_row(env, engine, settings):
    session = settings.task_queue
    good = seed_report_002_year(session)[:2]
    bad = [good[0] | {"编号": "第900号", "主办单位": "区火星局"}, good[1] | {"编号": "第901号", "答复日期": "2023-13-01"},
           good[0] | {"编号": "第902号", "办理结果评价": "很好"}, good[0] | {"编号": "第900号"},
           # what only the engine refused, half way through the file, once the rows before were written:
           good[0] | {"编号": "第903号", "联名代表": good[0]["领衔代表"]}, good[0] | {"编号": "第904号", "评价日期": "2099-05-20"},
           good[0] | {"编号": "第905号", "交办日期": "1999-02-20", "签收日期": "1999-02-22"},
           good[0] | {"编号": "第906号", "主办单位": settings.congress_office}, good[0] | {"编号": "第907号", "主办单位": "区城管局、区水务局"},
           good[0] | {"编号": "第908号", "期间": "闭会期间"}]
    directory.add_unit(settings.db_url, settings.congress_office, "dgw@example.gov", kind="办公室")
    with pytest.raises(InputError) as refused:
        await import_file(engine, year_file(session, [*good, *bad]), "系统管理员", history=True)
    message = refused.value.message
    for phrase in ("第4行：未知的承办单位：区火星局", "第5行：「答复日期」日期「2023-13-01」无效", "第6行：「办理结果评价」的「很好」不是评价用语",
                   "第7行：编号「第900号」与第4行重复", "第8行：领衔代表不能同时是附议代表", "第9行：「评价日期」2099-05-20晚于今天",
                   "第10行：「交办日期」1999-02-20不能早于2000-01-01", f"第11行：「{settings.congress_office}」是办公室，不承办建议",
                   "第12行：「主办单位」只能填一个单位", "第13行：编号「第908号」与期间「闭会期间」不符"):
        assert phrase in message, phrase
    with session_for(settings.db_url) as db:
        assert db.exec(__import__("sqlmodel").select(Suggestion).where(Suggestion.session == session)).first() is None


async def test_a_jiaoban_list_is_registered_and_assigned_in_one_command(env, engine, settings):
    session = settings.task_queue
    rows = [{"会次": session, "编号": "闭会第33号", "标题": "关于加强老旧小区管理的建议", "领衔代表": "饶满琳", "联名代表": "胡家胜、王琨",
             "期间": "闭会期间", "主办单位": "区城管局", "协办单位": "区水务局"}]
    created, _ = await import_file(engine, year_file(session, rows, ASSIGN_COLUMNS), "系统管理员", history=False)
    [case] = load_cases(settings.db_url, session)
    assert created == 1 and case.state == "assigned" and case.co_handlers == ["区水务局"] and case.co_signers == ["胡家胜", "王琨"]
    assert case.number == "闭会第33号" and case.period == "闭会期间"


def test_the_report_command_needs_a_session_with_suggestions(tmp_path):
    jianyi = Path(__file__).parents[1] / ".venv" / "bin" / "jianyi"
    done = subprocess.run([str(jianyi), "report", "--session", "16-3"], capture_output=True, text=True,
                          env={"JIANYI_VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert done.returncode == 1 and "记录数据库" in done.stderr


def test_a_title_that_looks_like_a_formula_stays_text_in_the_workbooks_and_the_csv():
    from types import SimpleNamespace

    from jianyi.api.app import rows_response
    from jianyi.reports.excel import commitments_ledger

    s = SimpleNamespace(number="第1号", title='=HYPERLINK("http://evil.example","点此")', lead_unit="区城管局")
    c = SimpleNamespace(text="=1+1", promised_date=date(2026, 6, 30), status="未兑现")
    ws = load_workbook(io.BytesIO(commitments_ledger([(s, c, [])]))).active
    assert [(cell.value, cell.data_type) for cell in ws[2]][1] == (s.title, "s")
    assert ws.cell(2, 4).value == "=1+1" and ws.cell(2, 4).data_type == "s"
    body = rows_response([{"seq": 1, "actor": "=1+1", "text": "@SUM(A1)", "at": "2026-06-30"}], "csv", "x").body.decode("utf-8-sig")
    assert body.splitlines()[1] == "1,'=1+1,'@SUM(A1),2026-06-30"


async def test_a_ledger_or_report_of_a_session_never_registered_is_refused_and_no_file_is_written(engine, settings, tmp_path):
    from helpers import submit_and_assign

    await submit_and_assign(engine)  # the records hold a case of a registered session, not of this one
    jianyi = Path(__file__).parents[1] / ".venv" / "bin" / "jianyi"
    out = tmp_path / "台账.xlsx"
    env = {"JIANYI_VAR_DIR": str(settings.var_dir), "JIANYI_DATABASE_URL": settings.database_url, "PATH": "/usr/bin:/bin"}
    done = subprocess.run([str(jianyi), "ledger", "replies", "--session", "十六届九次", "--xlsx", str(out)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1 and "会次「十六届九次」未登记" in done.stderr and not out.exists()
    done = subprocess.run([str(jianyi), "report", "--session", "十六届九次"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1 and "会次「十六届九次」未登记" in done.stderr


def test_suggestions_are_listed_in_the_order_people_count_them(settings):
    from jianyi.models.db import session_for
    from jianyi.models.tables import Suggestion

    numbers = ["第169号", "第17号", "闭会第33号", "第180号", "第200号", "闭会第3号", "第40号"]
    with session_for(settings.db_url) as db:
        for n in numbers:
            tail = f"bh{n[3:-1]}" if n.startswith("闭会") else n[1:-1]
            db.add(Suggestion(id=f"suggestion-16-3-{tail}", session="16-3", number=n, title="t", lead_deputy="杨永兵", state="submitted",
                              period="闭会期间" if n.startswith("闭会") else "大会期间"))
        db.commit()
    assert [r.number for r in load_cases(settings.db_url, "16-3")] == [
        "第17号", "第40号", "第169号", "第180号", "第200号", "闭会第3号", "闭会第33号"]


async def test_a_year_imported_without_an_evaluation_closes_as_no_view_and_mails_no_one(env, engine, settings):
    from helpers import finish, outbox

    session = settings.task_queue
    row = seed_report_002_year(session)[0] | {"办理工作评价": "", "办理结果评价": "", "评价日期": ""}
    await import_file(engine, year_file(session, [row]), "系统管理员", history=True)
    sid = suggestion_workflow_id(session, row["编号"])
    final = await finish(env, sid)  # the 2023 evaluation window is found ended: 未表态
    assert (final.state, final.outcome) == ("closed", "未表态")
    sent = [(o.kind, o.status) for o in outbox(settings, sid)]
    assert sent and all(status == "skipped" for _, status in sent), sent  # its 建议办结 too: old news of 2023


async def test_an_import_needs_only_its_required_columns_and_names_a_missing_one(env, engine, settings):
    session = settings.task_queue
    required = ["会次", "编号", "标题", "领衔代表", "主办单位", "交办日期", "答复日期", "答复类别"]
    row = seed_report_002_year(session)[0]
    lacking = year_file(session, [row], [c for c in required if c != "答复类别"])
    with pytest.raises(InputError, match="缺少必需的列：答复类别（其余列可以没有）"):
        await import_file(engine, lacking, "系统管理员", history=True)
    created, _ = await import_file(engine, year_file(session, [row], required), "系统管理员", history=True)
    assert created == 1  # no 签收日期, 评价 … columns at all: the case is replayed without them
