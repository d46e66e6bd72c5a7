"""Whole suggestion lifecycles through the real engine: a Temporal dev server, a worker, SMTP.

    .venv/bin/python -m bench                     # the pure figures, then this (about 1–2 min)
    .venv/bin/python -m bench.lifecycles          # this part alone
    BENCH_CASES=200 BENCH_IN_FLIGHT=40 .venv/bin/python -m bench.lifecycles

Each phase starts its own headless dev server (temporary SQLite file, free loopback port), a
mail catcher, a fresh records database and the worker in this process, then drives BENCH_CASES
suggestions of the seed report (default 60, BENCH_IN_FLIGHT at a time, default 20) along the
happy path: submit → review register → assign → sign → record_contact → reply → review_reply
approve → evaluate 满意 → closed. The second phase adds a worker process (`jianyi worker`) on
the same task queue. Figures, not assertions; everything is stopped and removed at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import func, select
from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from jianyi import demo
from jianyi.devserver import DevServer, free_port
from jianyi.models.db import engine_for, session_for
from jianyi.models.policy import CST
from jianyi.models.tables import Outbox
from jianyi.service import Engine
from jianyi.settings import Settings
from jianyi.temporal import connect
from jianyi.worker import build_worker

YEARLY = (("district", 300), ("province", 3_000), ("national", 9_000))  # suggestions a year
TASK_QUEUE = "bench"
DRIVE_LIMIT = 120.0  # seconds for one phase's lifecycles; cases still open then are counted as errors
DRAIN_LIMIT = 60.0  # seconds for the closed cases' workflows to finish (their last deliveries)
HISTORY_SAMPLE = 10
PROBE = 3  # cases driven one at a time first: the worker warms up, and the unloaded latency shows
JIANYI = str(Path(sys.executable).parent / "jianyi")


def seed_cases() -> list[tuple[dict[str, Any], str]]:
    """(submission without session and number, lead unit) for each suggestion of the seed report."""
    out = []
    for submission, _, steps in demo.cases(datetime.now(CST)):
        lead = next(payload["lead_unit"] for action, _, _, payload in steps if action == "assign")
        out.append(({k: v for k, v in submission.items() if k != "number"}, lead))
    return out


@dataclass
class Phase:
    label: str
    workers: int
    cases: int
    wall: float = 0.0
    drain: float = 0.0
    submits: list[float] = field(default_factory=list)
    updates: list[float] = field(default_factory=list)
    by_action: dict[str, list[float]] = field(default_factory=dict)
    closed: int = 0
    errors: list[str] = field(default_factory=list)
    history: list[int] = field(default_factory=list)
    history_bytes: list[int] = field(default_factory=list)
    task_split: Counter[str] = field(default_factory=Counter)
    event_types: Counter[str] = field(default_factory=Counter)
    records_bytes: int = 0
    directory_bytes: int = 0  # the records DB with only the directory in it
    temporal_bytes: int = 0
    outbox: Counter[str] = field(default_factory=Counter)
    mails: int = 0
    sids: list[str] = field(default_factory=list)
    probe: list[float] = field(default_factory=list)  # update latencies with one case in flight
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds during the concurrent drive

    @property
    def cases_per_s(self) -> float:
        return self.closed / self.wall if self.wall else 0.0

    @property
    def per_case_bytes(self) -> float:
        return (self.records_bytes - self.directory_bytes) / max(len(self.sids), 1)

    @property
    def updates_per_s(self) -> float:
        return len(self.updates) / self.wall if self.wall else 0.0


def file_bytes(db: Path) -> int:
    """A SQLite file with its WAL (what is on disk, before any checkpoint)."""
    return sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())


def checkpointed_bytes(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return file_bytes(db)


async def lifecycle(
    engine: Engine, n: int, seed: tuple[dict[str, Any], str], today: str, phase: Phase, probe: bool = False
) -> None:
    submission, lead = seed
    data = {**submission, "session": demo.SESSION[0], "number": f"第{n}号"}
    deputy, unit = data["lead_deputy"], f"unit:{lead}"
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("review", demo.OFFICE, {"decision": "register"}),
        ("assign", demo.OFFICE, {"lead_unit": lead, "co_handlers": []}),
        ("sign", unit, {}),
        ("record_contact", unit, {"method": "座谈", "on": today, "note": "邀请代表座谈，听取意见"}),
        ("reply", unit, {"reply_class": "A", "text": "经研究，现答复如下：……", "signed_by": f"{lead}主要负责人", "commitments": []}),
        ("review_reply", demo.GOV, {"decision": "approve"}),
        ("evaluate", f"deputy:{deputy}", {"work": "满意", "result": "满意"}),
    ]
    sid = f"第{n}号"
    try:
        t = time.perf_counter()
        sid = await engine.submit(data, deputy)
        if not probe:
            phase.submits.append(time.perf_counter() - t)
        phase.sids.append(sid)
        case = None
        for action, spec, payload in steps:
            role, _, actor = spec.partition(":")
            t = time.perf_counter()
            case = await engine.act(sid, action, actor, role, payload)
            took = time.perf_counter() - t
            if probe:
                phase.probe.append(took)
            else:
                phase.updates.append(took)
                phase.by_action.setdefault(action, []).append(took)
        if case is not None and case.state == "closed":
            phase.closed += not probe
        else:
            phase.errors.append(f"{sid}: ended in {case.state if case else '?'}")
    except Exception as exc:  # a benchmark counts and shows failures, it does not stop at the first
        phase.errors.append(f"{sid}: {type(exc).__name__}: {exc}")


async def pollers(client: Client, queue: str = TASK_QUEUE) -> set[str]:
    answer = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return {p.identity for p in answer.pollers}


class CatcherProcess:
    """The SMTP catcher in a process of its own: it is the receiving mail system, not the worker, so
    its parsing does not count against the worker's figures (the skeleton has no receiver at all)."""

    CODE = ("import sys, threading; from pathlib import Path; from jianyi.mailcatcher import MailCatcher; "
            "MailCatcher(int(sys.argv[1]), maildir=Path(sys.argv[2])).start(); print('ready', flush=True); "
            "threading.Event().wait()")

    def __init__(self, maildir: Path) -> None:
        self.maildir, self.port = maildir, free_port()
        self.proc = subprocess.Popen([sys.executable, "-c", self.CODE, str(self.port), str(maildir)],
                                     stdout=subprocess.PIPE, start_new_session=True)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != b"ready":
            raise RuntimeError("the mail catcher did not start")

    @property
    def received(self) -> int:
        return len(list(self.maildir.glob("*.eml")))

    def stop(self) -> None:
        stop_process(self.proc)


