"""The notify activity: deliver outbox rows by email (SMTP). A retry never sends twice.

A row is marked ``sent`` right after the server accepts it; a retry skips sent rows. The one
window left (the server accepted, the worker died before the mark) is covered by a stable
Message-ID derived from the outbox key, so a mail system can drop the repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from datetime import UTC, datetime
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
        """Send the pending rows among ``ids`` over one SMTP connection; returns how many were sent now.

        Each row is marked sent synchronously right after the server's 250 for it, so the window
        in which a crash could make a retry send it again is one local database write.
        """
        rows = await asyncio.to_thread(self._pending, ids)
        if not rows:
            return 0
        smtp = aiosmtplib.SMTP(
            hostname=self.settings.smtp_host,
            port=self.settings.smtp_port,
            timeout=self.settings.smtp_timeout_seconds,
        )
        sent = 0
        try:
            await smtp.connect()
            for row in rows:
                await smtp.send_message(self._email(row))
                self._mark(row.id, "sent", "")
                sent += 1
        except (aiosmtplib.SMTPException, OSError) as exc:
            failed = rows[sent]
            await asyncio.to_thread(self._mark, failed.id, "failed", str(exc))
            raise
        finally:
            with contextlib.suppress(Exception):
                await smtp.quit()
        return sent

    def _pending(self, ids: list[int]) -> list[Outbox]:
        with session_for(self.settings.db_url) as db:
            return list(
                db.exec(select(Outbox).where(Outbox.id.in_(ids), Outbox.status.in_(("pending", "failed"))))  # type: ignore[union-attr,attr-defined]
            )

    def _mark(self, row_id: int | None, status: str, error: str) -> None:
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

    def _email(self, row: Outbox) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.settings.smtp_sender
        msg["To"] = row.address
        msg["Subject"] = row.subject
        msg["Message-ID"] = message_id(row)
        msg["Date"] = formatdate(localtime=False)
        msg["X-Jianyi-Key"] = f"{row.suggestion_id}|{row.kind}|{row.cycle}"
        msg.set_content(row.body)
        return msg
