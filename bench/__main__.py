"""Print how fast the pure models are, and what that means for a year of suggestions; then
whole lifecycles end to end on a real Temporal dev server, with one worker and with two
(bench/lifecycles.py), beside the bare skeleton (bench/skeleton.py, the ratio); the stuck view
over 100,000 rows on SQLite and PostgreSQL (bench/stuck.py); the short fault run
(bench/faults.py); a district's year (bench/year.py, 300 suggestions).

    .venv/bin/python -m bench                 # about 6 minutes
    .venv/bin/python -m bench --quick         # about 3 minutes, rougher figures
    .venv/bin/python -m bench --no-server     # the pure figures only
    BENCH_CASES=200 .venv/bin/python -m bench # more cases end to end (BENCH_IN_FLIGHT: at a time, 20)

Figures, not assertions: compare runs on the same machine.
"""

from __future__ import annotations

import asyncio
import gc
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import date, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.lifecycles import bench_lifecycles, run_phase, settings_from_env
from jianyi.models.calendar import WorkCalendar
from jianyi.models.lifecycle import Facts, Lifecycle, Refused, Role, State
from jianyi.models.policy import ComputedDeadline as Deadline
from jianyi.models.policy import Policy, compute

CST = ZoneInfo("Asia/Shanghai")
YEARLY_VOLUME = 9_000  # suggestions a year at the national congress (order of magnitude)
POLICY = Policy()


def rate(fn: Callable[[], int], budget: float) -> tuple[float, int]:
    """Calls ``fn`` (which does n operations and returns n) until ``budget`` seconds pass.

    Returns (operations per second, operations done). One untimed warm-up call first.
    """
    fn()
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < budget:
        done += fn()
    return done / elapsed, done


def year_of_starts(year: int) -> list[datetime]:
    first = date(year, 1, 1)
    return [
        datetime.combine(first + timedelta(days=i), datetime.min.time(), CST).replace(hour=10)
        for i in range((date(year + 1, 1, 1) - first).days)
    ]


def bench_deadlines(budget: float) -> dict[str, float]:
    cal = WorkCalendar()
    out: dict[str, float] = {}
    for label, rule, year in (
        ("reply, 3 calendar months, starts in 2025", "reply", 2025),
        ("evaluation, 20 working days, starts in 2025", "evaluation", 2025),
        ("reply, provisional year (2027, Mon–Fri)", "reply", 2027),
    ):
        starts = year_of_starts(year)

        def run(rule: str = rule, starts: list[datetime] = starts) -> int:
            for s in starts:
                compute(rule, s, POLICY, cal)
            return len(starts)

        per_second, n = rate(run, budget)
        out[rule if year != 2027 else "provisional"] = per_second
        print(f"  {label:<46} {per_second:>10,.0f} /s   ({n:,} computed)")

    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(365)]

    def workday_checks() -> int:
        for d in days:
            cal.is_workday(d)
        return len(days)

    per_second, _ = rate(workday_checks, budget / 2)
    out["is_workday"] = per_second
    print(f"  {'WorkCalendar.is_workday (one day)':<46} {per_second:>10,.0f} /s")
    return out


def bench_lifecycle(budget: float) -> dict[str, float]:
    out: dict[str, float] = {}
    lead, deputy = "区城管局", "饶满琳"
    ok = Facts(principal=lead, role=Role.UNIT, lead_unit=lead, lead_deputy=deputy, contact_this_round=True)
    cases: list[tuple[State, str, Facts]] = [
        (State.HANDLING, "reply", ok),  # allowed
        (State.HANDLING, "reply", ok.model_copy(update={"contact_this_round": False})),  # no contact
        (State.SUBMITTED, "sign", ok),  # illegal state
        (
            State.REPLIED,
            "evaluate",
            Facts(principal=deputy, role=Role.DEPUTY, lead_deputy=deputy, round=2, payload={"result": "不满意"}),
        ),
    ]
    machines = {state: Lifecycle(state) for state, _, _ in cases}

    def decide_mix() -> int:
        for _ in range(250):
            for state, action, facts in cases:
                try:
                    machines[state].decide(action, facts)
                except Refused:
                    pass
        return 250 * len(cases)

    per_second, n = rate(decide_mix, budget)
    out["decide"] = per_second
    print(f"  {'decide (allowed / refused mix)':<46} {per_second:>10,.0f} /s   ({n:,} calls)")

    def rebuild() -> int:
        for state in State:
            Lifecycle(state)
        return len(State)

    per_second, n = rate(rebuild, budget / 2)
    out["rebuild"] = per_second
    print(f"  {'Lifecycle(state) rebuilt from its string':<46} {per_second:>10,.0f} /s   ({n:,} built)")

    def apply_round_trip() -> int:
        m = Lifecycle(State.HANDLING)
        m.apply("reply", ok.model_copy(update={"review_required": False}))
        return 1

    per_second, _ = rate(apply_round_trip, budget / 2)
    out["rebuild_apply"] = per_second
    print(f"  {'rebuild + apply (one workflow update)':<46} {per_second:>10,.0f} /s")
    return out