def start_worker_process(settings: Settings, cwd: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIANYI_")}
    env.update(
        JIANYI_VAR_DIR=str(settings.var_dir),
        JIANYI_TEMPORAL_ADDRESS=settings.temporal_address,
        JIANYI_TASK_QUEUE=settings.task_queue,
        JIANYI_SMTP_PORT=str(settings.smtp_port),
        JIANYI_QUIET_HOURS="false",
        JIANYI_INSTANCE=settings.instance,
        JIANYI_WORKFLOW_CACHE=str(settings.workflow_cache),
    )
    # cwd: a temporary directory, so no .env of the checkout is read; own session: we stop it.
    with (cwd / "worker2.log").open("ab") as log:
        return subprocess.Popen([JIANYI, "worker"], env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return ""
    return "\n".join("    | " + line for line in path.read_text(errors="replace").splitlines()[-lines:])


async def run_phase(label: str, cases: int, in_flight: int, extra_worker: bool,
                    stand_ins: Callable[[Settings], dict[str, Any]] | None = None) -> Phase:
    """One phase; ``stand_ins(settings)`` gives the worker activities that replace its own (bench/skeleton.py)."""
    phase = Phase(label, 2 if extra_worker else 1, cases)
    with tempfile.TemporaryDirectory(prefix="jianyi-bench-") as tmpdir:
        tmp = Path(tmpdir)
        server = DevServer(tmp / "temporal.db", port=free_port(), ui_port=None)
        mail: CatcherProcess | None = None
        proc: subprocess.Popen[bytes] | None = None
        try:
            mail = CatcherProcess(tmp / "mail")
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]  (no .env of the checkout)
                var_dir=tmp / "var",
                database_url="",
                temporal_address=server.address,
                task_queue=TASK_QUEUE,
                smtp_port=mail.port,
                quiet_hours=False,
                instance="bench",
            )
            await server.start()
            demo.load_directory(settings)
            phase.directory_bytes = checkpointed_bytes(settings.var_dir / "jianyi.db")
            client = await connect(settings)
            with ThreadPoolExecutor(max_workers=16) as executor:
                async with build_worker(client, settings, executor, **(stand_ins(settings) if stand_ins else {})):
                    if extra_worker:
                        proc = start_worker_process(settings, tmp)
                        give_up = time.monotonic() + 30
                        while len(await pollers(client)) < 2:
                            if proc.poll() is not None or time.monotonic() > give_up:
                                raise RuntimeError("the second worker did not start polling:\n" + tail(tmp / "worker2.log"))
                            await asyncio.sleep(0.2)
                    await drive(client, settings, phase, in_flight, {"Temporal server": server.process, "worker process": proc})
                    await settle(client, phase)
            if proc is not None:
                stop_process(proc)
            with session_for(settings.db_url) as db:
                phase.outbox = Counter(dict(db.exec(select(Outbox.status, func.count()).group_by(Outbox.status)).all()))  # type: ignore[arg-type]
            engine_for(settings.db_url).dispose()
            phase.mails = mail.received
            phase.records_bytes = checkpointed_bytes(settings.var_dir / "jianyi.db")
            phase.temporal_bytes = file_bytes(server.db_file)  # the server is still running: as on disk
        except BaseException:
            print(f"  [{label}] failed; Temporal log tail:\n{tail(server.log_file)}", file=sys.stderr)
            raise
        finally:
            if proc is not None:
                stop_process(proc)
            if mail is not None:
                mail.stop()
            server.stop()
            engine_for.cache_clear()
    return phase


