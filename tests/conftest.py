"""Shared fixtures: a time-skipping Temporal test server, a fresh records database per test, a worker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import pytest_asyncio
from helpers import RecordingEngine, seed_directory, stop_if_open
from pg import PostgresServer
from pg import available as pg_available
from temporalio.testing import WorkflowEnvironment

from jianyi.mailcatcher import MailCatcher
from jianyi.settings import Settings
from jianyi.temporal import time_skipping_environment
from jianyi.worker import build_worker


@pytest_asyncio.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    async with await time_skipping_environment() as environment:
        yield environment


@pytest.fixture(scope="session")
def mail() -> Iterator[MailCatcher]:
    """A real SMTP server (aiosmtpd) on loopback for the whole run; tests filter by their own keys."""
    catcher = MailCatcher().start()
    yield catcher
    catcher.stop()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``both_databases`` run on SQLite and on a real PostgreSQL server."""
    if "database" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("both_databases") is not None
        metafunc.parametrize("database", ["sqlite", "postgresql"] if both else ["sqlite"], indirect=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    if not pg_available():
        pytest.skip("PostgreSQL is not installed (.ci/run installs Debian's postgresql)")
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def database(request: pytest.FixtureRequest) -> str:
    """The records database URL of this test ("" = the SQLite file under its var/)."""
    if request.param == "postgresql":
        return request.getfixturevalue("postgres").new_database()
    return ""


@pytest.fixture
def settings(tmp_path: Path, mail: MailCatcher, database: str) -> Settings:
    tq = f"t{uuid.uuid4().hex[:8]}"
    return Settings(
        var_dir=tmp_path,
        database_url=database,
        task_queue=tq,
        smtp_port=mail.port,
        quiet_hours=False,  # tests of the quiet rules turn them on; the rest deliver at once
        instance=tq,  # digest workflow ids stay apart on the shared test server
    )


@pytest_asyncio.fixture
async def worker(env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[None]:
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with build_worker(env.client, settings, executor):
            yield


@pytest_asyncio.fixture
async def engine(env: WorkflowEnvironment, settings: Settings, worker: None) -> AsyncIterator[RecordingEngine]:
    """The engine over this test's own directory; cases the test leaves open are stopped after it."""
    seed_directory(settings)
    eng = RecordingEngine(env.client, settings)
    yield eng
    for sid in eng.started:
        await stop_if_open(env, env.client.get_workflow_handle(sid))
