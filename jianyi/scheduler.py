"""Calendar jobs (APScheduler 3): 月度督办, 承诺事项台账 and the daily stuck-case digest.

Each fire only starts a DigestWorkflow whose id is fixed by its period (``digest-monthly-2025-03``)
with a reuse policy that refuses duplicates: two scheduler processes, a late catch-up after
downtime, or a re-fire never send twice. Jobs live in the records database (SQLAlchemy job store),
are added only when missing (start paused, add if absent, resume), coalesce, and may run days late.
Times come from settings as cron expressions in the settings' time zone; a job whose day must be
a working day (the first working day of the month, any working day) keeps only those fires.

Run alone with ``python -m jianyi.scheduler`` or ``jianyi scheduler``; ``jianyi up`` starts it too.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from jianyi.models.calendar import WorkCalendar
from jianyi.settings import SettingError, Settings, get_settings
from jianyi.workflows.digest import DigestInput, DigestWorkflow


@dataclass(frozen=True)
class JobSpec:
    name: str
    label: str
    setting: str  # the Settings field holding its cron expression
    only: str  # first_workday_of_month / workday
    months: int  # the period's length in months (0: a day)
    id_prefix: str


JOBS: dict[str, JobSpec] = {
    "monthly": JobSpec("monthly", "月度督办（闭会期间建议）", "schedule_monthly", "first_workday_of_month", 1, "digest-monthly"),
    "ledger": JobSpec("ledger", "承诺事项台账", "schedule_ledger", "first_workday_of_month", 2, "ledger"),
    "daily": JobSpec("daily", "每日卡滞件汇总", "schedule_daily", "workday", 0, "digest-daily"),
}

# The working-day calendar the triggers consult; refreshed from the database when the scheduler starts.
_calendar = WorkCalendar()
_runtime: dict[str, Any] = {}


def set_calendar(calendar: WorkCalendar) -> None:
    global _calendar
    _calendar = calendar


class WorkdayCronTrigger(BaseTrigger):
    """A cron trigger whose fires are kept only on working days, or only on a month's first working day."""

    def __init__(self, crontab: str, timezone: str, only: str) -> None:
        self.crontab, self.timezone, self.only = crontab, timezone, only
        self.cron = CronTrigger.from_crontab(crontab, timezone=ZoneInfo(timezone))

    def keeps(self, moment: datetime) -> bool:
        day = moment.astimezone(ZoneInfo(self.timezone)).date()
        if self.only == "workday":
            return _calendar.is_workday(day)
        return day == _calendar.first_workday_of_month(day.year, day.month)

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        moment = self.cron.get_next_fire_time(previous_fire_time, now)
        for _ in range(3000):  # a cron that never meets a kept day ends after ~8 years of days
            if moment is None or self.keeps(moment):
                return moment
            moment = self.cron.get_next_fire_time(moment, moment + timedelta(seconds=1))
        return None

    def __getstate__(self) -> dict[str, Any]:
        return {"version": 1, "crontab": self.crontab, "timezone": self.timezone, "only": self.only}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["crontab"], state["timezone"], state["only"])  # type: ignore[misc]

    def __str__(self) -> str:
        return f"workday-cron[{self.crontab} {self.timezone} {self.only}]"

    def __repr__(self) -> str:
        return f"<WorkdayCronTrigger {self.crontab!r} {self.timezone!r} {self.only!r}>"


def trigger_for(spec: JobSpec, settings: Settings) -> WorkdayCronTrigger:
    return WorkdayCronTrigger(getattr(settings, spec.setting), settings.timezone, spec.only)


def validate_schedule(settings: Settings) -> None:
    """Stop start-up with a message naming the setting when a cron expression or time zone is wrong."""
    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingError("timezone", f"时区「{settings.timezone}」无效，应如 Asia/Shanghai") from None
    for spec in JOBS.values():
        expr = getattr(settings, spec.setting)
        try:
            CronTrigger.from_crontab(expr, timezone=ZoneInfo(settings.timezone))
        except ValueError as exc:
            raise SettingError(spec.setting, f"{spec.label}的 cron 表达式「{expr}」无效（分 时 日 月 周）：{exc}") from None
    for name in ("work_start", "work_end"):
        try:
            datetime.strptime(getattr(settings, name), "%H:%M")
        except ValueError:
            raise SettingError(name, f"工作时间「{getattr(settings, name)}」无效，应为 HH:MM") from None
    if datetime.strptime(settings.work_start, "%H:%M") >= datetime.strptime(settings.work_end, "%H:%M"):
        raise SettingError("work_end", f"下班时间「{settings.work_end}」应晚于上班时间 work_start「{settings.work_start}」")


# -- periods -----------------------------------------------------------------------------------------
def period_start(spec: JobSpec, day: date) -> date:
    if spec.months == 0:
        return day
    month0 = (day.month - 1) // spec.months * spec.months
    return date(day.year, month0 + 1, 1)


