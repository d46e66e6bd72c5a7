"""A stand-in for a deployment's SMS gateway: only the provider call itself is faked.

Bound with the real setting, ``sms_provider = "fake_sms:make"``; it keeps what it was asked to
send, and refuses numbers that start with ``000`` the way a gateway refuses a bad number.
"""

from __future__ import annotations

from typing import Any

SENT: list[tuple[str, str]] = []


class FakeGateway:
    def __init__(self, settings: Any) -> None:
        self.settings = settings

    async def send(self, phone: str, text: str) -> None:
        if phone.startswith("000"):
            raise RuntimeError(f"gateway refused {phone}: invalid number (code 1016)")
        SENT.append((phone, text))


def make(settings: Any) -> FakeGateway:
    return FakeGateway(settings)


def not_a_provider(settings: Any) -> object:
    return object()
