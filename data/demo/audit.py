"""The demo operator's audit trail: the causes, exclusions and notes Olga gave the demo's
outages, recorded as ``/admin/uptime`` would have recorded them, so ``/admin/audit`` has a story
on first start (and the excluded minutes of ``/admin/uptime`` say who excluded them)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.audit.entries import Action, Actor, record
from data.core.models import User
from data.demo.showcase import OPERATOR_EMAIL, OPS_ACCOUNT_ID
from data.uptime.outages import OutageCause

# Olga looks at an outage this long after it ended (or began, while it lasts).
REVIEW_DELAY = timedelta(hours=3)
COUNTED = {"cause": OutageCause.unknown.value, "excluded": False, "note": None}


def record_outage_reviews(session: Session, outages: list[dict[str, Any]], now: datetime) -> int:
    """One ``outage.updated`` entry by the demo operator for each outage that has a cause,
    oldest first; returns how many. The outages' rows carry their ids already."""
    user_id = session.scalar(select(User.id).where(User.email == OPERATOR_EMAIL))
    olga = Actor(OPERATOR_EMAIL, user_id, OPS_ACCOUNT_ID)
    reviews = []
    for row in outages:
        if row["cause"] == OutageCause.unknown:
            continue
        at = min((row["ended_at"] or row["started_at"]) + REVIEW_DELAY, now - timedelta(minutes=5))
        reviews.append((at, row))
    reviews.sort(key=lambda r: (r[0], r[1]["id"]))
    for at, row in reviews:
        after = {"cause": OutageCause(row["cause"]).value, "excluded": row["excluded"]}
        record(session, olga, at, Action.outage_updated, "outage", row["id"],
               before=COUNTED, after={**after, "note": row["note"]})  # fmt: skip
    return len(reviews)