def previous_start(spec: JobSpec, start: date) -> date:
    if spec.months == 0:
        return start - timedelta(days=1)
    index = start.year * 12 + start.month - 1 - spec.months
    return date(index // 12, index % 12 + 1, 1)


def period_name(spec: JobSpec, start: date) -> str:
    return start.isoformat() if spec.months == 0 else f"{start.year}-{start.month:02d}"


def current_period(spec: JobSpec, trigger: WorkdayCronTrigger, now: datetime) -> str | None:
    """The period of the latest fire at or before ``now`` (a late catch-up belongs to its own period)."""
    tz = ZoneInfo(trigger.timezone)
    start = period_start(spec, now.astimezone(tz).date())
    for _ in range(400):
        begin = datetime.combine(start, datetime.min.time(), tz)
        fire = trigger.get_next_fire_time(None, begin)
        if fire is not None and fire <= now and period_start(spec, fire.astimezone(tz).date()) == start:
            return period_name(spec, start)
        start = previous_start(spec, start)
    return None


def parse_period(spec: JobSpec, text: str) -> str:
    """A period given by hand (``2025-03`` or ``2025-03-04``), floored to the job's boundary."""
    try:
        day = date.fromisoformat(text if spec.months == 0 else f"{text}-01")
    except ValueError:
        shape = "YYYY-MM-DD" if spec.months == 0 else "YYYY-MM"
        raise ValueError(f"期次「{text}」格式错误，应为 {shape}") from None
    return period_name(spec, period_start(spec, day))


def workflow_id(spec: JobSpec, period: str, instance: str = "") -> str:
    return f"{instance + '-' if instance else ''}{spec.id_prefix}-{period}"


# -- firing ------------------------------------------------------------------------------------------
async def start_digest(client: Client, settings: Settings, job: str, period: str, immediate: bool = False) -> bool:
    """Start the period's digest workflow; False when that period was already started (nothing sent twice)."""
    spec = JOBS[job]
    try:
        await client.start_workflow(
            DigestWorkflow.run,
            DigestInput(kind=job, period=period, immediate=immediate),
            id=workflow_id(spec, period, settings.instance),
            task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


async def run_job(job: str) -> str:
    """What APScheduler calls (module level, so the job store can name it)."""
    client: Client = _runtime["client"]
    settings: Settings = _runtime["settings"]
    spec = JOBS[job]
    period = current_period(spec, trigger_for(spec, settings), datetime.now(ZoneInfo(settings.timezone)))
    if period is None:
        return "no period"
    started = await start_digest(client, settings, job, period)
    return f"{workflow_id(spec, period, settings.instance)} {'started' if started else 'already sent'}"


def build_scheduler(settings: Settings) -> AsyncIOScheduler:
    store = SQLAlchemyJobStore(url=settings.db_url, tablename="scheduler_jobs")
    return AsyncIOScheduler(
        jobstores={"default": store, "local": MemoryJobStore()},  # local: this process's own upkeep, never shared
        timezone=ZoneInfo(settings.timezone),
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": int(timedelta(days=settings.misfire_grace_days).total_seconds()),
        },
    )


def ensure_jobs(scheduler: AsyncIOScheduler, settings: Settings) -> None:
    """Add each job if it is missing; a job whose time changed in settings gets the new trigger."""
    for spec in JOBS.values():
        trigger = trigger_for(spec, settings)
        job = scheduler.get_job(spec.name)
        if job is None:
            scheduler.add_job(run_job, trigger, args=[spec.name], id=spec.name, name=spec.label, replace_existing=False)
        elif str(job.trigger) != str(trigger):
            scheduler.reschedule_job(spec.name, trigger=trigger)


async def start_scheduler(client: Client, settings: Settings, calendar: WorkCalendar | None = None) -> AsyncIOScheduler:
    validate_schedule(settings)
    set_calendar(calendar or _load_calendar(settings))
    _runtime.update(client=client, settings=settings)
    scheduler = build_scheduler(settings)
    scheduler.start(paused=True)
    ensure_jobs(scheduler, settings)
    # a calendar loaded while the scheduler runs (`jianyi admin calendar-load`) moves the next fires within the hour
    scheduler.add_job(refresh_calendar, "interval", args=[scheduler, settings], hours=1, id="calendar", jobstore="local",
                      name="节假日日历更新")
    scheduler.resume()
    return scheduler


def _load_calendar(settings: Settings) -> WorkCalendar:
    from jianyi.activities.calendar import load_calendar
    from jianyi.models.db import session_for

    with session_for(settings.db_url) as db:
        return load_calendar(db)


async def refresh_calendar(scheduler: AsyncIOScheduler, settings: Settings, calendar: WorkCalendar | None = None) -> bool:
    """Take up the calendar as the records now hold it; when it changed, each job's next fire is computed
    again (a day that became a holiday is no longer fired on). True when it changed."""
    fresh = calendar or await asyncio.to_thread(_load_calendar, settings)
    if (fresh.loaded_years, fresh.version) == (_calendar.loaded_years, _calendar.version):
        return False
    set_calendar(fresh)
    for spec in JOBS.values():
        if scheduler.get_job(spec.name) is not None:
            scheduler.reschedule_job(spec.name, trigger=trigger_for(spec, settings))
    return True


def next_fires(settings: Settings, now: datetime) -> list[tuple[JobSpec, str, datetime | None]]:
    """Each job, its cron setting and its next fire time after ``now``."""
    return [(spec, getattr(settings, spec.setting), trigger_for(spec, settings).get_next_fire_time(None, now)) for spec in JOBS.values()]


async def run_alone(settings: Settings | None = None) -> None:
    from jianyi.temporal import check_namespace, connect

    settings = settings or get_settings()
    validate_schedule(settings)
    client = await connect(settings)
    await check_namespace(client, settings)
    scheduler = await start_scheduler(client, settings)
    try:
        await asyncio.Event().wait()
    finally:
        scheduler.shutdown(wait=False)


if __name__ == "__main__":
    # the same as `jianyi scheduler`: its messages and exit codes
    import sys

    from jianyi.cli import main

    sys.argv = ["jianyi", "scheduler"]
    main()
