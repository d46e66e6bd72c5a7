"""The notify activity: deliver outbox rows by email (SMTP). A retry never sends twice.

A row is marked ``sent`` right after the server accepts it; a retry skips sent rows. The one
window left (the server accepted, the worker died before the mark) is covered by a stable
Message-ID derived from the outbox key, so a mail system can drop the repeat.
"""

from __future__ import annotations

import asyncio
import hashlib
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib
from sqlmodel import select
from temporalio import activity

from jianyi.models.db import session_for, to_db
from jianyi.models.tables import Outbox
from jianyi.settings import Settings


def message_id(row: Outbox) -> str:
    key = f"{row.suggestion_id}|{row.recipient}|{row.kind}|{row.cycle}"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@jianyi>"


class NotifyActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @activity.defn(name="deliver_outbox")
    async def deliver_outbox(self, ids: list[int]) -> int:
        """Send the pending rows among ``ids``; returns how many were sent now."""
        rows = await asyncio.to_thread(self._pending, ids)
        sent = 0
        for row in rows:
            try:
                await self._send_email(row)
            except (aiosmtplib.SMTPException, OSError) as exc:
                await asyncio.to_thread(self._mark, row.id, "failed", str(exc))
                raise
            await asyncio.to_thread(self._mark, row.id, "sent", "")
            sent += 1
        return sent

    def _pending(self, ids: list[int]) -> list[Outbox]:
        with session_for(self.settings.db_url) as db:
            return list(
                db.exec(select(Outbox).where(Outbox.id.in_(ids), Outbox.status.in_(("pending", "failed"))))  # type: ignore[union-attr,attr-defined]
            )

    def _mark(self, row_id: int | None, status: str, error: str) -> None:
        from datetime import UTC, datetime

        with session_for(self.settings.db_url) as db:
            row = db.get(Outbox, row_id)
            if row is None:
                return
            row.attempts += 1
            row.status = status
            row.last_error = error[:500]
            if status == "sent":
                row.sent_at = to_db(datetime.now(UTC))
            db.add(row)
            db.commit()

    async def _send_email(self, row: Outbox) -> None:
        msg = EmailMessage()
        msg["From"] = self.settings.smtp_sender
        msg["To"] = row.address
        msg["Subject"] = row.subject
        msg["Message-ID"] = message_id(row)
        msg["Date"] = formatdate(localtime=False)
        msg["X-Jianyi-Key"] = f"{row.suggestion_id}|{row.kind}|{row.cycle}"
        msg.set_content(row.body)
        await aiosmtplib.send(
            msg,
            hostname=self.settings.smtp_host,
            port=self.settings.smtp_port,
            timeout=self.settings.smtp_timeout_seconds,
        )