def cpu_seconds(proc: subprocess.Popen[bytes] | None) -> float | None:
    """User + system CPU of ``proc`` (None: this process), from /proc on Linux."""
    if proc is None:
        return time.process_time()
    try:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(
    client: Client, settings: Settings, phase: Phase, in_flight: int, others: dict[str, subprocess.Popen[bytes] | None]
) -> None:
    engine = Engine(client, settings)
    seeds = seed_cases()
    today = datetime.now(CST).date().isoformat()
    gate = asyncio.Semaphore(in_flight)

    async def one(n: int) -> None:
        async with gate:
            await lifecycle(engine, n, seeds[(n - 1) % len(seeds)], today, phase)

    for n in range(phase.cases + 1, phase.cases + PROBE + 1):
        await lifecycle(engine, n, seeds[(n - 1) % len(seeds)], today, phase, probe=True)
    procs = {"this process": None, **{k: v for k, v in others.items() if v is not None}}
    cpu_before = {k: cpu_seconds(v) for k, v in procs.items()}
    start = time.perf_counter()
    tasks = [asyncio.create_task(one(n)) for n in range(1, phase.cases + 1)]
    done, pending = await asyncio.wait(tasks, timeout=DRIVE_LIMIT)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    phase.wall = time.perf_counter() - start
    for name, proc in procs.items():
        before, after = cpu_before[name], cpu_seconds(proc)
        if before is not None and after is not None:
            phase.cpu[name] = after - before
    if pending:
        phase.errors.append(f"{len(pending)} cases not finished within {DRIVE_LIMIT:.0f} s (cancelled)")


