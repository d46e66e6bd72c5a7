"""A district's year (issue 10 §6): 300 suggestions of one session from 交办 to the last closed case on
the time-skipping server, and every reminder, overdue notice, monthly digest and ledger request the
policy implies was fired and delivered, no more and no fewer (bench/year.py has the plan; `python -m
bench.year` runs the national year)."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from jianyi.service import Engine
from jianyi.temporal import time_skipping_environment
from jianyi.worker import build_worker

sys.path.insert(0, str(Path(__file__).parents[1]))
from bench.year import AGENDA_KINDS, DIGEST_KINDS, Shard, simulate  # noqa: E402

DISTRICT = 300
TWO_SERVERS = 80


@pytest.mark.timeout(900)
async def test_a_district_year_fires_and_delivers_every_notice_the_policy_implies(env, settings, worker, mail):
    result = await simulate([Shard(env, Engine(env.client, settings))], settings, DISTRICT)

    assert result.errors == []
    assert result.closed == DISTRICT
    for kind in AGENDA_KINDS:
        assert result.fired[kind] == result.expected.fired[kind], kind
    for kind in DIGEST_KINDS:
        assert result.outbox[kind] == result.expected.digests[kind] > 0, kind
    # the mix reached every kind it should: late, re-handled, committed, key and silent cases all occurred
    assert all(result.expected.fired[k] > 0 for k in ("deadline_reminder", "overdue", "overdue_repeat", "evaluation_reminder",
                                                     "commitment_due", "key_reminder", "expire_evaluation"))
    assert set(result.status) <= {"sent", "skipped"}  # nothing failed, held or without an address
    received = [m for m in mail.received if settings.task_queue in m.key]
    assert len(received) == result.status["sent"]


@pytest.mark.timeout(600)
async def test_a_year_over_two_time_skipping_servers_keeps_every_count(env, settings, worker, mail):
    """The national year runs sharded (bench/year.py): each server's cases, clocks skipped together, one records database."""
    async with await time_skipping_environment() as second:
        with ThreadPoolExecutor(max_workers=8) as executor:
            async with build_worker(second.client, settings, executor):
                shards = [Shard(env, Engine(env.client, settings)), Shard(second, Engine(second.client, settings))]
                result = await simulate(shards, settings, TWO_SERVERS)

    assert result.errors == []
    assert result.closed == TWO_SERVERS  # each case found COMPLETED on its own server (odd numbers on the second)
    for kind in AGENDA_KINDS:
        assert result.fired[kind] == result.expected.fired[kind], kind
    for kind in DIGEST_KINDS:
        assert result.outbox[kind] == result.expected.digests[kind], kind
    assert set(result.status) <= {"sent", "skipped"}
