"""A year of one session, simulated (issue 10 §6): every suggestion from 交办 to its closing on the
time-skipping test server, every reminder, overdue notice, monthly digest and ledger request
delivered over SMTP to a local catcher.

    .venv/bin/python -m bench.year                 # the national congress: 9,000 suggestions
    BENCH_YEAR_CASES=300 .venv/bin/python -m bench.year   # a district

The mix follows the seed reports: about 70 % session and 30 % inter-session suggestions, replies
spread over the three months, 5 % late, 3 % unsatisfied (re-handled once), 10 % B/C answers
with a commitment, 2 % under key supervision, 2 % deputies who never evaluate. Each notice the
policy implies is counted from the plan (``Expected``) and compared with what the agenda fired
and the outbox delivered; tests/test_year.py runs a district year and asserts the two agree.

Prints wall time, events per case (a sample), notices per kind and the workers' peak RSS. The
workers run in processes of their own, as deployed: two on the two cores, or one per server when
there are several (BENCH_YEAR_WORKERS), each keeping up to its share of the cases and a fifth more
(BENCH_YEAR_CACHE; JIANYI_WORKFLOW_CACHE in production), so that no reminder replays a whole history. In the test the worker shares the
test's process.

The national year runs on three time-skipping servers (BENCH_YEAR_SHARDS), each holding a third
of the cases, as Temporal's own history shards would; the clock of every one is skipped to the same
moments, and all share one records database. One server would be the year's bottleneck, and more so
the longer it runs: it keeps every lock and unlock of its clock in a list "for debugging purposes
only" and, at each timer it fires, searches that list from its first entry (sdk-java's
SelfAdvancingTimerImpl, ``lockEvents``), so the cost of a timer grows with all the run has done.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import func, select
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.client import Client
from temporalio.service import RPCError

from jianyi import directory
from jianyi.models.case import CaseState
from jianyi.models.db import session_for
from jianyi.models.policy import ComputedDeadline, china_day
from jianyi.models.tables import Outbox, Reminder
from jianyi.scheduler import JOBS, period_name, period_start, start_digest, trigger_for
from jianyi.service import Engine
from jianyi.settings import Settings

CST = ZoneInfo("Asia/Shanghai")
CONGRESS, GOV = ("congress_office", "区人大常委会代表工作委员会"), ("government_office", "区政府办公室")
SUPERVISOR = "王琨"
AGENDA_KINDS = ("deadline_reminder", "overdue", "overdue_repeat", "overdue_escalation", "sign_overdue", "co_opinion_overdue",
                "assign_overdue", "evaluation_reminder", "commitment_due", "commitment_missed", "key_reminder", "rectify_overdue",
                "expire_evaluation")
DIGEST_KINDS = ("monthly_digest", "ledger_request")
SKIP_TIMEOUT = timedelta(minutes=10)  # one skip of the clock, however many timers fire on the way
# How long a simulated clerk waits for an answer (the setting's default is 20 s): right after a skip the
# workers may still be working through thousands of reminders that fell due in a moment of simulated time,
# which a real year spreads over its months.
CLERK_PATIENCE = 120


@dataclass
class Plan:
    """One suggestion's course: what happens to it, and when (CST 10:00 of its days)."""

    n: int
    unit: str
    deputy: str
    period: str  # 大会期间 / 闭会期间
    course: str  # on_time / late / unsatisfied / commitment / key / silent
    reply_day: int = 0  # days after 交办 (late: days after the last day of the reply deadline)
    sid: str = ""
    shard: int = 0  # the time-skipping server (and its workers) that runs this case
    assigned_at: datetime | None = None
    replied_at: datetime | None = None  # the last reply's approval (when it reached the deputy)
    closed_at: datetime | None = None
    commitment_open: tuple[datetime, datetime] | None = None


@dataclass
class Expected:
    """What the policy implies: the agenda's firings per kind and the digests per kind."""

    fired: Counter[str] = field(default_factory=Counter)
    digests: Counter[str] = field(default_factory=Counter)


