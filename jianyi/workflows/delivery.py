"""Delivering outbox rows from a workflow: after the quiet hours, with retries, and an admin notice
when the retries run out, so that no message is dropped silently."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from jianyi.activities.notify import NotifyActivities
    from jianyi.activities.records import RecordActivities
    from jianyi.models.case import AdminNoticeRequest

RECORD_TIMEOUT = timedelta(seconds=30)
# Short, so a delivery lost with a crashed worker is retried soon (one conversation per row).
DELIVERY_TIMEOUT = timedelta(seconds=20)
# About four hours of retries with backoff before the admin is told.
DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=30), maximum_attempts=12
)


async def deliver(
    source_id: str,
    ids: list[int],
    not_before: datetime | None,
    on_failure: Callable[[str], Awaitable[None]] | None = None,
) -> bool:
    """Deliver ``ids``; True when delivered. On final failure: ``on_failure`` then the admin notice."""
    if not_before is not None and not_before > workflow.now():
        await asyncio.sleep((not_before - workflow.now()).total_seconds())
    try:
        await workflow.execute_activity_method(
            NotifyActivities.deliver_outbox, ids, start_to_close_timeout=DELIVERY_TIMEOUT, retry_policy=DELIVERY_RETRY
        )
        return True
    except ActivityError as exc:
        error = str(exc.cause or exc)
    if on_failure is not None:
        await on_failure(error)
    notice = await workflow.execute_local_activity_method(
        RecordActivities.record_admin_notice,
        AdminNoticeRequest(source_id=source_id, failed_ids=ids, at=workflow.now(), error=error),
        start_to_close_timeout=RECORD_TIMEOUT,
    )
    if notice.outbox_ids:
        try:
            await workflow.execute_activity_method(
                NotifyActivities.deliver_outbox, notice.outbox_ids, start_to_close_timeout=DELIVERY_TIMEOUT, retry_policy=DELIVERY_RETRY
            )
        except ActivityError:
            workflow.logger.error("admin notice for %s could not be delivered either; see `jianyi outbox --failed`", source_id)
    return False
