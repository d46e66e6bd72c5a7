"""Fault injection you can rerun (issue 10 §5): cases driven concurrently through whole lifecycles
(re-handling and commitments included) while the worker is SIGKILLed at random moments, the Temporal
dev server is SIGKILLed and restarted on its file, and the SMTP server stores a message but answers
421 instead of 250 at random (the crash-after-accept window).

    .venv/bin/python -m bench.faults                      # 200 cases, 10 worker kills, 2 server kills
    FAULT_CASES=40 FAULT_WORKER_KILLS=5 .venv/bin/python -m bench.faults

It reports cases closed, transitions lost (actions the driver saw accepted that have no audit event),
duplicate deliveries per outbox key as the receiving SMTP server saw them, and audit chains that fail
verification. Target: 0 lost, 0 broken chains, duplicates only where the channel gives the receiver
no way to drop them (e-mail repeats carry the same Message-ID, so a mail system can).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from sqlmodel import select

from jianyi import directory
from jianyi.activities.notify import DELIVERABLE
from jianyi.devserver import DevServer, free_port
from jianyi.mailcatcher import MailCatcher, _Handler
from jianyi.models.case import CaseState
from jianyi.models.commands import InputError
from jianyi.models.db import session_for
from jianyi.models.policy import CST
from jianyi.models.tables import AuditEvent, Outbox, Suggestion
from jianyi.queries import verify_audit
from jianyi.service import Engine
from jianyi.settings import Settings
from jianyi.temporal import connect, register_search_attributes

JIANYI = str(Path(sys.executable).parent / "jianyi")
UNITS = ["区城管局", "区水务局", "区科技局", "区教育局"]
DEPUTIES = ["杨永兵", "刘正心", "饶满琳", "胡家胜"]
T = TypeVar("T")
RETRYABLE = ("暂时不可用", "工作流服务出错", "找不到建议")


class DroppingHandler(_Handler):
    """Keeps the message, then (at random) answers 421 as if it died before saying 250."""

    def __init__(self, drop_rate: float, rng: random.Random) -> None:
        super().__init__()
        self.drop_rate, self.rng = drop_rate, rng

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802, ANN201
        await super().handle_DATA(server, session, envelope)
        return "421 lost the connection after accepting" if self.rng.random() < self.drop_rate else "250 OK"


@dataclass
class Report:
    cases: int
    closed: int = 0
    accepted: list[tuple[str, str]] = field(default_factory=list)  # (suggestion, update id)
    lost: list[tuple[str, str]] = field(default_factory=list)
    duplicates: int = 0
    undelivered: int = 0  # outbox rows still pending, claimed (sending) or failed once the deliveries settled
    broken_chains: int = 0
    worker_kills: int = 0
    server_kills: int = 0
    errors: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"  cases closed: {self.closed}/{self.cases}",
                f"  actions accepted: {len(self.accepted)}; transitions lost: {len(self.lost)}",
                f"  duplicate deliveries seen by the SMTP server: {self.duplicates} (same Message-ID: a mail system drops them)",
                f"  notices left undelivered (pending, claimed or failed after the retries settled): {self.undelivered}",
                f"  audit chains failing verification: {self.broken_chains}",
                f"  worker SIGKILLs: {self.worker_kills}; Temporal dev server SIGKILLs: {self.server_kills}",
                *(f"  error: {e}" for e in self.errors[:5])]


class Chaos:
    def __init__(self, server: DevServer, env: dict[str, str], log: Path, rng: random.Random) -> None:
        self.server, self.env, self.log, self.rng = server, env, log, rng
        self.worker = self.start_worker()

    def start_worker(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen([JIANYI, "worker"], env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)

    def kill_worker(self) -> None:
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait()
        self.worker = self.start_worker()

    async def kill_server(self) -> None:
        os.killpg(self.server.process.pid, signal.SIGKILL)  # type: ignore[union-attr]
        self.server.process.wait()  # type: ignore[union-attr]
        await self.server.start(restart=True)

    async def run(self, report: Report, worker_kills: int, server_kills: int, every: float) -> None:
        kinds = ["worker"] * worker_kills + ["server"] * server_kills
        self.rng.shuffle(kinds)
        for kind in kinds:
            await asyncio.sleep(every * (0.5 + self.rng.random()))
            if kind == "worker":
                self.kill_worker()
                report.worker_kills += 1
            else:
                await self.kill_server()
                report.server_kills += 1

    def stop(self) -> None:
        os.killpg(self.worker.pid, signal.SIGTERM)
        self.worker.wait(timeout=30)


async def retried(call: Callable[[], Awaitable[T]], limit: float) -> T:
    """``call`` again, a second apart, while the server is down or the answer says to try later."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + limit
    while True:
        try:
            return await call()
        except InputError as exc:
            if not any(word in exc.message for word in RETRYABLE) or loop.time() > give_up:
                raise
        except Exception:  # noqa: BLE001  (the server died mid-call)
            if loop.time() > give_up:
                raise
        await asyncio.sleep(1)