def bench_memory() -> dict[str, float]:
    """Peak memory of a year's deadlines held at once, as loaded back from JSON (history, DB)."""
    cal = WorkCalendar()
    distinct = [compute("reply", s, POLICY, cal).model_dump_json() for s in year_of_starts(2025)]
    texts = [distinct[i % len(distinct)] for i in range(YEARLY_VOLUME)]
    Deadline.model_validate_json(texts[0])  # pydantic's first-use caches are not the deadlines'
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    deadlines = [Deadline.model_validate_json(t) for t in texts]
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    held = current - base
    json_bytes = sum(len(t.encode()) for t in texts)
    skipped = sum(len(d.skipped) for d in deadlines)
    print(f"  {len(deadlines):,} reply deadlines held at once: peak {(peak - base) / 2**20:.1f} MiB, "
          f"held {held / 2**20:.1f} MiB")
    print(f"  per deadline: {held / YEARLY_VOLUME:,.0f} B in memory, {json_bytes / YEARLY_VOLUME:,.0f} B as JSON "
          f"(ratio {held / json_bytes:.1f}×); {skipped / YEARLY_VOLUME:.1f} skipped days on average")
    return {"peak": peak - base, "held": held, "json": json_bytes}


def main(argv: list[str]) -> int:
    budget = 0.3 if "--quick" in argv else 1.5
    t0 = time.perf_counter()
    print(f"jianyi bench — Python {platform.python_version()}, {platform.machine()}, "
          f"chinesecalendar {version('chinesecalendar')}, transitions {version('transitions')}, "
          f"pydantic {version('pydantic')}")
    print(f"(budget {budget:.1f} s per figure; figures, not assertions)\n")

    print("Deadlines (jianyi.models.policy.compute over every start day of a year)")
    d = bench_deadlines(budget)
    print(f"  → evaluation / reply cost ratio: {d['reply'] / d['evaluation']:.2f}× "
          f"(20 + 10 working days walked for the window and its reminder; 10 for a reply's escalation)")
    print(f"  → provisional / data-year cost ratio: {d['reply'] / d['provisional']:.2f}×")
    print(f"  → recomputing {YEARLY_VOLUME:,} open reply deadlines after a calendar change: "
          f"{YEARLY_VOLUME / d['reply']:.2f} s on one core")
    print(f"  → one deadline costs as much as {d['is_workday'] / d['reply']:.0f} is_workday calls\n")

    print("Lifecycle (jianyi.models.lifecycle)")
    lc = bench_lifecycle(budget)
    print(f"  → rebuilding the machine costs {lc['decide'] / lc['rebuild']:.0f}× a decide call "
          f"(workflows rebuild it from the stored state string)")
    print(f"  → a year's {YEARLY_VOLUME:,} suggestions × ~30 actions = {YEARLY_VOLUME * 30:,} updates: "
          f"{YEARLY_VOLUME * 30 / lc['rebuild_apply']:.1f} s of machine time on one core\n")

    print("Memory (tracemalloc)")
    bench_memory()
    code = 0
    if "--no-server" not in argv:
        print()
        try:
            cases, in_flight = settings_from_env("--quick" in argv)
            phases = asyncio.run(bench_lifecycles(cases, in_flight))
            from bench.skeleton import engine_only, run_skeleton, without_deliveries

            skeleton = asyncio.run(run_skeleton(cases, in_flight))
            one = phases["one"].cases_per_s
            print(f"\nBare Temporal skeleton of the same shape (bench/skeleton.py): {skeleton:.2f} cases/s")
            print(f"  → ratio = jianyi cases/s ÷ skeleton cases/s = {one:.2f} ÷ {skeleton:.2f} = {one / skeleton:.2f}")
            same = asyncio.run(run_skeleton(cases, in_flight, same_io=True))
            print(f"  the skeleton doing jianyi's I/O (records transaction of jianyi's shape, a real mail on every second "
                  f"transition): {same:.2f} cases/s → jianyi ÷ it = {one / same:.2f}")
            print("  where the difference lies: the same lifecycles again, a part of jianyi replaced by a stand-in (bench/skeleton.py)")
            for what, stand_ins in (("deliveries send nothing", without_deliveries), ("records in memory, no deliveries", engine_only)):
                part = asyncio.run(run_phase(what, cases, in_flight, False, stand_ins)).cases_per_s
                print(f"  → {what}: {part:.2f} cases/s, ratio {part / skeleton:.2f}")
        except Exception as exc:  # the figures above stand; say why this part has none
            print(f"  end-to-end part failed: {type(exc).__name__}: {exc}")
            code = 1
    print()
    from bench.stuck import main as bench_stuck

    os.environ.setdefault("BENCH_STUCK_ROWS", "20000" if "--quick" in argv else "100000")
    if postgres_installed():
        os.environ.setdefault("BENCH_STUCK_PG", "1")  # the same figures on a PostgreSQL server started here
    bench_stuck()
    if "--no-server" not in argv:
        from bench.faults import run_faults

        cases = int(os.environ.get("FAULT_CASES", "10" if "--quick" in argv else "40"))
        print(f"\nFaults (bench/faults.py; python -m bench.faults runs 200): {cases} cases, 10 worker SIGKILLs, "
              "2 dev-server SIGKILLs, SMTP answering 421 after storing 10 %")
        print("\n".join(asyncio.run(run_faults(cases, 10, 2)).lines()))
        from bench.year import main as year

        district = int(os.environ.get("BENCH_YEAR_CASES", "100" if "--quick" in argv else "300"))
        print(f"\nA district's year (bench/year.py; python -m bench.year runs the national 9,000): {district} suggestions")
        print("\n".join(asyncio.run(year(district)).lines()))
    print(f"\ndone in {time.perf_counter() - t0:.1f} s")
    return code


def postgres_installed() -> bool:
    sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
    from pg import available

    return available()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
