"""No input can poison a case (issue 7 §2): bounded dates, readable texts, sane names, Chinese errors."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from helpers import audit, contact_day, do, submit_and_assign, suggestion

from jianyi.models.actions import decode
from jianyi.models.bounds import date_problem, text_problem
from jianyi.models.commands import InputError, parse_submit

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("正常的标题", ""),
        ("多行\n文字\t可以", ""),
        ("标题\u202e反转", "改变文字显示顺序"),
        ("标题\x07响铃", "控制字符"),
        ("\u200b\u200b", "只有不可见字符"),
    ],
)
def test_texts_with_control_characters_bidi_overrides_or_only_invisible_characters_are_refused(text, problem):
    assert (problem in text_problem(text)) if problem else text_problem(text) == ""


def test_a_payload_with_an_unreadable_text_is_refused_naming_the_field():
    with pytest.raises(InputError, match="「reason」含有改变文字显示顺序的控制字符"):
        decode("withdraw", {"reason": "想撤回\u202e"})


@pytest.mark.parametrize(
    ("day", "problem"),
    [(date(1999, 12, 31), "不能早于2000-01-01"), (date(2037, 1, 1), "今后10年内"), (date(9999, 12, 1), "今后10年内"), (date(2026, 1, 1), "")],
)
def test_every_date_lies_between_2000_and_ten_years_ahead(day, problem):
    assert (problem in date_problem(day, NOW)) if problem else date_problem(day, NOW) == ""


def test_a_date_no_calculation_can_reach_is_refused_even_without_a_clock():
    with pytest.raises(InputError, match="超出可计算的范围"):
        decode("record_contact", {"method": "座谈", "on": "9999-12-31"})


@pytest.mark.parametrize(
    ("changes", "phrase"),
    [
        ({"co_signers": ["胡家胜"]}, "领衔代表不能同时是附议代表"),
        ({"co_signers": ["刘正心", "刘正心"]}, "附议代表有重复"),
        ({"co_signers": [" "]}, "姓名不能为空"),
        ({"lead_deputy": ""}, "「领衔代表」不能为空"),
        ({"number": "第0号"}, "建议编号应形如"),
        ({"title": "长" * 201}, "「标题」太长"),
    ],
)
def test_names_numbers_and_lengths_are_checked_on_submission(changes, phrase):
    data = {"session": "16-3", "number": "第40号", "title": "关于社区充电桩的建议", "lead_deputy": "胡家胜"} | changes
    with pytest.raises(InputError, match=phrase):
        parse_submit(data)


def test_a_duplicate_co_handler_is_refused():
    with pytest.raises(InputError, match="协办单位有重复"):
        decode("assign", {"lead_unit": "区城管局", "co_handlers": ["区水务局", "区水务局"]})


async def test_the_service_refuses_wrong_types_in_chinese_and_writes_nothing(env, engine, settings):
    sid = await submit_and_assign(engine)
    written = len(audit(settings, sid))
    for payload, phrase in [(["register"], "请求内容应为字段及其取值"), ({"text": 123}, "「督办意见」")]:
        with pytest.raises(InputError, match=phrase):
            await engine.act(sid, "remark", "代表工委", "congress_office", payload)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="「操作人」太长"):
        await engine.act(sid, "remark", "代" * 1_000_000, "congress_office", {"text": "请抓紧"})
    assert len(audit(settings, sid)) == written


async def test_a_commitment_more_than_five_years_after_the_reply_is_refused(env, engine, settings):
    sid = await submit_and_assign(engine)
    await do(engine, sid, "sign", "unit:区地方金融工作局")
    day = date.fromisoformat(await contact_day(engine, sid))  # the day in China, not in UTC
    await do(engine, sid, "record_contact", "unit:区地方金融工作局", method="座谈", on=day.isoformat())
    far = date(day.year + 6, day.month, min(day.day, 28)).isoformat()
    with pytest.raises(InputError, match="不超过答复后5年"):
        await do(engine, sid, "reply", "unit:区地方金融工作局", reply_class="B", text="计划实施。", signed_by="局长",
                 commitments=[{"text": "建成", "promised_date": far}])


async def test_a_backfill_dated_before_2000_is_refused(env, engine, settings):
    with pytest.raises(InputError, match="补录的发生时间不能早于2000-01-01"):
        await engine.submit(suggestion(settings), "管理员", role="admin", effective_at=datetime(1999, 5, 1, tzinfo=UTC))


# -- secrets at rest (issue 7 §4) ------------------------------------------------------------------
def test_robot_keys_tokens_and_phone_numbers_are_masked():
    from jianyi.models.contacts import mask_address, mask_secrets

    assert mask_address("13812341234", "sms") == "138****1234"
    assert mask_address("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc-123", "wecom") == (
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=****"
    )
    assert "secret-token" not in mask_secrets("发送到 https://oapi.dingtalk.com/robot/send?access_token=secret-token 失败")
    assert mask_secrets("短信服务未能发送到 13812341234") == "短信服务未能发送到 138****1234"


def test_the_records_database_and_var_are_readable_by_their_owner_only(tmp_path):
    from jianyi.models.db import engine_for

    var = tmp_path / "var"
    engine_for(f"sqlite:///{var / 'jianyi.db'}")
    assert var.stat().st_mode & 0o777 == 0o700
    assert (var / "jianyi.db").stat().st_mode & 0o777 == 0o600


def test_outbox_shows_masked_addresses_and_only_an_admin_sees_them_in_full_with_an_audit_event(settings):
    from jianyi.adminlog import CHAIN
    from jianyi.models.db import session_for
    from jianyi.models.tables import AuditEvent, Outbox
    from jianyi.queries import outbox_rows

    with session_for(settings.db_url) as db:
        db.add(Outbox(suggestion_id="s", recipient="王琨", address="13812341234", channel="sms", kind="remark", cycle="1",
                      subject="督办意见", body="…", created_at=datetime.now(UTC)))
        db.commit()
    [row] = outbox_rows(settings.db_url)
    assert row.address == "138****1234"
    assert outbox_rows(settings.db_url, masked=False)[0].address == "13812341234"
    from sqlmodel import select

    with session_for(settings.db_url) as db:
        assert db.exec(select(AuditEvent).where(AuditEvent.suggestion_id == CHAIN)).all() == []


async def test_a_backfill_dated_before_its_session_opened_is_refused(env, engine, settings):
    from datetime import date

    from jianyi import directory

    directory.add_session(settings.db_url, settings.task_queue, "第三次会议", date(2025, 1, 6))
    with pytest.raises(InputError, match="不能早于会次「.*」的开幕日（2025-01-06）"):
        await engine.submit(suggestion(settings), "管理员", role="admin", effective_at=datetime(2024, 12, 30, 2, tzinfo=UTC))


def _workbook(rows: int) -> bytes:
    import io

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["会次", "编号", "标题"])
    for n in range(rows):
        ws.append(["16-3", f"第{n + 1}号", "关于加快推进老旧小区改造的建议"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_an_import_past_its_row_or_size_bound_is_refused_whole(monkeypatch):
    from jianyi.reports import excel

    monkeypatch.setattr(excel, "IMPORT_MAX_ROWS", 3)
    assert excel.read_rows(_workbook(3), ["会次", "编号", "标题"])[1] == []
    assert excel.read_rows(_workbook(4), ["会次", "编号", "标题"]) == ([], ["超过 3 行：请分批导入"])
    monkeypatch.setattr(excel, "IMPORT_MAX_BYTES", 1000)
    rows, errors = excel.read_rows(_workbook(1) + b"\0" * 1000, ["会次", "编号", "标题"])
    assert rows == [] and errors[0].startswith("文件太大")


@pytest.mark.parametrize(("data", "said"), [(b"2027-01-01 \xd0\xdd \xd4\xaa\xb5\xa9\n", "应为 UTF-8 文本"), (b"#" * (1024 * 1024 + 1), "日历文件太大")])
def test_a_calendar_file_that_is_not_utf8_or_too_large_is_refused_in_chinese(data, said):
    from jianyi.directory import calendar_text

    with pytest.raises(InputError, match=said):
        calendar_text(data)


def test_the_cli_refuses_a_calendar_file_in_gbk_in_chinese(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    gbk = tmp_path / "2027.txt"
    gbk.write_bytes("2027-01-01 休 元旦\n".encode("gbk"))
    env = {**os.environ, "JIANYI_VAR_DIR": str(tmp_path / "var")}
    jianyi = str(Path(sys.executable).parent / "jianyi")
    subprocess.run([jianyi, "admin", "account", "add", "--login", "root", "--role", "admin"], env=env, capture_output=True, timeout=60, check=True)
    done = subprocess.run([jianyi, "--as", "admin:root", "admin", "calendar-load", str(gbk)], env=env,
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 1 and "日历文件应为 UTF-8 文本" in done.stderr and "内部错误" not in done.stderr