async def settle(client: Client, phase: Phase) -> None:
    """Wait for the workflows to finish (a closed case still sends its last notices), then sample."""
    handles = [client.get_workflow_handle(sid) for sid in phase.sids]
    start = time.perf_counter()
    try:
        results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles), return_exceptions=True), DRAIN_LIMIT)
        failed = [f"{h.id}: {r!r}" for h, r in zip(handles, results, strict=True) if isinstance(r, BaseException)]
        phase.errors += [f"workflow did not complete: {f}" for f in failed]
    except TimeoutError:
        phase.errors.append(f"workflows still running {DRAIN_LIMIT:.0f} s after the last action")
    phase.drain = time.perf_counter() - start
    step = max(1, len(handles) // HISTORY_SAMPLE)
    for handle in handles[::step][:HISTORY_SAMPLE]:
        history = await handle.fetch_history()
        phase.history.append(len(history.events))
        phase.history_bytes.append(sum(e.ByteSize() for e in history.events))
        for e in history.events:
            phase.event_types[EventType.Name(e.event_type).removeprefix("EVENT_TYPE_")] += 1
            if e.HasField("workflow_task_completed_event_attributes"):
                identity = e.workflow_task_completed_event_attributes.identity
                phase.task_split["this process" if identity == client.identity else "worker process"] += 1


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else (values[0] if values else 0.0)


def report(p: Phase, in_flight: int) -> None:
    print(f"  {p.label}: {p.closed}/{p.cases} cases closed in {p.wall:.1f} s "
          f"({in_flight} in flight) → {p.cases_per_s:.2f} cases/s, {p.updates_per_s:.1f} updates/s")
    if p.updates:
        print(f"    update latency: mean {ms(statistics.fmean(p.updates))}, p95 {ms(p95(p.updates))}, "
              f"max {ms(max(p.updates))} ({len(p.updates):,} updates); "
              f"submit mean {ms(statistics.fmean(p.submits))}, max {ms(max(p.submits))}")
    if p.by_action:
        print("    mean by action: " + ", ".join(f"{a} {ms(statistics.fmean(v))}" for a, v in p.by_action.items()))
    if p.probe:
        print(f"    one case at a time (first {PROBE} cases, warm-up): update latency mean {ms(statistics.fmean(p.probe))}, "
              f"max {ms(max(p.probe))}")
    if p.cpu:
        cores = os.cpu_count() or 1
        busy = sum(p.cpu.values()) / p.wall / cores
        print("    CPU during the run: " + ", ".join(f"{k} {v / p.wall:.0%}" for k, v in p.cpu.items())
              + f" of one core → {busy:.0%} of the machine's {cores} cores")
    if p.history:
        print(f"    history: {statistics.fmean(p.history):.0f} events per case "
              f"(sample of {len(p.history)}: {min(p.history)}–{max(p.history)}) for 8 human actions; per case: "
              + ", ".join(f"{k.lower()} {v / len(p.history):.1f}" for k, v in p.event_types.most_common(6))
              + f"; {statistics.fmean(p.history_bytes) / 2**10:.1f} KiB of history per case")
    bad = {k: v for k, v in p.event_types.items() if "FAILED" in k or "TIMED_OUT" in k}
    if bad:
        print("    failed / timed-out events in the sample: " + ", ".join(f"{k.lower()} {v}" for k, v in sorted(bad.items())))
    if p.workers > 1 and p.task_split:
        total = sum(p.task_split.values())
        print("    workflow tasks on the sample: " + ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(p.task_split.items())))
    created = sum(p.outbox.values())
    print(f"    {len(p.sids)} cases with the warm-up; outbox: {p.outbox.get('sent', 0)} sent of {created} created "
          f"({', '.join(f'{k} {v}' for k, v in sorted(p.outbox.items()))}); {p.mails} mails received over SMTP; "
          f"workflows finished {p.drain:.1f} s after the last action")
    print(f"    records DB {p.records_bytes / 2**10:,.0f} KiB ({p.directory_bytes / 2**10:,.0f} KiB of it before the first case; "
          f"{p.per_case_bytes / 2**10:.1f} KiB/case); "
          f"Temporal SQLite {p.temporal_bytes / 2**20:.1f} MiB on disk with WAL")
    if p.errors:
        print(f"    {len(p.errors)} errors, first: " + " | ".join(p.errors[:3]))


def project(p: Phase) -> None:
    if not p.closed:
        return
    per_case = p.per_case_bytes
    history = statistics.fmean(p.history) if p.history else 0
    for name, volume in YEARLY:
        print(f"  → {name} ({volume:,}/year): {volume / p.cases_per_s / 60:,.1f} min of lifecycles back to back, "
              f"records DB ≈ {volume * per_case / 2**20:,.0f} MiB, ≈ {volume * history:,.0f} history events")


async def bench_lifecycles(cases: int, in_flight: int) -> dict[str, Phase]:
    print(f"End to end (Temporal dev server + SQLite, in-process worker, SMTP catcher; {cases} cases, "
          f"{os.cpu_count()} CPUs)")
    one = await run_phase("1 worker ", cases, in_flight, extra_worker=False)
    report(one, in_flight)
    project(one)
    two = await run_phase("2 workers", cases, in_flight, extra_worker=True)
    report(two, in_flight)
    if one.cases_per_s:
        print(f"  → 2 workers / 1 worker: {two.cases_per_s / one.cases_per_s:.2f}× cases/s, "
              f"p95 update latency {p95(two.updates) / p95(one.updates) if one.updates and two.updates else 0:.2f}×")
    return {"one": one, "two": two}


def settings_from_env(quick: bool = False) -> tuple[int, int]:
    cases = int(os.environ.get("BENCH_CASES", "20" if quick else "60"))
    in_flight = int(os.environ.get("BENCH_IN_FLIGHT", "20"))
    return max(cases, 1), max(in_flight, 1)


def main(argv: list[str]) -> int:
    t0 = time.perf_counter()
    asyncio.run(bench_lifecycles(*settings_from_env("--quick" in argv)))
    print(f"\ndone in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
