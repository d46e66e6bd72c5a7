"""The records database: one engine per URL, SQLite tuned for many short writes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import event, inspect, literal, text
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import SQLModel, create_engine, select

from jianyi.models import accounts, tables  # noqa: F401  (registers the tables)
from jianyi.models.calendar import DayOverride, WorkCalendar


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        owner_only(path.parent)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record):  # noqa: ANN001
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

    else:
        engine = create_engine(url, pool_pre_ping=True)
    SQLModel.metadata.create_all(engine)
    add_missing_columns(engine)
    if url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            f = Path(url.removeprefix("sqlite:///") + suffix)
            if f.exists():
                f.chmod(0o600)  # the records are the office's: readable by their owner only
    return engine


def owner_only(directory: Path) -> None:
    """Create ``directory`` readable by its owner only (var/ holds records and keys); a directory
    that was there already and is not a var/ is left as it is (it may be shared, like /tmp)."""
    existed = directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    if not existed or directory.name == "var":
        directory.chmod(0o700)


def add_missing_columns(engine: Engine) -> list[str]:
    """Add the columns a table gained since its database was made (``create_all`` adds only tables).

    Enough for the additive changes this project makes (a new field with a default); returns
    ``table.column`` for each column added.
    """
    inspector = inspect(engine)
    added: list[str] = []
    with engine.begin() as conn:
        for table in SQLModel.metadata.sorted_tables:
            if not inspector.has_table(table.name):
                continue
            have = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in have:
                    continue
                ddl = f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {column.type.compile(dialect=engine.dialect)}'
                default = column.default.arg if column.default is not None and column.default.is_scalar else None
                if default is not None:
                    value = literal(default).compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
                    ddl += f" DEFAULT {value}" + ("" if column.nullable else " NOT NULL")
                conn.execute(text(ddl))
                added.append(f"{table.name}.{column.name}")
    return added


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
    overrides = [DayOverride(o.day, o.workday, o.name) for o in db.exec(select(tables.CalendarOverride))]
    years = [y.year for y in db.exec(select(tables.CalendarYear))]
    return WorkCalendar.with_overrides(overrides, years)