@dataclass
class Result:
    cases: int
    wall: float = 0.0
    closed: int = 0
    fired: Counter[str] = field(default_factory=Counter)
    outbox: Counter[str] = field(default_factory=Counter)
    status: Counter[str] = field(default_factory=Counter)
    mails: int = 0
    events_per_case: float = 0.0
    peak_rss_mib: float = 0.0
    expected: Expected = field(default_factory=Expected)
    errors: list[str] = field(default_factory=list)
    workers: int = 1
    cache: int = 0
    shards: int = 1
    worker_rss_mib: list[float] = field(default_factory=list)

    @property
    def workers_text(self) -> str:
        """Each worker process's peak RSS (none when the worker ran in this process)."""
        if not self.worker_rss_mib:
            return ""
        each = " / ".join(f"{r:,.0f}" for r in self.worker_rss_mib)
        servers = f" on {self.shards} time-skipping servers" if self.shards > 1 else ""
        return f" ({self.workers} workers{servers}, each keeping up to {self.cache:,} cases: {each} MiB)"

    def lines(self) -> list[str]:
        kinds = sorted(set(self.outbox) | set(self.expected.digests) | set(self.fired))
        out = [f"  {self.cases:,} suggestions: {self.closed:,} closed in {self.wall / 60:.1f} min wall "
               f"({self.cases / self.wall:.1f} cases/s); {self.events_per_case:.0f} history events per case (sample); "
               f"peak RSS {self.peak_rss_mib:,.0f} MiB{self.workers_text}",
               f"  outbox: {dict(self.status)}; {self.mails:,} mails received over SMTP",
               "  notices per kind (fired by the agenda / expected from the policy; outbox rows):"]
        for k in kinds:
            want = self.expected.fired.get(k, self.expected.digests.get(k, 0))
            got = self.fired.get(k, self.outbox.get(k, 0) if k in DIGEST_KINDS else 0)
            mark = "" if got == want or k not in (*AGENDA_KINDS, *DIGEST_KINDS) else "   ← differs"
            out.append(f"    {k:<20} {got:>7,} / {want:>7,}   rows {self.outbox.get(k, 0):>7,}{mark}")
        out += [f"  error: {e}" for e in self.errors[:10]]
        return out


def plans(cases: int, units: list[str], deputies: list[str], seed: int = 7) -> list[Plan]:
    rng = random.Random(seed)
    out = []
    for n in range(1, cases + 1):
        r = rng.random()
        course = ("key" if r < 0.02 else "late" if r < 0.07 else "unsatisfied" if r < 0.10 else "commitment" if r < 0.20
                  else "silent" if r < 0.22 else "on_time")
        out.append(Plan(n, units[n % len(units)], deputies[n % len(deputies)], "闭会期间" if rng.random() < 0.3 else "大会期间",
                        course, reply_day=9 if course == "late" else rng.randint(10, 80)))
    return out


def at10(day: Any) -> datetime:
    return datetime.combine(day, datetime.min.time(), CST).replace(hour=10)


@dataclass
class Shard:
    """One time-skipping server and the engine that acts on its cases."""

    env: Any
    engine: Engine


