"""The Temporal worker: SuggestionWorkflow and its activities on one task queue.

Run many of these processes on one task queue to scale out; the engine is the distributed part.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from jianyi.activities.channels import validate_channels
from jianyi.activities.digests import DigestActivities
from jianyi.activities.notify import NotifyActivities
from jianyi.activities.records import RecordActivities
from jianyi.models.db import migrate_database
from jianyi.scheduler import validate_schedule
from jianyi.settings import Settings, get_settings
from jianyi.temporal import check_namespace, connect
from jianyi.workflows.digest import DigestWorkflow
from jianyi.workflows.suggestion import SuggestionWorkflow

WORKFLOWS = [SuggestionWorkflow, DigestWorkflow]


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox, with every module passed through instead of imported again for each workflow."""
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_all_modules())


def build_worker(
    client: Client,
    settings: Settings,
    executor: ThreadPoolExecutor,
    records: RecordActivities | None = None,
    notify: NotifyActivities | None = None,
) -> Worker:
    """The worker; ``records`` and ``notify`` replace the activities' implementations (the bench's
    stand-ins that tell their cost from the engine's)."""
    records = records or RecordActivities(settings)
    notify = notify or NotifyActivities(settings)
    digests = DigestActivities(settings)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=[
            records.record_transition,
            records.record_admin_notice,
            notify.deliver_outbox,
            digests.compose_digest,
        ],
        activity_executor=executor,
        workflow_runner=workflow_runner(),
        max_cached_workflows=settings.workflow_cache,
    )


async def run_worker(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    validate_channels(settings)  # a bad channel setting stops start-up before connecting, naming the setting
    validate_schedule(settings)  # the time zone and working hours the quiet rules hold notices to
    migrate_database(settings.db_url)  # a records database behind the code is upgraded first
    client = await connect(settings)
    await check_namespace(client, settings)
    with ThreadPoolExecutor(max_workers=16) as executor:
        async with build_worker(client, settings, executor):
            await asyncio.Event().wait()


if __name__ == "__main__":
    # the same as `jianyi worker`: its messages and exit codes
    import sys

    from jianyi.cli import main

    sys.argv = ["jianyi", "worker"]
    main()
