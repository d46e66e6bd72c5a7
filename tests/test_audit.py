"""The audit trail: every step hash-chained per suggestion; `jianyi audit verify` finds the first edit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import (
    RecordingEngine,
    case_handle,
    do,
    reply_and_approve,
    seed_directory,
    stop_if_open,
    submit_and_assign,
    suggestion,
)
from sqlmodel import select

from jianyi.models.db import session_for
from jianyi.models.tables import AuditEvent
from jianyi.queries import verify_audit

JIANYI = str(Path(sys.executable).parent / "jianyi")

pytestmark = pytest.mark.both_databases  # the records layer, on SQLite and PostgreSQL


def cli_verify(settings) -> subprocess.CompletedProcess[str]:  # noqa: ANN001
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIANYI_")}
    env["JIANYI_VAR_DIR"] = str(settings.var_dir)
    env["JIANYI_DATABASE_URL"] = settings.database_url
    return subprocess.run([JIANYI, "audit", "verify", "--json"], env=env, capture_output=True, text=True, timeout=60)


async def _two_cases(env, settings):  # noqa: ANN001, ANN202
    seed_directory(settings)
    engine = RecordingEngine(env.client, settings)
    first = await submit_and_assign(engine)
    await do(engine, first, "sign", "unit:区地方金融工作局")
    await reply_and_approve(engine, first)
    second = await submit_and_assign(
        engine, suggestion(settings, number="第65号", lead_deputy="刘正心", title="关于创新运用资本运营工具的建议"), lead="区科技局"
    )
    return engine, first, second


async def test_audit_verify_passes_on_an_untouched_trail_and_names_the_first_edited_event(env, settings, worker):
    engine, first, second = await _two_cases(env, settings)
    try:
        count, events, breaks = verify_audit(settings.db_url)
        assert (count, breaks) == (2, []) and events >= 10
        ok = cli_verify(settings)
        assert ok.returncode == 0 and json.loads(ok.stdout)["ok"] is True

        # someone edits the reply's payload in the database
        with session_for(settings.db_url) as db:
            event = db.exec(select(AuditEvent).where(AuditEvent.suggestion_id == first, AuditEvent.action == "reply")).one()
            event.payload, seq = {**event.payload, "text": "已全部解决"}, event.seq
            db.add(event)
            db.commit()
        _, _, breaks = verify_audit(settings.db_url)
        assert [(b.suggestion_id, b.seq) for b in breaks] == [(first, seq)]
        assert "被修改" in breaks[0].problem
        bad = cli_verify(settings)
        assert bad.returncode == 4 and json.loads(bad.stdout)["breaks"][0]["seq"] == seq
    finally:
        for sid in engine.started:
            await stop_if_open(env, case_handle(env, sid))


async def test_audit_verify_notices_a_deleted_event_and_a_rewritten_time(env, settings, worker):
    engine, first, second = await _two_cases(env, settings)
    try:
        with session_for(settings.db_url) as db:
            db.delete(db.exec(select(AuditEvent).where(AuditEvent.suggestion_id == second, AuditEvent.seq == 2)).one())
            event = db.exec(select(AuditEvent).where(AuditEvent.suggestion_id == first, AuditEvent.action == "reply")).one()
            event.effective_at -= timedelta(days=3)
            db.add(event)
            db.commit()
        _, _, breaks = verify_audit(settings.db_url)
        found = {b.suggestion_id: b for b in breaks}
        assert found[second].seq == 3 and "序号不连续" in found[second].problem
        assert "被修改" in found[first].problem
    finally:
        for sid in engine.started:
            await stop_if_open(env, case_handle(env, sid))
