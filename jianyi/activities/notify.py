"""The notify activity: deliver outbox rows, each over its own channel. A retry never sends twice.

A row is marked ``sent`` right after its channel accepted it (the SMTP server's 250, the
webhook's 2xx with ``errcode`` 0, the SMS provider's return); a retry skips sent rows. The one
window left (the far end accepted, the worker died before the mark) is covered by keys that
stay the same for every attempt: the e-mail's Message-ID, the generic webhook's
Idempotency-Key, so the receiving side can drop the repeat.

A row the channel refused is marked ``failed`` with its attempts and the exact error, the other
rows of the batch are still tried, and the activity then raises so that Temporal retries with
backoff (the workflow owns the retry policy and the admin notice when retries run out).

A row is claimed (``sending``) before it is sent. A later attempt of the same delivery takes over
the rows its earlier attempt claimed at once: Temporal starts an attempt only once the one before
it has failed or timed out (a worker killed mid-send). A row another deliverer claimed is left to
it until the claim expires, and the attempt then raises instead of reporting success, so the row
is tried again and never left claimed in silence.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Boolean, and_, bindparam, or_, update
from sqlmodel import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from jianyi.activities.channels import (
    DeliveryError,
    Dispatcher,
    load_sms_provider,
    message_id,
    validate_channels,
)
from jianyi.models.contacts import mask_secrets
from jianyi.models.db import session_for, to_db
from jianyi.models.notices import stale_reason
from jianyi.models.states import STATE_LABELS
from jianyi.models.tables import Outbox, Suggestion
from jianyi.settings import Settings

__all__ = ["DELIVERABLE", "NotifyActivities", "message_id"]

# ``held`` rows wait for working hours (quiet rules); the workflow calls us once they may go.
DELIVERABLE = ("pending", "failed", "held")
# A claim left by a deliverer that died is taken over after this long (well past one attempt's timeout).
CLAIM_EXPIRES = timedelta(minutes=2)
# Stop this long before the activity's own timeout, so that a failure is recorded on its row
# instead of being cut off by the cancellation.
MARGIN_SECONDS = 1.0


class NotifyActivities:
    def __init__(self, settings: Settings) -> None:
        validate_channels(settings)  # a malformed channel setting stops the worker at start-up
        self.settings = settings
        self.sms_provider = load_sms_provider(settings)

    @activity.defn(name="deliver_outbox")
    async def deliver_outbox(self, ids: list[int]) -> int:
        """Send the deliverable rows among ``ids``; returns how many were sent now.

        Each row is marked sent right after its channel accepted it, before the next row is tried,
        so the window in which a crash could make a retry send it again is one local database write.
        """
        rows, busy = await asyncio.to_thread(self._deliverable, ids, _attempt())
        sent, failures, left = (await self._send(rows)) if rows else (0, [], 0)
        if failures or left:
            summary = f"{len(failures)} 条通知发送失败" + (f"，{left} 条未及发送" if left else "")
            raise ApplicationError(f"{summary}（已发送 {sent} 条）：" + "；".join(failures[:5]), type="DeliveryFailed")
        if busy:
            raise ApplicationError(f"{len(busy)} 条通知正由另一投递尝试发送（#{busy[0]} 等），稍后重试（已发送 {sent} 条）", type="DeliveryBusy")
        return sent

    async def _send(self, rows: list[Outbox]) -> tuple[int, list[str], int]:
        """Send the claimed rows in order: (sent, failures, rows left for the next attempt)."""
        deadline = _deadline()
        sent = 0
        failures: list[str] = []
        left = 0
        async with Dispatcher(self.settings, self.sms_provider) as channels:
            for n, row in enumerate(rows):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    left = len(rows) - n
                    await asyncio.to_thread(self._release, [r.id for r in rows[n:]])  # the next attempt takes them
                    break
                try:
                    async with asyncio.timeout(remaining):
                        await channels.channel(row.channel).send(row)
                except DeliveryError as exc:
                    error = exc.message
                except TimeoutError:
                    error = f"发送到「{row.recipient}」（{row.channel}）超时：本次投递的时限已到"
                except Exception as exc:  # noqa: BLE001  (a bug must not lose the message either)
                    error = f"发送到「{row.recipient}」（{row.channel}）时出错：{type(exc).__name__}: {exc}"
                else:
                    await asyncio.to_thread(self._mark, row.id, "sent", "")
                    sent += 1
                    continue
                await asyncio.to_thread(self._mark, row.id, "failed", error)
                failures.append(f"#{row.id} {row.recipient}：{mask_secrets(error)}")
        return sent, failures, left

    def _deliverable(self, ids: list[int], attempt: int = 1) -> tuple[list[Outbox], list[int]]:
        """The rows this deliverer claims (atomically: two deliverers never both send one row), and
        the ids another deliverer still holds; a notice the case has moved past is marked skipped,
        never sent. One transaction: the claim, the rows with their cases' states, the skips."""
        now = datetime.now(UTC)
        with session_for(self.settings.db_url) as db:
            conn = db.connection()
            # an earlier attempt of this very delivery is over as far as Temporal is concerned: its claims are ours
            claim = {"ids": ids, "now": now, "all_ours": attempt > 1, "expired": now - CLAIM_EXPIRES}
            claimed = list(conn.execute(_CLAIM, claim).scalars())
            busy = [] if len(claimed) == len(set(ids)) else [i for i in conn.execute(_SENDING, {"ids": ids}).scalars() if i not in claimed]
            keep = []
            for row, state in db.exec(_CLAIMED, params={"ids": claimed}).all() if claimed else []:
                reason = stale_reason(row.kind, state) if state else ""
                if reason:
                    conn.execute(_SKIP, {"row_id": row.id, "last_error": f"{reason}（{STATE_LABELS.get(state, state)}）"})
                else:
                    keep.append(row)
            db.commit()
            return keep, sorted(busy)

    def _release(self, row_ids: list[int | None]) -> None:
        with session_for(self.settings.db_url) as db:
            db.exec(update(Outbox).where(Outbox.id.in_(row_ids), Outbox.status == "sending").values(status="pending"))  # type: ignore[union-attr,call-overload]
            db.commit()

    def _mark(self, row_id: int | None, status: str, error: str) -> None:
        values = {"row_id": row_id, "status": status, "last_error": mask_secrets(error)[:500]}
        with session_for(self.settings.db_url) as db:
            if status == "sent":
                db.connection().execute(_MARK_SENT, {**values, "sent_at": to_db(datetime.now(UTC))})
            else:
                db.connection().execute(_MARK, values)
            db.commit()


