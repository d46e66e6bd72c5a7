"""DigestWorkflow: one scheduled digest (monthly / ledger / daily) for one period.

Its id is fixed by the period (``digest-monthly-2025-03``) and started with a reuse policy that
refuses duplicates, so two schedulers, a late catch-up or a re-fire never send twice.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from jianyi.workflows.delivery import deliver

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from jianyi.activities.digests import DigestActivities
    from jianyi.models.case import DigestRequest


class DigestInput(BaseModel):
    kind: str  # monthly / ledger / daily
    period: str  # 2025-03 / 2025-03-04
    immediate: bool = False  # fired by hand: not held by the quiet rules


@workflow.defn(name="DigestWorkflow")
class DigestWorkflow:
    @workflow.run
    async def run(self, digest: DigestInput) -> int:
        """Compose the digest into the outbox and deliver it; returns how many messages it holds."""
        source_id = workflow.info().workflow_id
        composed = await workflow.execute_activity_method(
            DigestActivities.compose_digest,
            DigestRequest(kind=digest.kind, period=digest.period, at=workflow.now(), source_id=source_id, immediate=digest.immediate),
            start_to_close_timeout=timedelta(minutes=2),
        )
        if composed.outbox_ids:
            await deliver(source_id, composed.outbox_ids, composed.deliver_at)
        return len(composed.outbox_ids)
