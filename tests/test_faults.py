"""Faults survived, rerunnable (issue 10 §5, the short version of bench/faults.py): cases through whole
lifecycles while the worker is SIGKILLed, the Temporal dev server is SIGKILLed and restarted on its file,
and the SMTP server answers 421 after storing a message at random."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))
from bench.faults import run_faults  # noqa: E402


@pytest.mark.timeout(600)
async def test_worker_and_server_kills_lose_no_action_and_break_no_chain():
    report = await run_faults(cases=6, worker_kills=2, server_kills=1, drop_rate=0.15, in_flight=6, seed=3, settle=90)
    assert report.errors == []
    assert (report.closed, report.lost, report.broken_chains) == (6, [], 0)
    assert report.undelivered == 0  # a notice claimed by a killed worker is sent by the delivery's next attempt
    assert (report.worker_kills, report.server_kills) == (2, 1) and len(report.accepted) >= 6 * 8