_IDS = bindparam("ids", expanding=True)
# a claim left by a deliverer that died (or, for a later attempt of the same delivery, every claim)
_TAKEN_OVER = and_(Outbox.status == "sending", or_(bindparam("all_ours", type_=Boolean), Outbox.claimed_at < bindparam("expired")))  # type: ignore[operator]
_CLAIM = (
    update(Outbox)
    .where(Outbox.id.in_(_IDS))  # type: ignore[union-attr]
    .where(or_(Outbox.status.in_(DELIVERABLE), _TAKEN_OVER))  # type: ignore[attr-defined]
    .values(status="sending", claimed_at=bindparam("now"))
    .returning(Outbox.id)
)
_SENDING = select(Outbox.id).where(Outbox.id.in_(_IDS), Outbox.status == "sending")  # type: ignore[union-attr]
_CLAIMED = (
    select(Outbox, Suggestion.state)
    .join(Suggestion, Suggestion.id == Outbox.suggestion_id, isouter=True)  # type: ignore[arg-type]
    .where(Outbox.id.in_(_IDS))  # type: ignore[union-attr]
    .order_by(Outbox.id)
)
_SKIP = update(Outbox).where(Outbox.id == bindparam("row_id")).values(status="skipped", last_error=bindparam("last_error"))  # type: ignore[arg-type]
_MARK = update(Outbox).where(Outbox.id == bindparam("row_id")).values(  # type: ignore[arg-type]
    attempts=Outbox.attempts + 1, status=bindparam("status"), last_error=bindparam("last_error"))
_MARK_SENT = _MARK.values(sent_at=bindparam("sent_at"))


def _attempt() -> int:
    """Which attempt of its activity this is (1 outside an activity: a direct call, as in tests)."""
    return activity.info().attempt if activity.in_activity() else 1


def _deadline() -> float | None:
    """When this attempt must stop sending (monotonic), from the activity's start-to-close timeout."""
    if not activity.in_activity():
        return None
    timeout = activity.info().start_to_close_timeout
    if not timeout:
        return None
    return time.monotonic() + max(timeout.total_seconds() - MARGIN_SECONDS, 0.5)
