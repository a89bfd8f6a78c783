"""A local SMTP server for the worker's tests (``aiosmtpd`` on a free loopback port): what it
received, and optionally a number of messages it refuses first (a server that is busy)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.processes import free_port


@dataclass
class Inbox:
    """What the local SMTP server received; it answers ``451`` to the next ``refuse`` messages."""

    messages: list[Message] = field(default_factory=list)
    refuse: int = 0
    refused: int = 0

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse > 0:
            self.refuse -= 1
            self.refused += 1
            return "451 Try again later"
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]


@contextmanager
def local_smtp() -> Iterator[tuple[Inbox, int]]:
    """A local SMTP server while the block runs: its inbox and port."""
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()
