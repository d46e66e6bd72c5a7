"""A bare Temporal skeleton of the same shape as a jianyi lifecycle (issue 10 §7), to tell the
engine's own cost from Temporal's: one workflow per case, start + 7 updates each with a validator
and one local activity writing an audit row in one SQLite transaction, plus one regular activity
per transition standing in for a delivery. Same dev server set-up, cases and in-flight.

To say where jianyi's difference from the skeleton lies, `make bench` also runs jianyi's lifecycles
with a part of its own replaced by a stand-in below: the deliveries (`SkippedDeliveries`: the
activity runs and sends nothing), then the records write as well (`RecordsInMemory`: the deadlines
the workflow needs, no database and no outbox, so no deliveries either). Figures only: the stand-ins
never run outside the bench.

    .venv/bin/python -m bench.skeleton            # 60 cases, 20 in flight
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

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
    def __init__(self, db: Path) -> None:
        self.db = db
        with sqlite3.connect(db) as c:
            c.execute("pragma journal_mode=wal")
            c.execute("create table if not exists audit (case_id text, seq int, action text, primary key (case_id, seq))")

    @activity.defn
    def record(self, w: Write) -> int:
        with sqlite3.connect(self.db, timeout=30) as c:
            c.execute("insert or ignore into audit values (?, ?, ?)", (w.case, w.seq, w.action))
        return w.seq

    @activity.defn
    async def deliver(self, w: Write) -> None:
        return None


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
        await workflow.execute_local_activity_method(Acts.record, w, start_to_close_timeout=timedelta(seconds=30))
        self.deliveries.append(workflow.start_activity_method(Acts.deliver, w, start_to_close_timeout=timedelta(seconds=20)))

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


async def run_skeleton(cases: int = 60, in_flight: int = 20) -> float:
    """Cases per second of the skeleton on a fresh dev server and an in-process worker."""
    with tempfile.TemporaryDirectory() as tmp:
        server = DevServer(Path(tmp) / "temporal.db", port=free_port(), ui_port=None)
        await server.start()
        try:
            client = await Client.connect(server.address)
            acts = Acts(Path(tmp) / "audit.db")
            with ThreadPoolExecutor(max_workers=16) as pool:
                # the same sandbox settings as jianyi's worker (jianyi/worker.py)
                async with Worker(client, task_queue=QUEUE, workflows=[Skeleton], activities=[acts.record, acts.deliver],
                                  activity_executor=pool, workflow_runner=workflow_runner()):
                    return await _drive(client, cases, in_flight)
        finally:
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
