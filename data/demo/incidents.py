"""The demo's problem reports from drivers, so a charger page shows one on the first start: an
open "Won't start" on the faulted charger (reported just after its fault), an acknowledged
"Cable damaged" on the Klinikum's faulty depot charger, and a resolved "Other" of Dana's on
her weekend charger. All older than the duplicate window, so a report made in the demo is new.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from data.chargers.incidents import IncidentKind, IncidentStatus
from data.demo.showcase import (
    DRIVER_ACCOUNT_ID,
    DRIVER_FAST_CHARGER_ID,
    FAULTED_CHARGER_ID,
    FAULTED_SINCE,
    FAULTY_DEPOT_CHARGER_ID,
    OPERATOR_EMAIL,
)


def incident_rows(
    now: datetime, public_driver: str, depot_driver: str, user_ids: dict[str, int]
) -> list[dict[str, Any]]:
    """Three incidents (ids 1-3, oldest first); ``user_ids`` by account id."""

    def row(account: str, charger: str, kind: IncidentKind, text: str | None,
            ago: timedelta) -> dict[str, Any]:  # fmt: skip
        return {
            "charger_id": charger,
            "account_id": account,
            "user_id": user_ids.get(account),
            "kind": kind,
            "text": text,
            "created_at": now - ago,
            "status": IncidentStatus.open,
            "acknowledged_at": None,
            "acknowledged_by": None,
            "resolved_at": None,
            "resolved_by": None,
        }

    resolved = row(DRIVER_ACCOUNT_ID, DRIVER_FAST_CHARGER_ID, IncidentKind.other,
                   "A petrol car parked in the charging bay all afternoon.",
                   timedelta(days=12, hours=3))  # fmt: skip
    resolved |= {
        "status": IncidentStatus.resolved,
        "acknowledged_at": now - timedelta(days=12, hours=2),
        "acknowledged_by": OPERATOR_EMAIL,
        "resolved_at": now - timedelta(days=11, hours=20),
        "resolved_by": OPERATOR_EMAIL,
    }
    cable = row(depot_driver, FAULTY_DEPOT_CHARGER_ID, IncidentKind.cable_damaged,
                "The cable's sleeve is split near the plug.",
                timedelta(days=2, hours=5))  # fmt: skip
    cable |= {
        "status": IncidentStatus.acknowledged,
        "acknowledged_at": now - timedelta(days=1, hours=22),
        "acknowledged_by": OPERATOR_EMAIL,
    }
    wont_start = row(public_driver, FAULTED_CHARGER_ID, IncidentKind.wont_start, None,
                     FAULTED_SINCE - timedelta(minutes=12))  # fmt: skip
    return [resolved, cable, wont_start]
