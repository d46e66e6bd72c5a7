"""A bare Temporal skeleton of the same shape as a jianyi lifecycle (issue 10 §7), to tell the
engine's own cost from Temporal's: one workflow per case, start + 7 updates each with a validator
and one local activity writing an audit row in one SQLite transaction, plus one regular activity
per transition standing in for a delivery. Same dev server set-up, cases and in-flight.

`make bench` also runs the skeleton doing jianyi's own I/O (``same_io``): each transition's one
SQLite transaction reads the chain head and the projected row and writes a hashed audit row, the
projection, a deadline and, on every second transition, an outbox row; that transition's delivery
claims the row, sends one real mail over SMTP to the same catcher process, and marks it sent. So
jianyi's speed can be set beside a bare engine that does the same durable work.

To say where jianyi's difference from the skeleton lies, `make bench` also runs jianyi's lifecycles
with a part of its own replaced by a stand-in below: the deliveries (`SkippedDeliveries`: the
activity runs and sends nothing), then the records write as well (`RecordsInMemory`: the deadlines
the workflow needs, no database and no outbox, so no deliveries either). Figures only: the stand-ins
never run outside the bench.

    .venv/bin/python -m bench.skeleton            # 60 cases, 20 in flight
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.mime.text import MIMEText
from pathlib import Path

import aiosmtplib
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from jianyi.activities.calendar import compute_requested
from jianyi.activities.notify import NotifyActivities
from jianyi.activities.records import RecordActivities
from jianyi.devserver import DevServer, free_port
from jianyi.models.audit import transition_hash
from jianyi.models.calendar import WorkCalendar
from jianyi.models.case import Recorded, Transition
from jianyi.settings import Settings
from jianyi.worker import workflow_runner

STEPS = ["review", "assign", "sign", "contact", "reply", "approve", "evaluate"]
QUEUE = "skeleton"


@dataclass
class Write:
    case: str
    seq: int
    action: str


class Acts:
    """The skeleton's two activities: the bare audit row (``smtp_port`` None), or jianyi's I/O."""

    def __init__(self, db: Path, smtp_port: int | None = None) -> None:
        self.db, self.smtp_port = db, smtp_port
        with sqlite3.connect(db) as c:
            c.execute("pragma journal_mode=wal")
            c.executescript(SCHEMA)

    @activity.defn
    def record(self, w: Write) -> int:
        """The audit row; returns what the delivery is to send (0: nothing)."""
        with sqlite3.connect(self.db, timeout=30) as c:
            if self.smtp_port is None:
                c.execute("insert or ignore into audit values (?, ?, ?)", (w.case, w.seq, w.action))
                return w.seq
            c.execute("pragma synchronous=normal")
            return _same_io_record(c, w)

    @activity.defn
    async def deliver(self, outbox_id: int) -> None:
        if self.smtp_port is None:
            return None
        row = await asyncio.to_thread(self._claim, outbox_id)
        if row is not None:
            msg = MIMEText(row[1], "plain", "utf-8")
            msg["From"], msg["To"], msg["Subject"] = "jianyi@example.org", "unit@example.org", row[0]
            msg["Message-ID"] = f"<skeleton-{outbox_id}@example.org>"
            await aiosmtplib.send(msg, hostname="127.0.0.1", port=self.smtp_port, timeout=10)
            await asyncio.to_thread(self._mark_sent, outbox_id)

    def _claim(self, outbox_id: int) -> tuple[str, str] | None:
        with sqlite3.connect(self.db, timeout=30) as c:
            return c.execute("update outbox set status = 'sending' where id = ? and status = 'pending' returning subject, body",
                             (outbox_id,)).fetchone()

    def _mark_sent(self, outbox_id: int) -> None:
        with sqlite3.connect(self.db, timeout=30) as c:
            c.execute("update outbox set status = 'sent', sent_at = ? where id = ?", (datetime.now(UTC).isoformat(), outbox_id))


SCHEMA = """
create table if not exists audit (case_id text, seq int, action text, primary key (case_id, seq));
create table if not exists event (case_id text, seq int, action text, payload text, prev text, hash text, primary key (case_id, seq));
create table if not exists projection (id text primary key, state text, lead_unit text, overdue int, reply_due text, body text);
create index if not exists projection_state on projection (state);
create index if not exists projection_unit on projection (lead_unit);
create table if not exists deadline (case_id text, seq int, kind text, due text);
create index if not exists deadline_case on deadline (case_id);
create table if not exists outbox (id integer primary key, case_id text, seq int, subject text, body text, status text, sent_at text);
create index if not exists outbox_case on outbox (case_id, seq);
"""
# about the size of a jianyi case as projected, and of a notice's text
CASE_TEXT = "关于加快推进老旧小区改造的建议。" * 100
NOTICE = "你单位承办的第40号建议「关于加快推进老旧小区改造的建议」已交办，请于2026年6月30日前答复代表。" * 4


def _same_io_record(c: sqlite3.Connection, w: Write) -> int:
    """jianyi's transaction in shape: two reads, then audit (hash-chained), projection, deadline, outbox."""
    head = c.execute("select hash from event where case_id = ? order by seq desc limit 1", (w.case,)).fetchone()
    c.execute("select body from projection where id = ?", (w.case,)).fetchone()
    payload = json.dumps({"action": w.action, "by": "某单位", "text": CASE_TEXT[:300]}, ensure_ascii=False)
    prev = head[0] if head else ""
    digest = hashlib.sha256(f"{prev}|{w.case}|{w.seq}|{payload}".encode()).hexdigest()
    c.execute("insert or ignore into event values (?, ?, ?, ?, ?, ?)", (w.case, w.seq, w.action, payload, prev, digest))
    body = json.dumps({"id": w.case, "state": w.action, "seq": w.seq, "text": CASE_TEXT}, ensure_ascii=False)
    c.execute("insert or replace into projection values (?, ?, ?, 0, ?, ?)", (w.case, w.action, "市住房城乡建设局", "2026-06-30", body))
    c.execute("insert into deadline values (?, ?, ?, ?)", (w.case, w.seq, w.action, "2026-06-30T17:00:00+08:00"))
    if w.seq % 2:
        return 0
    found = c.execute("insert into outbox (case_id, seq, subject, body, status) values (?, ?, ?, ?, 'pending') returning id",
                      (w.case, w.seq, f"第{w.seq}号通知", NOTICE)).fetchone()
    return int(found[0])