class Year:
    """Drives the plans on the time-skipping servers: a calendar of moments, each a batch of steps."""

    def __init__(self, shards: list[Shard], settings: Settings, in_flight: int = 64) -> None:
        self.shards, self.settings = shards, settings
        self.gate = asyncio.Semaphore(in_flight)
        self.agenda: dict[datetime, list[Any]] = {}
        self.expected = Expected()
        self.errors: list[str] = []

    def at(self, moment: datetime, step: Any) -> None:
        self.agenda.setdefault(moment, []).append(step)

    async def act(self, p: Plan, action: str, who: tuple[str, str], **payload: Any) -> CaseState:
        return await self.shards[p.shard].engine.act(p.sid, action, who[1], who[0], payload)

    async def now(self, p: Plan) -> datetime:
        return await self.shards[p.shard].env.get_current_time()

    async def run(self, all_plans: list[Plan], start: datetime, progress: bool = False) -> None:
        for p in all_plans:
            self.at(start, lambda p=p: self.begin(p, start))
        began, week = time.perf_counter(), -1
        while self.agenda:
            moment = min(self.agenda)
            steps = self.agenda.pop(moment)
            await self.skip_to(moment)
            await asyncio.gather(*(self.guarded(step) for step in steps))
            if progress and (moment - start).days // 7 != week:  # a line a simulated week
                week = (moment - start).days // 7
                closed = sum(1 for p in all_plans if p.closed_at and p.closed_at <= moment)
                print(f"    {china_day(moment)}: {closed:,} of {len(all_plans):,} closed, {time.perf_counter() - began:,.0f} s",
                      flush=True)

    async def guarded(self, step: Any) -> None:
        async with self.gate:
            try:
                await step()
            except Exception as exc:  # noqa: BLE001  (a benchmark counts failures; the test asserts none)
                self.errors.append(f"{type(exc).__name__}: {exc}")

    async def skip_to(self, moment: datetime) -> None:
        """Skips every server's clock to ``moment``."""
        await asyncio.gather(*(self.skip(shard.env, moment) for shard in self.shards))

    @staticmethod
    async def skip(env: Any, moment: datetime) -> None:
        """Skips one server's clock to ``moment``. A skip over a busy week (thousands of reminders
        firing) outlasts the client's default RPC timeout, so the sleep is asked with a long one;
        a dropped connection or a timeout is asked again from wherever the clock got to."""
        for attempt in range(5):
            try:
                now = await env.get_current_time()
                if moment > now:
                    request = SleepRequest()
                    request.duration.FromTimedelta(moment - now)  # as env.sleep builds it; env.sleep takes no timeout
                    await env.client.test_service.unlock_time_skipping_with_sleep(request, timeout=SKIP_TIMEOUT)
                return
            except RPCError as exc:
                print(f"    skip to {moment:%Y-%m-%d %H:%M}, attempt {attempt + 1}: {exc}", file=sys.stderr, flush=True)
                await asyncio.sleep(1)
        raise RuntimeError(f"the time-skipping server did not reach {moment} after five attempts")

    # -- a case's course ---------------------------------------------------------------------------
    async def begin(self, p: Plan, start: datetime) -> None:
        data = {"session": self.settings.task_queue, "number": f"第{p.n}号", "title": f"关于第{p.n}项民生事项的建议",
                "lead_deputy": p.deputy, "period": p.period, "category": "城乡建设"}
        p.sid = await self.shards[p.shard].engine.submit(data, p.deputy)
        await self.act(p, "review", CONGRESS, decision="register")
        case = await self.act(p, "assign", CONGRESS, lead_unit=p.unit, co_handlers=[])
        p.assigned_at = case.assigned_at
        if p.course == "key":
            case = await self.act(p, "mark_key", CONGRESS, key=True, supervisor=SUPERVISOR)
        self.at(start + timedelta(days=1), lambda: self.act(p, "sign", ("unit", p.unit)))
        deadline = case.handling_deadline
        assert deadline is not None
        reply_on = deadline.last_day + timedelta(days=p.reply_day) if p.course == "late" else china_day(start) + timedelta(days=p.reply_day)
        self.at(at10(reply_on), lambda: self.reply(p, deadline, case.key_since))

    async def reply(self, p: Plan, deadline: ComputedDeadline, key_since: datetime | None, round_: int = 1) -> None:
        now = await self.now(p)
        self.expect_handling(deadline, now, p.course == "late")
        if key_since is not None:  # every two weeks while handled: the ones before this reply
            step = timedelta(days=14)
            self.expected.fired["key_reminder"] += sum(1 for k in range(1, 60) if key_since + step * k < now)
        await self.act(p, "record_contact", ("unit", p.unit), method="电话", on=china_day(now).isoformat())
        commitments = []
        if p.course == "commitment":
            promised = china_day(now) + timedelta(days=60)
            commitments = [{"text": "年内完成改造", "promised_date": promised.isoformat()}]
        await self.act(p, "reply", ("unit", p.unit), reply_class="B" if commitments else "A", text="经研究，答复如下：已办理。",
                       signed_by="局长 张三", commitments=commitments)
        case = await self.act(p, "review_reply", GOV, decision="approve")
        p.replied_at = now
        if p.course == "key":
            await self.evaluate(p, "满意")
        elif p.course == "silent":  # never evaluates: reminded once, then closed as 未表态
            self.expected.fired["evaluation_reminder"] += 1
            self.expected.fired["expire_evaluation"] += 1
            p.closed_at = case.deadlines["evaluation"].due_at
        else:
            unhappy = p.course == "unsatisfied" and round_ == 1
            self.at(now + timedelta(days=3), lambda: self.evaluate(p, "不满意" if unhappy else "满意"))
        if commitments:
            fulfil_at = at10(date_of(commitments[0]["promised_date"]))
            p.commitment_open = (now, fulfil_at)
            self.expected.fired["commitment_due"] += 1  # reminded at 09:00 of the promised day, fulfilled at 10:00
            self.at(fulfil_at, lambda: self.fulfil(p))

    async def evaluate(self, p: Plan, result: str) -> None:
        comment = "问题未解决" if result == "不满意" else ""
        case = await self.act(p, "evaluate", ("deputy", p.deputy), work="满意", result=result, comment=comment)
        now = await self.now(p)
        if result == "不满意":
            deadline = case.handling_deadline
            assert deadline is not None
            self.at(at10(china_day(now) + timedelta(days=10)), lambda: self.reply(p, deadline, None, round_=2))
        elif p.course != "commitment":
            p.closed_at = now

    async def fulfil(self, p: Plan) -> None:
        await self.act(p, "fulfil_commitment", ("unit", p.unit), number=1, text="已按期完成改造")
        p.closed_at = await self.now(p)

    def expect_handling(self, deadline: ComputedDeadline, reply_at: datetime, late: bool) -> None:
        """The policy's reminders before the deadline that came before this reply; a late reply's notices."""
        self.expected.fired["deadline_reminder"] += sum(1 for t in deadline.reminders if t < reply_at)
        if late:  # the first overdue notice at the deadline, one repeat a week later, answered before the escalation
            self.expected.fired["overdue"] += 1
            self.expected.fired["overdue_repeat"] += 1

    # -- the scheduler's digests, at the moments its triggers give -----------------------------------------
    def digests(self, all_plans: list[Plan], start: datetime, end: datetime) -> None:
        client = self.shards[0].engine.client  # the scheduler's digests: one run per unit and period, on the first server
        for job, kind in (("monthly", "monthly_digest"), ("ledger", "ledger_request")):
            spec, trigger, fire = JOBS[job], trigger_for(JOBS[job], self.settings), None
            fire = trigger.get_next_fire_time(None, start)
            while fire is not None and fire < end:
                period = period_name(spec, period_start(spec, fire.astimezone(CST).date()))
                self.at(fire, lambda job=job, period=period: start_digest(client, self.settings, job, period))
                self.at(fire + timedelta(minutes=1), lambda fire=fire, kind=kind: self.expect_digest(all_plans, kind, fire))
                fire = trigger.get_next_fire_time(fire, fire + timedelta(minutes=1))

    def expect_digest(self, all_plans: list[Plan], kind: str, fire: datetime) -> Any:
        """Units with open inter-session suggestions (monthly) or open commitments (ledger) at ``fire``."""
        if kind == "monthly_digest":
            units = {p.unit for p in all_plans if p.period == "闭会期间" and p.assigned_at and p.assigned_at <= fire
                     and (p.closed_at is None or p.closed_at > fire)}
        else:
            units = {p.unit for p in all_plans if p.commitment_open and p.commitment_open[0] <= fire < p.commitment_open[1]}
        self.expected.digests[kind] += len(units)
        return asyncio.sleep(0)


