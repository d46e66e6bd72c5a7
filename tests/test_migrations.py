"""Alembic for every schema change (issue 10 §2): the newest revision is the models' schema, and a
database made by the previous revision upgrades with its data intact."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlmodel import SQLModel

from jianyi.models import migrate as migrations
from jianyi.models.db import DatabaseProblem, engine_for, migrate_database, session_for
from jianyi.models.stuck import find_stuck
from jianyi.queries import verify_audit

JIANYI = str(Path(sys.executable).parent / "jianyi")


def test_the_newest_revision_is_exactly_the_models_schema(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'j.db'}")
    migrations.upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, SQLModel.metadata) if "apscheduler" not in str(d)]
    assert differences == [], "a model changed without a migration: add a revision under jianyi/migrations/versions"


def at_first_revision_with_data(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    migrations.upgrade(engine, "0001")
    with engine.begin() as c:
        c.execute(text("insert into suggestion (id, session, number, title, text, category, period, lead_deputy, co_signers, state, round, "
                       "lead_unit, co_handlers, key_supervision, supervisor, overdue, escalation_count, outcome, provisional_deadlines) values "
                       "('suggestion-16-3-40', '16-3', '第40号', '关于科技金融的建议', '', '', '大会期间', '杨永兵', '[]', 'closed', 1, "
                       "'区地方金融工作局', '[]', 0, '', 0, 0, '满意', 0)"))
        c.execute(text("insert into suggestion (id, session, number, title, text, category, period, lead_deputy, co_signers, state, round, "
                       "lead_unit, co_handlers, key_supervision, supervisor, overdue, escalation_count, outcome, provisional_deadlines, "
                       "reply_due) values ('suggestion-16-3-41', '16-3', '第41号', '关于老旧小区加装电梯的建议', '', '', '大会期间', '杨永兵', "
                       "'[]', 'handling', 1, '区城管局', '[]', 0, '', 0, 0, '', 0, '2025-06-03 15:59:59.000000')"))
        c.execute(text("insert into auditevent (suggestion_id, seq, actor, role, action, from_state, to_state, payload, at, effective_at, "
                       "prev_hash, hash) values ('suggestion-16-3-40', 1, '杨永兵', 'deputy', 'submit', '', 'submitted', '{}', "
                       "'2025-03-01 01:00:00', '2025-03-01 01:00:00', :g, '')"), {"g": "0" * 64})
    engine.dispose()
    return url


def test_a_database_made_by_the_previous_revision_upgrades_with_its_data_intact(tmp_path):
    url = at_first_revision_with_data(tmp_path / "old.db")
    with pytest.raises(DatabaseProblem, match="jianyi admin migrate"):
        engine_for(url)  # a reading command is told what to do, never half-works
    engine_for.cache_clear()
    assert migrate_database(url) == ("0001", migrations.head())
    with engine_for(url).connect() as c:
        rows = c.execute(text("select title, outcome, chain_seq, error, stuck_from from suggestion order by id")).all()
    assert rows[0] == ("关于科技金融的建议", "满意", 0, "", None)
    assert rows[1][4].startswith("2025-06-03 15:59:59")  # the open case's facts and stuck_from, filled from the one definition
    with session_for(url) as db:
        assert [c.id for c in find_stuck(db, datetime(2025, 7, 1, tzinfo=UTC)).cases] == ["suggestion-16-3-41"]
    assert "supervisor" in inspect(engine_for(url)).get_table_names()
    assert verify_audit(url)[1] == 1


def test_jianyi_admin_migrate_upgrades_and_says_so(tmp_path):
    at_first_revision_with_data(tmp_path / "jianyi.db")
    env = {**os.environ, "JIANYI_VAR_DIR": str(tmp_path)}
    behind = subprocess.run([JIANYI, "stuck"], env=env, capture_output=True, text=True, timeout=60)
    assert behind.returncode == 3 and "jianyi admin migrate" in behind.stderr
    done = subprocess.run([JIANYI, "admin", "migrate"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "已从 0001 升级到" in done.stdout


def test_an_unreachable_database_url_is_a_clear_error(tmp_path):
    env = {**os.environ, "JIANYI_VAR_DIR": str(tmp_path), "JIANYI_DATABASE_URL": "postgresql+psycopg://jianyi:secret@127.0.0.1:1/jianyi"}
    done = subprocess.run([JIANYI, "stuck"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3 and "无法连接记录数据库" in done.stderr and "secret" not in done.stderr


@pytest.mark.parametrize("url", ["postgres-ql://jianyi:secret@db/jianyi", "postgresql+psycopg2://jianyi:secret@db/jianyi", "db.example.org"])
def test_a_malformed_database_url_names_the_setting_and_its_form(tmp_path, url):
    env = {**os.environ, "JIANYI_VAR_DIR": str(tmp_path), "JIANYI_DATABASE_URL": url}
    done = subprocess.run([JIANYI, "stuck"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3 and "记录数据库地址无效" in done.stderr and "postgresql+psycopg://" in done.stderr
    assert "内部错误" not in done.stderr and "secret" not in done.stderr


def test_a_data_directory_that_cannot_be_made_names_the_setting(tmp_path):
    in_the_way = tmp_path / "var"
    in_the_way.write_text("a file, not a directory")
    env = {**os.environ, "JIANYI_VAR_DIR": str(in_the_way), "JIANYI_TEMPORAL_ADDRESS": "127.0.0.1:1"}
    done = subprocess.run([JIANYI, "worker"], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 3 and f"无法使用数据目录「{in_the_way}」" in done.stderr and "JIANYI_VAR_DIR" in done.stderr
    assert "内部错误" not in done.stderr and in_the_way.read_text() == "a file, not a directory"