async def act(engine: Engine, report: Report, sid: str, action: str, actor: str, role: str, payload: dict, limit: float) -> None:
    """One action, retried under its own update id until it is answered (it is applied at most once)."""
    update_id = str(uuid.uuid4())
    await retried(lambda: engine.act(sid, action, actor, role, payload, update_id=update_id), limit)
    report.accepted.append((sid, update_id))


async def view(engine: Engine, sid: str, limit: float) -> CaseState:
    """The case as it stands, asked again while the server is down (a clerk reloads the page)."""
    return await retried(lambda: engine.view(sid), limit)


async def submit(engine: Engine, data: dict, deputy: str, limit: float) -> str:
    loop = asyncio.get_running_loop()
    give_up = loop.time() + limit
    while True:
        try:
            return await engine.submit(data, deputy)
        except InputError as exc:
            if "已经提出过" in exc.message:  # the first attempt went through before the failure
                from jianyi.models.commands import suggestion_workflow_id

                return suggestion_workflow_id(data["session"], data["number"])
            if loop.time() > give_up:
                raise
        except Exception:  # noqa: BLE001
            if loop.time() > give_up:
                raise
        await asyncio.sleep(1)


async def lifecycle(engine: Engine, report: Report, session: str, n: int, limit: float) -> None:
    unit, deputy = UNITS[n % len(UNITS)], DEPUTIES[n % len(DEPUTIES)]
    sid = await submit(engine, {"session": session, "number": f"第{n}号", "title": f"建议{n}", "lead_deputy": deputy}, deputy, limit)
    step = lambda action, actor, role, **p: act(engine, report, sid, action, actor, role, p, limit)  # noqa: E731
    await step("review", "代表工委", "congress_office", decision="register")
    case = await view(engine, sid, limit)
    await step("assign", "代表工委", "congress_office", lead_unit=unit)
    await step("sign", unit, "unit")
    case = await view(engine, sid, limit)
    day = case.assigned_at.astimezone(CST).date()
    commitments = [{"text": "完成整改", "promised_date": (day + timedelta(days=200)).isoformat()}] if n % 3 == 0 else []
    for round_ in (1, 2):
        await step("record_contact", unit, "unit", method="电话", on=day.isoformat())
        await step("reply", unit, "unit", reply_class="B" if commitments else "A", text="已办理。", signed_by="局长", commitments=commitments)
        commitments = []
        await step("review_reply", "区政府办公室", "government_office", decision="approve")
        unhappy = n % 4 == 1 and round_ == 1  # a quarter are re-handled once
        await step("evaluate", deputy, "deputy", work="满意", result="不满意" if unhappy else "满意", comment="未解决" if unhappy else "")
        if not unhappy:
            break
    case = await view(engine, sid, limit)
    if case.state == "follow_up":
        await step("fulfil_commitment", unit, "unit", number=1, text="已完成")
    report.closed += (await view(engine, sid, limit)).state == "closed"


