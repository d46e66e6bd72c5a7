"""Reading commands and the full-address flag, through the real `jianyi` command on a records file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import select

from jianyi.adminlog import CHAIN
from jianyi.models.db import engine_for, session_for
from jianyi.models.tables import AuditEvent, Outbox

JIANYI = str(Path(sys.executable).parent / "jianyi")


def jianyi(var: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JIANYI_VAR_DIR": str(var)}
    return subprocess.run([JIANYI, *args], env=env, capture_output=True, text=True, timeout=60)


def test_reading_commands_on_a_missing_or_empty_database_say_so_and_exit_non_zero(tmp_path):
    done = jianyi(tmp_path / "nowhere", "audit", "verify")
    assert done.returncode == 1 and "记录数据库不存在" in done.stderr and "审计链完整" not in done.stdout
    engine_for(f"sqlite:///{tmp_path / 'jianyi.db'}")  # an empty database, tables made
    for command in (["audit", "verify"], ["stuck"], ["outbox"]):
        done = jianyi(tmp_path, *command)
        assert done.returncode == 1 and "还没有任何建议" in done.stderr, command


def records_with_one_notice(tmp_path: Path, **notice: str) -> str:
    """A records file holding one notice of suggestion 16-3-40 (and an audit event, so it is not empty); its URL."""
    url = f"sqlite:///{tmp_path / 'jianyi.db'}"
    with session_for(url) as db:
        db.add(Outbox(suggestion_id="suggestion-16-3-40", cycle="1", body="…", created_at=datetime.now(UTC), **notice))
        db.add(AuditEvent(suggestion_id="x", seq=1, actor="a", role="admin", action="a", from_state="", to_state="",
                          at=datetime.now(UTC), effective_at=datetime.now(UTC), prev_hash="", hash=""))
        db.commit()
    return url


def test_only_an_admin_sees_full_addresses_and_the_admin_log_records_it(tmp_path):
    url = records_with_one_notice(tmp_path, recipient="王琨", address="13812341234", channel="sms", kind="remark", subject="督办意见")
    assert jianyi(tmp_path, "admin", "account", "add", "--login", "管理员甲", "--role", "admin").returncode == 0
    masked = jianyi(tmp_path, "outbox")
    assert masked.returncode == 0 and "138****1234" in masked.stdout and "13812341234" not in masked.stdout
    refused = jianyi(tmp_path, "--as", "unit:区城管局", "outbox", "--show-address")
    assert refused.returncode == 1 and "只有系统管理员" in refused.stderr
    shown = jianyi(tmp_path, "--as", "admin:管理员甲", "outbox", "--show-address")
    assert shown.returncode == 0 and "13812341234" in shown.stdout
    with session_for(url) as db:
        events = db.exec(select(AuditEvent).where(AuditEvent.suggestion_id == CHAIN)).all()
    assert [(e.actor, e.action) for e in events][-1] == ("管理员甲", "show_full_addresses")


def test_the_outbox_of_a_suggestion_that_does_not_exist_is_said_not_shown_as_no_notices(tmp_path):
    records_with_one_notice(tmp_path, recipient="区城管局", address="cg@example.org", channel="email", kind="assigned", subject="交办通知")
    assert "交办通知" in jianyi(tmp_path, "outbox", "--suggestion", "16-3-40").stdout
    typo = jianyi(tmp_path, "outbox", "--suggestion", "16-3-400")
    assert typo.returncode == 1 and "找不到建议「suggestion-16-3-400」" in typo.stderr and "共 0 条" not in typo.stdout


def test_usage_errors_are_in_chinese(tmp_path):
    cases = [
        (["review", "16-3-40"], "缺少选项 --decision"),
        (["review", "16-3-40", "--decision", "maybe"], "选项 --decision 的取值「maybe」无效"),
        (["stuck", "--bogus"], "没有选项 --bogus"),
        (["fly"], "没有命令「fly」"),
        (["stuk"], "没有命令「stuk」，是不是要用：stuck"),
        (["fulfil", "16-3-40", "--number", "one", "--text", "x"], "选项 --number 的取值应为整数"),
    ]
    for args, phrase in cases:
        done = jianyi(tmp_path, "--as", "congress_office:代表工委", *args)
        assert done.returncode == 2 and phrase in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)


def test_the_cli_refuses_as_for_a_missing_account_and_non_admins_on_admin(tmp_path):
    made = jianyi(tmp_path, "admin", "account", "add", "--login", "root", "--role", "admin", "--name", "管理员")
    assert made.returncode == 0 and "初始密码" in made.stdout  # the first admin needs no admin
    assert jianyi(tmp_path, "admin", "account", "add", "--login", "x", "--role", "admin").returncode == 2  # now it does
    nobody = jianyi(tmp_path, "--as", "congress_office:冒名者", "review", "16-3-40", "--decision", "register")
    assert nobody.returncode == 2 and "没有角色为「代表工委」、名为「冒名者」的有效账号" in nobody.stderr
    assert jianyi(tmp_path, "--as", "admin:root", "admin", "unit", "区城管局").returncode == 0
    made = jianyi(tmp_path, "--as", "admin:root", "admin", "account", "add", "--login", "cg", "--role", "unit", "--binding", "区城管局")
    assert made.returncode == 0
    as_unit = jianyi(tmp_path, "--as", "unit:区城管局", "admin", "unit", "区水务局")
    assert as_unit.returncode == 2 and "只能由系统管理员账号执行" in as_unit.stderr
    unbound = jianyi(tmp_path, "--as", "admin:root", "admin", "account", "add", "--login", "sw", "--role", "unit", "--binding", "区水务局")
    assert unbound.returncode == 1 and "尚未登记" in unbound.stderr


def test_an_action_with_temporal_down_exits_3_in_chinese_without_core_log_lines(tmp_path):
    jianyi(tmp_path, "admin", "account", "add", "--login", "root", "--role", "admin")
    jianyi(tmp_path, "--as", "admin:root", "admin", "account", "add", "--login", "dgw", "--role", "congress_office", "--name", "代表工委")
    env = {**os.environ, "JIANYI_VAR_DIR": str(tmp_path), "JIANYI_TEMPORAL_ADDRESS": "127.0.0.1:1"}
    done = subprocess.run([JIANYI, "--as", "congress_office:代表工委", "review", "16-3-40", "--decision", "register"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3 and "无法连接 Temporal 服务" in done.stderr
    assert "temporal_sdk_core" not in done.stderr and "WARN" not in done.stderr and "Traceback" not in done.stderr


def test_the_account_list_of_a_new_installation_says_how_to_create_the_first_admin(tmp_path):
    engine_for(f"sqlite:///{tmp_path / 'jianyi.db'}")
    empty = jianyi(tmp_path, "admin", "account", "list")
    assert empty.returncode == 0 and "还没有账号" in empty.stdout and "--role admin" in empty.stdout
    assert jianyi(tmp_path, "admin", "account", "add", "--login", "管理员甲", "--role", "admin").returncode == 0
    listed = jianyi(tmp_path, "--as", "admin:管理员甲", "admin", "account", "list")
    assert "管理员甲" in listed.stdout and "共 1 个账号" in listed.stdout and "还没有账号" not in listed.stdout


def test_the_help_of_an_admin_command_is_read_without_an_account_but_the_command_is_not_run(tmp_path):
    jianyi(tmp_path, "admin", "account", "add", "--login", "root", "--role", "admin", "--name", "管理员")
    helped = jianyi(tmp_path, "admin", "unit", "--help")
    assert helped.returncode == 0 and "登记（或更新）承办单位" in helped.stdout
    group = jianyi(tmp_path, "admin", "account")
    assert "账号：创建、重置密码" in group.stdout and "只能由系统管理员" not in group.stderr
    refused = jianyi(tmp_path, "admin", "recompute")
    assert refused.returncode == 2 and "只能由系统管理员账号执行" in refused.stderr


def test_the_help_is_in_chinese_down_to_clicks_own_words(tmp_path):
    for args in (["--help"], ["review", "--help"], ["admin", "account", "--help"]):
        shown = jianyi(tmp_path, *args).stdout
        assert "用法：jianyi" in shown and "显示本帮助并退出" in shown and "选项" in shown, args
        assert not any(word in shown for word in ("Usage:", "Show this message", "Options", "Commands", "[required]")), args


def test_scheduler_jobs_marks_a_fire_day_that_only_the_monday_to_friday_guess_gives(tmp_path):
    from jianyi.models.calendar import package_covers

    engine_for(f"sqlite:///{tmp_path / 'jianyi.db'}")
    jobs = json.loads(jianyi(tmp_path, "scheduler", "jobs", "--json").stdout)
    assert [j["job"] for j in jobs] == ["monthly", "ledger", "daily"]
    for job in jobs:
        year = datetime.fromisoformat(job["next_fire"]).year
        assert job["provisional"] is not package_covers(year), job
    shown = jianyi(tmp_path, "scheduler", "jobs").stdout
    assert ("暂定" in shown) is any(j["provisional"] for j in jobs)


def test_updating_a_unit_changes_only_what_the_command_names(tmp_path):
    from sqlmodel import select

    from jianyi.models.db import session_for
    from jianyi.models.tables import HandlingUnit

    jianyi(tmp_path, "admin", "account", "add", "--login", "root", "--role", "admin", "--name", "管理员")
    admin = ("--as", "admin:root", "admin")
    first = jianyi(tmp_path, *admin, "unit", "区城管局", "--email", "cg@wuchang.example")
    assert first.returncode == 0 and "已登记承办单位：区城管局（政府部门；通知通道：email）" in first.stdout
    again = jianyi(tmp_path, *admin, "unit", "区城管局", "--kind", "街道")
    assert again.returncode == 0 and "已更新承办单位：区城管局（街道；通知通道：email）" in again.stdout
    with session_for(f"sqlite:///{tmp_path / 'jianyi.db'}") as db:
        unit = db.exec(select(HandlingUnit).where(HandlingUnit.name == "区城管局")).one()
    assert (unit.email, unit.kind) == ("cg@wuchang.example", "街道")  # the address was not wiped


def test_an_admin_cannot_disable_the_account_it_acts_as(tmp_path):
    jianyi(tmp_path, "admin", "account", "add", "--login", "root", "--role", "admin", "--name", "管理员")
    refused = jianyi(tmp_path, "--as", "admin:root", "admin", "account", "disable", "root")
    assert refused.returncode == 1 and "不能停用或启用自己正在使用的账号" in refused.stderr
    assert jianyi(tmp_path, "--as", "admin:root", "admin", "account", "list").returncode == 0  # still usable


def test_a_session_needs_a_name_and_a_rename_is_said(tmp_path):
    jianyi(tmp_path, "admin", "account", "add", "--login", "root", "--role", "admin", "--name", "管理员")
    admin = ("--as", "admin:root", "admin", "session")
    assert "会次代码和名称都不能为空" in jianyi(tmp_path, *admin, "16-9", " ").stderr
    assert "开幕日 2099-01-01 太远" in jianyi(tmp_path, *admin, "abc", "名称", "--opened", "2099-01-01").stderr
    assert "已登记会次：16-3 第三次会议" in jianyi(tmp_path, *admin, "16-3", "第三次会议").stdout
    renamed = jianyi(tmp_path, *admin, "16-3", "改名的会议").stdout
    assert "已更新会次：16-3 名称由「第三次会议」改为「改名的会议」" in renamed
