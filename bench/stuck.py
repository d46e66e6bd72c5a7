"""The stuck view at national scale (issue 10 §8): 100,000 suggestion rows, 70 % open, and the
first page (50 rows) overall and per unit, and the counts per kind, each timed many times.

    .venv/bin/python -m bench.stuck                    # SQLite, 100,000 rows
    BENCH_STUCK_ROWS=20000 .venv/bin/python -m bench.stuck
    BENCH_STUCK_PG=1 .venv/bin/python -m bench.stuck   # also on a PostgreSQL server started here (tests/pg.py)

Figures, not assertions: target p95 ≤ 50 ms.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from jianyi.models.db import engine_for, load_calendar, refresh_statistics, session_for
from jianyi.models.stuck import find_stuck, stuck_counts, stuck_from
from jianyi.models.tables import Assignment, Escalation, Suggestion

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
UNITS = [f"区第{n}局" for n in range(60)]
OPEN = ["submitted", "registered", "assigned", "handling", "reply_review", "replied", "rehandling", "escalated", "follow_up"]


def build(url: str, n: int) -> None:
    rng = random.Random(7)
    rows, assignments, escalations = [], [], []
    for i in range(n):
        state = rng.choice(OPEN) if rng.random() < 0.7 else "closed"
        unit = rng.choice(UNITS)
        due = NOW + timedelta(days=rng.randint(-60, 90))
        rows.append(dict(id=f"suggestion-s{i // 9000}-{i}", session=f"s{i // 9000}", number=f"第{i}号", title=f"建议{i}", text="",
                         category="", period="大会期间", lead_deputy="代表", co_signers=[], state=state, round=1, lead_unit=unit,
                         co_handlers=[], key_supervision=rng.random() < 0.02, supervisor="", overdue=False, escalation_count=0,
                         reply_due=due, sign_due=due - timedelta(days=80), review_due=due - timedelta(days=85),
                         co_opinion_due=due - timedelta(days=60), outcome="", open_escalations=0, missed_commitments=0, missing_co_opinions=0, provisional_deadlines=False, merged_into="", error="",
                         chain_seq=0, chain_hash=""))
        row = rows[-1]
        if rng.random() < 0.3:
            assignments.append(dict(suggestion_id=row["id"], unit=rng.choice(UNITS), role="协办", assigned_at=NOW, active=True, opinion=""))
            row["missing_co_opinions"] = 1
        if state == "handling" and rng.random() < 0.05:
            escalations.append(dict(suggestion_id=row["id"], number=1, reason="逾期未答复", escalated_at=NOW - timedelta(days=3), steps=[]))
            row["open_escalations"] = 1
        row["stuck_from"] = stuck_from(row)  # as the projection keeps it
    engine = engine_for(url)
    with engine.begin() as conn:
        for table, data in ((Suggestion, rows), (Assignment, assignments), (Escalation, escalations)):
            for k in range(0, len(data), 5000):
                conn.execute(insert(table), data[k:k + 5000])


def timed(fn, times: int = 40) -> tuple[float, float]:  # noqa: ANN001
    laps = []
    for _ in range(times):
        start = time.perf_counter()
        fn()
        laps.append((time.perf_counter() - start) * 1000)
    laps.sort()
    return statistics.median(laps), laps[int(len(laps) * 0.95) - 1]


def measure(url: str, label: str) -> None:
    refresh_statistics(engine_for(url))  # as `jianyi up`, the worker and `admin migrate` do at start
    if url.startswith("postgresql"):  # the visibility map autovacuum keeps on a live server (index-only scans)
        with engine_for(url).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM suggestion")
    with session_for(url) as db:
        calendar = load_calendar(db)
        page = lambda **kw: find_stuck(db, NOW, calendar=calendar, **kw)  # noqa: E731
        total = page().total
        for what, fn in (("first page, all units", lambda: page()), ("first page, one unit", lambda: page(unit=UNITS[3])),
                         ("one kind (overdue)", lambda: page(kind="overdue")), ("counts per kind", lambda: stuck_counts(db, NOW)),
                         ("counts, one unit", lambda: stuck_counts(db, NOW, unit=UNITS[3]))):
            p50, p95 = timed(fn)
            print(f"  {label:<10} {what:<24} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   ({total:,} stuck; a page: its 50 rows, their reasons and the counts)")


def main() -> None:
    n = int(os.environ.get("BENCH_STUCK_ROWS", "100000"))
    print(f"stuck view over {n:,} suggestion rows (70 % open)")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'stuck.db'}"
        start = time.perf_counter()
        build(url, n)
        print(f"  built in {time.perf_counter() - start:.1f} s")
        measure(url, "SQLite")
    if os.environ.get("BENCH_STUCK_PG"):
        sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
        from pg import PostgresServer

        server = PostgresServer().start()
        try:
            url = server.new_database()
            build(url, n)
            measure(url, "PostgreSQL")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