async def run_faults(cases: int = 200, worker_kills: int = 10, server_kills: int = 2, drop_rate: float = 0.1,
                     in_flight: int = 20, seed: int = 1, settle: float = 120.0) -> Report:
    rng, report = random.Random(seed), Report(cases)
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp)
        mail = MailCatcher()
        mail.handler = mail.controller.handler = DroppingHandler(drop_rate, rng)
        mail.start()
        server = DevServer(var / "temporal.db", port=free_port(), ui_port=None)
        await server.start()
        settings = Settings(var_dir=var, temporal_address=server.address, task_queue="faults", smtp_port=mail.port,
                            quiet_hours=False, instance="faults", action_timeout_seconds=15)
        _directory(settings)
        env = {k: v for k, v in os.environ.items() if not k.startswith("JIANYI_")} | {
            "JIANYI_VAR_DIR": str(var), "JIANYI_TEMPORAL_ADDRESS": server.address, "JIANYI_TASK_QUEUE": "faults",
            "JIANYI_SMTP_PORT": str(mail.port), "JIANYI_QUIET_HOURS": "false", "JIANYI_INSTANCE": "faults"}
        client = await connect(settings)
        await register_search_attributes(client, settings.temporal_namespace)
        chaos = Chaos(server, env, var / "worker.log", rng)
        try:
            engine, gate = Engine(client, settings), asyncio.Semaphore(in_flight)

            async def one(n: int) -> None:
                async with gate:
                    try:
                        await lifecycle(engine, report, settings.task_queue, n, limit=300)
                    except Exception as exc:  # noqa: BLE001
                        report.errors.append(f"第{n}号: {type(exc).__name__}: {exc}")

            every = max(2.0, cases * 0.15 / max(worker_kills + server_kills, 1))
            await asyncio.gather(asyncio.gather(*(one(n) for n in range(1, cases + 1))),
                                 chaos.run(report, worker_kills, server_kills, every))
            await _settle(settings, settle)
            _check(settings, report, mail)
        finally:
            chaos.stop()
            server.stop()
            mail.stop()
    return report


def _directory(settings: Settings) -> None:
    url = settings.db_url
    directory.add_session(url, settings.task_queue, "故障注入")
    for name in UNITS + ["区政府办公室", "区人大常委会代表工作委员会", "区政府督查室"]:
        directory.add_unit(url, name, f"{abs(hash(name)) % 10**6}@unit.example")
    for name in DEPUTIES:
        directory.add_deputy(url, name, email=f"{abs(hash(name)) % 10**6}@deputy.example")


async def _settle(settings: Settings, limit: float = 120.0) -> None:
    """Wait until nothing is pending in the outbox (deliveries retried after the faults)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while loop.time() < end:
        with session_for(settings.db_url) as db:
            pending = db.exec(select(Outbox.id).where(Outbox.status.in_(UNDELIVERED))).first()  # type: ignore[attr-defined]
        if pending is None:
            return
        await asyncio.sleep(1)


UNDELIVERED = (*DELIVERABLE, "sending")  # what a delivery still owes: notify.py's deliverable rows and its claims


def _check(settings: Settings, report: Report, mail: MailCatcher) -> None:
    with session_for(settings.db_url) as db:
        report.undelivered = len(list(db.exec(select(Outbox.id).where(Outbox.status.in_(UNDELIVERED)))))  # type: ignore[attr-defined]
        keys = Counter((e.suggestion_id, e.key) for e in db.exec(select(AuditEvent)))
        report.closed = len(list(db.exec(select(Suggestion.id).where(Suggestion.state == "closed"))))
    report.lost = [a for a in report.accepted if keys[a] != 1]
    counts = Counter(m.message["Message-ID"] for m in mail.received)
    report.duplicates = sum(c - 1 for c in counts.values() if c > 1)
    report.broken_chains = len(verify_audit(settings.db_url)[2])


def main() -> None:
    cases = int(os.environ.get("FAULT_CASES", "200"))
    kills = int(os.environ.get("FAULT_WORKER_KILLS", "10"))
    servers = int(os.environ.get("FAULT_SERVER_KILLS", "2"))
    print(f"Faults: {cases} cases, {kills} worker SIGKILLs, {servers} dev-server SIGKILLs, SMTP answering 421 after accepting 10 %")
    report = asyncio.run(run_faults(cases, kills, servers))
    print("\n".join(report.lines()))


if __name__ == "__main__":
    main()
