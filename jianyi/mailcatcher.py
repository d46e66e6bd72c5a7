"""A local mail catcher (aiosmtpd): `make run` starts one so reminders can be read without a mail server.

Tests use the same class as a real SMTP server that receives the engine's messages.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller


@dataclass
class Received:
    to: list[str]
    message: EmailMessage

    @property
    def key(self) -> str:
        return str(self.message.get("X-Jianyi-Key", ""))

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        part = self.message.get_body(("plain",))
        return part.get_content() if part else ""


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    maildir: Path | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802, ANN201
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self.lock:
            self.received.append(Received(list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
            if self.maildir is not None:
                self.maildir.mkdir(parents=True, exist_ok=True)
                (self.maildir / f"{len(self.received):06d}.eml").write_bytes(envelope.original_content or envelope.content)
        return "250 OK"


class MailCatcher:
    """An SMTP server on loopback that keeps what it receives (and writes .eml files if asked)."""

    def __init__(self, port: int = 0, maildir: Path | None = None, host: str = "127.0.0.1") -> None:
        self.handler = _Handler(maildir=maildir)
        self.controller = Controller(self.handler, hostname=host, port=port or _free_port(host))

    @property
    def port(self) -> int:
        return self.controller.port

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def start(self) -> MailCatcher:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