@workflow.defn
class Skeleton:
    def __init__(self) -> None:
        self.seq, self.done = 0, False
        self.deliveries: list[asyncio.Task[None]] = []

    @workflow.run
    async def run(self) -> int:
        await self._write("submit")
        await workflow.wait_condition(lambda: self.done)
        await workflow.wait_condition(workflow.all_handlers_finished)
        await asyncio.gather(*self.deliveries)  # as jianyi does: a case ends after its notices are delivered
        return self.seq

    async def _write(self, action: str) -> None:
        self.seq += 1
        w = Write(workflow.info().workflow_id, self.seq, action)
        send = await workflow.execute_local_activity_method(Acts.record, w, start_to_close_timeout=timedelta(seconds=30))
        if send:
            self.deliveries.append(workflow.start_activity_method(Acts.deliver, send, start_to_close_timeout=timedelta(seconds=20)))

    @workflow.update
    async def act(self, action: str) -> int:
        await self._write(action)
        self.done = action == STEPS[-1]
        return self.seq

    @act.validator
    def check(self, action: str) -> None:
        if action not in STEPS:
            raise ValueError(f"unknown {action}")


class SkippedDeliveries(NotifyActivities):
    """jianyi's delivery activity, sending nothing: what the deliveries cost, records still written."""

    @activity.defn(name="deliver_outbox")
    async def deliver_outbox(self, ids: list[int]) -> int:
        return 0


class RecordsInMemory(RecordActivities):
    """jianyi's records write reduced to what the workflow needs back: the deadlines (the package's
    calendar), no database, no outbox rows, hence no deliveries. What is left is the engine."""

    @activity.defn(name="record_transition")
    def record_transition(self, t: Transition) -> Recorded:
        deadlines = compute_requested(t.deadlines, t.case.policy, WorkCalendar())
        return Recorded(deadlines=deadlines, outbox_ids=[], deliver_at=t.at, seq=t.seq, key=t.key, content_hash=transition_hash(t))


def without_deliveries(settings: Settings) -> dict[str, object]:
    return {"notify": SkippedDeliveries(settings)}


def engine_only(settings: Settings) -> dict[str, object]:
    return {"records": RecordsInMemory(settings), "notify": SkippedDeliveries(settings)}


async def run_skeleton(cases: int = 60, in_flight: int = 20, same_io: bool = False) -> float:
    """Cases per second of the skeleton on a fresh dev server and an in-process worker; ``same_io``:
    doing jianyi's records and mail (a catcher process receives the mail, as in the lifecycles)."""
    from bench.lifecycles import CatcherProcess

    with tempfile.TemporaryDirectory() as tmp:
        server = DevServer(Path(tmp) / "temporal.db", port=free_port(), ui_port=None)
        mail = CatcherProcess(Path(tmp) / "mail") if same_io else None
        await server.start()
        try:
            client = await Client.connect(server.address)
            acts = Acts(Path(tmp) / "audit.db", mail.port if mail else None)
            with ThreadPoolExecutor(max_workers=16) as pool:
                # the same sandbox settings as jianyi's worker (jianyi/worker.py)
                async with Worker(client, task_queue=QUEUE, workflows=[Skeleton], activities=[acts.record, acts.deliver],
                                  activity_executor=pool, workflow_runner=workflow_runner()):
                    rate = await _drive(client, cases, in_flight)
            expected = cases * (len(STEPS) + 1) // 2  # a mail on every second of the 8 transitions
            if mail is not None and mail.received != expected:
                raise RuntimeError(f"the skeleton's mail did not all arrive: {mail.received} of {expected}")
            return rate
        finally:
            if mail is not None:
                mail.stop()
            server.stop()


async def _drive(client: Client, cases: int, in_flight: int) -> float:
    gate = asyncio.Semaphore(in_flight)

    async def one(n: int) -> None:
        async with gate:
            handle = await client.start_workflow(Skeleton.run, id=f"skeleton-{n}", task_queue=QUEUE)
            for step in STEPS:
                update_id = f"{n}-{step}"
                for _ in range(50):  # as jianyi's service does: the same update id again while the case runs
                    try:
                        await handle.execute_update(Skeleton.act, step, id=update_id)
                        break
                    except Exception:  # noqa: BLE001  (WorkflowNotReady right after the start)
                        await asyncio.sleep(0.2)
            await handle.result()

    start = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(cases)))
    return cases / (time.perf_counter() - start)


if __name__ == "__main__":
    # the sandbox imports a workflow by its module's name, never __main__
    from bench.skeleton import run_skeleton as imported

    rate = asyncio.run(imported())
    print(f"skeleton: {rate:.2f} cases/s (60 cases, 20 in flight, one in-process worker)")
    same = asyncio.run(imported(same_io=True))
    print(f"skeleton doing jianyi's I/O: {same:.2f} cases/s")
