"""The records database: one engine per URL, SQLite tuned for many short writes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlmodel import Session as DbSession
from sqlmodel import SQLModel, create_engine, select

from jianyi.models import accounts, tables  # noqa: F401  (registers the tables)
from jianyi.models.calendar import DayOverride, WorkCalendar


class DatabaseProblem(Exception):
    """The records database cannot be used as it is; ``message`` says what to do (Chinese)."""

    exit_code = 3

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """The engine of a records database whose schema is the code's: a new database is created at
    the newest revision; one behind is refused with what to do (jianyi admin migrate upgrades it)."""
    engine = _connect(url)
    try:
        prepare(engine, migrate=False)
    except OperationalError as exc:
        raise DatabaseProblem(f"无法连接记录数据库（{safe_url(url)}）：请检查 JIANYI_DATABASE_URL 和数据库服务。详情：{exc.orig}") from None
    if url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            f = Path(url.removeprefix("sqlite:///") + suffix)
            if f.exists():
                f.chmod(0o600)  # the records are the office's: readable by their owner only
    return engine


def _connect(url: str) -> Engine:
    if not url.startswith("sqlite:///"):
        try:
            return create_engine(url, pool_pre_ping=True)
        except (ArgumentError, ImportError) as exc:  # not a URL, an unknown dialect, a driver not installed
            raise DatabaseProblem(
                f"记录数据库地址无效（{safe_url(url)}）：JIANYI_DATABASE_URL 应为 postgresql+psycopg://用户:密码@主机:端口/库名，"
                f"或留空使用内置的 SQLite。详情：{type(exc).__name__}: {exc}"
            ) from None
    owner_only(Path(url.removeprefix("sqlite:///")).parent)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(conn, _record):  # noqa: ANN001
        cur = conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    return engine


def owner_only(directory: Path) -> None:
    """Create ``directory`` readable by its owner only (var/ holds records and keys); a directory
    that was there already and is not a var/ is left as it is (it may be shared, like /tmp)."""
    existed = directory.exists()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if not existed or directory.name == "var":
            directory.chmod(0o700)
    except OSError as exc:  # a file in the way, a read-only or virtual file system, no permission
        raise DatabaseProblem(
            f"无法使用数据目录「{directory}」（{exc.strerror}）：请检查 JIANYI_VAR_DIR（应为本用户可写的目录），"
            "或用 JIANYI_DATABASE_URL 指向 PostgreSQL"
        ) from None


def prepare(engine: Engine, migrate: bool) -> None:
    from jianyi.models import migrate as migrations

    if not inspect(engine).has_table("suggestion"):  # a new database: the whole schema at once
        SQLModel.metadata.create_all(engine)
        migrations.stamp(engine)
        return
    if migrations.current(engine) is None:  # made before migrations existed: it is the first revision
        migrations.stamp(engine, "0001")
    if migrations.current(engine) != migrations.head():
        if not migrate:
            raise DatabaseProblem("记录数据库的结构落后于程序：请先运行 jianyi admin migrate（jianyi up 和工作进程启动时会自动升级）")
        migrations.upgrade(engine)


def migrate_database(url: str) -> tuple[str | None, str]:
    """Upgrade a records database to the newest revision; returns (before, after)."""
    from jianyi.models import migrate as migrations

    engine = _connect(url)
    try:
        before = migrations.current(engine) if inspect(engine).has_table("suggestion") else None
    except OperationalError as exc:
        raise DatabaseProblem(f"无法连接记录数据库（{safe_url(url)}）：请检查 JIANYI_DATABASE_URL 和数据库服务。详情：{exc.orig}") from None
    try:
        prepare(engine, migrate=True)
    except Exception as exc:  # noqa: BLE001  (each revision runs in a transaction: a failed one leaves the database as it was)
        raise DatabaseProblem(f"记录数据库从 {before or '空库'} 升级失败：{type(exc).__name__}: {exc}。请备份数据库后联系维护人员。") from None
    refresh_statistics(engine)
    engine_for.cache_clear()
    return before, migrations.current(engine) or ""


def refresh_statistics(engine: Engine) -> None:
    """Let the query planner know the tables' sizes (the stuck view's counts depend on it): SQLite keeps
    no statistics by itself; PostgreSQL's autovacuum does, ANALYZE here only makes it current at once."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA analysis_limit=2000")  # sampled: quick even on a national year
        conn.exec_driver_sql("ANALYZE")


def safe_url(url: str) -> str:
    """A database URL fit for messages: no password."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:****@", url)


@contextmanager
def session_for(url: str) -> Iterator[DbSession]:
    with DbSession(engine_for(url), expire_on_commit=False) as session:
        yield session


def to_db(moment: datetime | None) -> datetime | None:
    """Any datetime → aware UTC, as sqlmodel stores it (a naive one is taken as UTC)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def load_calendar(db: DbSession) -> WorkCalendar:
    """The working-day calendar: the package's data, the admin's overrides and loaded years."""
    conn = db.connection()  # columns, not ORM objects: the records write loads it for many transitions
    overrides = [DayOverride(*row) for row in conn.execute(_OVERRIDES)]
    return WorkCalendar.with_overrides(overrides, conn.execute(_YEARS).scalars())


_OVERRIDES = select(tables.CalendarOverride.day, tables.CalendarOverride.workday, tables.CalendarOverride.name)
_YEARS = select(tables.CalendarYear.year)
