"""A charger's status as its pill shows it, alike on the dashboard and the admin pages."""

from __future__ import annotations

from data.chargers.status import ChargerStatus

UNKNOWN_STATUS_TEXT = "—"

_STATUS_CLASS = {
    ChargerStatus.online: "status-online text-bg-success",
    ChargerStatus.in_use: "status-in-use text-bg-primary",
    ChargerStatus.reserved: "status-reserved text-bg-warning",
    ChargerStatus.out_of_order: "status-out-of-order text-bg-danger",
    ChargerStatus.offline: "status-offline text-bg-secondary",
}
_PILL_BASE = "badge rounded-pill charger-status"


def status_text(status: ChargerStatus | None) -> str:
    return UNKNOWN_STATUS_TEXT if status is None else str(status)


def status_class(status: ChargerStatus | None) -> str:
    """The pill's classes: colour and (via CSS) an icon per status; neutral when unknown."""
    if status is None:
        return f"{_PILL_BASE} status-unknown text-bg-light border"
    return f"{_PILL_BASE} {_STATUS_CLASS[status]}"
