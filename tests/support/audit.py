"""Who acts in tests that are not about the audit log: the command line (``CLI``), at ``AT``
(the moment only stamps the entry; the tests of the log itself use their own)."""

from __future__ import annotations

from datetime import UTC, datetime

from data.audit.entries import COMMAND_LINE, Actor

CLI = COMMAND_LINE
AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def admin(account_id: str, user_id: int | None = None) -> Actor:
    """An admin acting from ``account_id`` (the pages' ``current_actor``)."""
    return Actor("admin@example.com", user_id, account_id)
