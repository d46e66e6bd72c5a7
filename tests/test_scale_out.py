"""Several workers and schedulers (issue 10 §3): two worker processes and two scheduler processes on one
Temporal dev server and one PostgreSQL server; 100 cases driven through their lifecycles; one digest per
unit per period however many schedulers fire it, and one sound audit chain per case."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import DEPUTIES, seed_directory
from test_end_to_end import JIANYI, dev_server  # noqa: F401  (the dev-server fixture)

from jianyi.models.db import session_for
from jianyi.models.policy import CST
from jianyi.models.tables import Outbox, Suggestion
from jianyi.queries import verify_audit
from jianyi.service import Engine
from jianyi.settings import Settings
from jianyi.temporal import connect, register_search_attributes

CASES = 100
IN_FLIGHT = 10  # cases driven at a time (2 cores)
LEADS = ["区地方金融工作局", "区科技局", "区城管局", "区水务局"]


def processes(env: dict[str, str], log: Path) -> list[subprocess.Popen[bytes]]:
    out = log.open("ab")
    workers = [subprocess.Popen([JIANYI, "worker"], env=env, stdout=out, stderr=subprocess.STDOUT) for _ in range(2)]
    schedulers = [subprocess.Popen([sys.executable, "-m", "jianyi.scheduler"], env=env, stdout=out, stderr=subprocess.STDOUT)
                  for _ in range(2)]
    return workers + schedulers


async def lifecycle(engine: Engine, session: str, n: int) -> str:
    lead, deputy = LEADS[n % len(LEADS)], DEPUTIES[n % len(DEPUTIES)]
    data = {"session": session, "number": f"闭会第{n}号", "title": f"闭会期间建议{n}", "lead_deputy": deputy}
    sid = await engine.submit(data, deputy)
    await engine.act(sid, "review", "代表工委", "congress_office", {"decision": "register"})
    case = await engine.act(sid, "assign", "代表工委", "congress_office", {"lead_unit": lead})
    if n % 2:  # half stay open for the monthly digest
        return sid
    await engine.act(sid, "sign", lead, "unit", {})
    day = case.assigned_at.astimezone(CST).date().isoformat()
    await engine.act(sid, "record_contact", lead, "unit", {"method": "电话", "on": day})
    await engine.act(sid, "reply", lead, "unit", {"reply_class": "A", "text": "已办理。", "signed_by": "局长"})
    await engine.act(sid, "review_reply", "区政府办公室", "government_office", {"decision": "approve"})
    await engine.act(sid, "evaluate", deputy, "deputy", {"work": "满意", "result": "满意"})
    return sid


@pytest.mark.timeout(600)
async def test_two_workers_and_two_schedulers_on_postgresql_keep_one_chain_per_case_and_one_digest_per_unit(
    dev_server, postgres, mail, tmp_path  # noqa: F811
):
    url = postgres.new_database()
    settings = Settings(var_dir=tmp_path, database_url=url, temporal_address=dev_server.address, task_queue="scale",
                        smtp_port=mail.port, quiet_hours=False, instance="scale", action_timeout_seconds=90)
    seed_directory(settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIANYI_")} | {
        "JIANYI_VAR_DIR": str(tmp_path), "JIANYI_DATABASE_URL": url, "JIANYI_TEMPORAL_ADDRESS": dev_server.address,
        "JIANYI_TASK_QUEUE": "scale", "JIANYI_SMTP_PORT": str(mail.port), "JIANYI_QUIET_HOURS": "false", "JIANYI_INSTANCE": "scale"}
    running = processes(env, tmp_path / "processes.log")
    try:
        client = await connect(settings)
        await register_search_attributes(client, settings.temporal_namespace)
        engine = Engine(client, settings)
        gate = asyncio.Semaphore(IN_FLIGHT)

        async def one(n: int) -> str:
            async with gate:
                return await lifecycle(engine, settings.task_queue, n)

        sids = await asyncio.gather(*(one(n) for n in range(1, CASES + 1)))
        assert len(set(sids)) == CASES
        fire = [JIANYI, "scheduler", "fire", "monthly", "--period", "2026-11"]
        fired = [subprocess.run(fire, env=env, capture_output=True, text=True, timeout=120) for _ in range(2)]
        assert all(f.returncode == 0 for f in fired), [f.stderr for f in fired]
        digest = "scale-digest-monthly-2026-11"
        await client.get_workflow_handle(digest).result()
        with session_for(url) as db:
            rows = list(db.exec(__import__("sqlmodel").select(Outbox).where(Outbox.suggestion_id == digest)))
            states = [s.state for s in db.exec(__import__("sqlmodel").select(Suggestion))]
        still_open = {LEADS[n % len(LEADS)] for n in range(1, CASES + 1) if n % 2}
        assert sorted(r.recipient for r in rows) == sorted(still_open)  # one digest per unit for the period, fired twice
        assert states.count("closed") == CASES // 2 and states.count("assigned") == CASES // 2
        suggestions, events, breaks = verify_audit(url)
        assert suggestions == CASES and breaks == [] and events >= CASES * 3
    finally:
        for p in running:
            p.terminate()
        for p in running:
            p.wait(timeout=30)