def date_of(text: str) -> Any:
    from datetime import date

    return date.fromisoformat(text)


def seed_directory(settings: Settings, units: list[str], deputies: list[str]) -> None:
    url = settings.db_url
    directory.add_session(url, settings.task_queue, "模拟年度会次")
    offices = [settings.congress_office, settings.government_office, settings.supervision_office]
    for name in [*units, *offices]:
        directory.add_unit(url, name, f"{abs(hash(name)) % 10**8}@unit.example")
    for name in deputies:
        directory.add_deputy(url, name, email=f"{abs(hash(name)) % 10**8}@deputy.example")
    directory.add_supervisor(url, SUPERVISOR, "副主任", email="wangkun@supervisor.example")


async def simulate(shards: list[Shard], settings: Settings, cases: int, units: int = 40, in_flight: int = 64,
                   progress: bool = False) -> Result:
    """Runs a year of ``cases`` suggestions over ``shards`` (time-skipping environments, each with a worker
    already running); case n runs on shard n mod len(shards)."""
    unit_names = [f"第{k}承办单位" for k in range(1, units + 1)]
    deputies = [f"代表{k:03d}" for k in range(1, max(cases // 3, 10) + 1)]
    seed_directory(settings, unit_names, deputies)
    all_plans = plans(cases, unit_names, deputies)
    for p in all_plans:
        p.shard = p.n % len(shards)
    year = Year(shards, settings, in_flight)
    await year.skip_to(max([await s.env.get_current_time() for s in shards]))  # the servers' clocks agree from the start
    now = (await shards[0].env.get_current_time()).astimezone(CST)
    start = at10(now.date() + timedelta(days=7 - now.weekday()))  # next Monday, 10:00
    year.digests(all_plans, start, start + timedelta(days=300))
    t0 = time.perf_counter()
    await year.run(all_plans, start, progress)
    last = max((p.closed_at for p in all_plans if p.closed_at), default=start)
    await year.skip_to(last + timedelta(days=1))
    result = Result(cases, wall=time.perf_counter() - t0, expected=year.expected, errors=year.errors)
    await collect([s.engine.client for s in shards], settings, all_plans, result)
    return result


async def collect(clients: list[Client], settings: Settings, all_plans: list[Plan], result: Result) -> None:
    with session_for(settings.db_url) as db:
        result.fired = Counter(dict(db.exec(select(Reminder.kind, func.count()).where(Reminder.skipped == False).group_by(Reminder.kind)).all()))  # noqa: E712
        result.outbox = Counter(dict(db.exec(select(Outbox.kind, func.count()).group_by(Outbox.kind)).all()))
        result.status = Counter(dict(db.exec(select(Outbox.status, func.count()).group_by(Outbox.status)).all()))
    gate = asyncio.Semaphore(64)

    async def completed(p: Plan) -> bool:
        async with gate:
            d = await clients[p.shard].get_workflow_handle(p.sid).describe()
        return d.status is not None and d.status.name == "COMPLETED"

    result.closed = sum(await asyncio.gather(*(completed(p) for p in all_plans if p.sid)))
    sample = [p for p in all_plans[:: max(len(all_plans) // 20, 1)] if p.sid]
    lengths = [len((await clients[p.shard].get_workflow_handle(p.sid).fetch_history()).events) for p in sample]
    result.events_per_case = sum(lengths) / max(len(lengths), 1)
    result.peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # in-process worker: driver + worker


def worker_layout(cases: int) -> tuple[int, int, int]:
    """(time-skipping servers, worker processes on each, cases each worker keeps in memory): as README's
    production section sizes them. A server for every 3,000 cases (one keeps the district and the
    province fast, three the nation); two workers on the two cores for one server, else one per server;
    each worker keeps every open case it serves, so that a timer or a step never replays a whole history
    (with the default cache of 1,000 the national year's worker kept rebuilding cases)."""
    shards = int(os.environ.get("BENCH_YEAR_SHARDS", str(max(1, round(cases / 3_000)))))
    workers = int(os.environ.get("BENCH_YEAR_WORKERS", "2" if shards == 1 else "1"))
    per_worker = cases // (shards * workers)
    cache = int(os.environ.get("BENCH_YEAR_CACHE", str(max(per_worker + per_worker // 5, 100))))
    return shards, workers, cache


async def main(cases: int, progress: bool = False) -> Result:
    """The year with the workers in processes of their own (their peak RSS measured), as deployed."""
    import tempfile
    from contextlib import AsyncExitStack

    from bench.lifecycles import CatcherProcess, start_worker_process, stop_process, tail
    from jianyi.models.db import migrate_database
    from jianyi.temporal import time_skipping_environment

    count, each, cache = worker_layout(cases)
    with tempfile.TemporaryDirectory(prefix="jianyi-year-") as tmp:
        mail, workers = CatcherProcess(Path(tmp) / "mail"), []
        try:
            async with AsyncExitStack() as stack:
                settings = Settings(_env_file=None, var_dir=Path(tmp) / "var", database_url="", task_queue="year",  # type: ignore[call-arg]
                                    smtp_port=mail.port, quiet_hours=False, instance="year", workflow_cache=cache,
                                    action_timeout_seconds=CLERK_PATIENCE)
                migrate_database(settings.db_url)
                shards = []
                for _ in range(count):
                    env = await stack.enter_async_context(await time_skipping_environment())
                    own = settings.model_copy(update={"temporal_address": env.client.service_client.config.target_host})
                    # the test server answers no DescribeTaskQueue: the first updates wait for the workers (action_timeout)
                    workers += [start_worker_process(own, Path(tmp)) for _ in range(each)]
                    shards.append(Shard(env, Engine(env.client, own)))
                result = await simulate(shards, settings, cases, progress=progress)
                if any(w.poll() is not None for w in workers):
                    raise RuntimeError("a worker stopped:\n" + tail(Path(tmp) / "worker2.log"))
                result.worker_rss_mib = [peak_rss_mib(w.pid) for w in workers]
                result.peak_rss_mib = max(result.worker_rss_mib)
                result.workers, result.cache, result.shards = len(workers), cache, count
                for w in workers:
                    stop_process(w)
            result.mails = mail.received
        finally:
            for w in workers:
                stop_process(w)
            mail.stop()
    return result


def peak_rss_mib(pid: int) -> float:
    """A process's peak resident set (VmHWM), from /proc on Linux."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


if __name__ == "__main__":
    n = int(os.environ.get("BENCH_YEAR_CASES", "9000"))
    print(f"A year of {n:,} suggestions on the time-skipping server (bench/year.py), {os.cpu_count()} CPUs")
    r = asyncio.run(main(n, progress=True))
    print("\n".join(r.lines()))
    sys.exit(0)
