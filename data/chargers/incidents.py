"""Problems drivers report from a charger card ("Cable damaged", "Won't start", "Other" and a
text): one ``Incident`` per report, linked to the charger, for the operators to acknowledge and
resolve on the charger's page (issue 17).

``report_problem`` is the one way a report is written: the account and person come from the
caller (the page reads them from the server session), the charger must be one the account may
see, and the same driver reporting the same kind on the same charger again within
``DUPLICATE_WINDOW`` gets the first report back (nothing new is written). ``set_incident_status``
is the one way an operator changes one; the audit log records it.

The table is on ``data.core.models.Base``; ``data/migrations/env.py`` imports this module so that
the migrations compare against it too (migration 0022).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Index, Integer, String, Text, case, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from data.audit.entries import Action, Actor, record
from data.charging.dashboard import visible_charger_condition
from data.core.models import ID_LENGTH, Base, Charger, UTCDateTime, _enum


class IncidentKind(enum.StrEnum):
    cable_damaged = "cable_damaged"
    wont_start = "wont_start"
    other = "other"


class IncidentStatus(enum.StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"


KIND_LABELS = {
    IncidentKind.cable_damaged: "Cable damaged",
    IncidentKind.wont_start: "Won’t start",
    IncidentKind.other: "Other",
}
TEXT_MAX_LENGTH = 500
# The same driver, charger and kind again within this window: "already received", no new row.
DUPLICATE_WINDOW = timedelta(minutes=10)
# Reports of one account in the last hour, whatever the charger: more is refused.
REPORTS_PER_HOUR = 10

NO_SUCH_CHARGER = "That charger doesn’t exist or is not available to your account."
UNKNOWN_KIND = "Choose what is wrong: Cable damaged, Won’t start or Other."
TEXT_REQUIRED = "Say in a few words what is wrong (required for Other)."
TEXT_TOO_LONG = f"Keep it to {TEXT_MAX_LENGTH} characters, please."
TOO_MANY = "You have sent many reports in the last hour. Please try again later."


class Incident(Base):
    """A problem a driver reported on a charger. ``account_id`` / ``user_id``: who reported it
    (None once removed); ``acknowledged_*`` / ``resolved_*``: when and by whom (an operator's
    email, as the audit log names people)."""

    __tablename__ = "incidents"
    __table_args__ = (
        # One charger's incidents, newest first (its admin page).
        Index("ix_incidents_charger_created", "charger_id", "created_at"),
        # An account's recent reports (the duplicate check and the hourly limit).
        Index("ix_incidents_account_created", "account_id", "created_at"),
        # The open ones, counted for /admin/uptime.
        Index("ix_incidents_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    charger_id: Mapped[str] = mapped_column(ForeignKey("chargers.id", ondelete="CASCADE"))
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[IncidentKind] = mapped_column(_enum(IncidentKind, "incident_kind"))
    text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[IncidentStatus] = mapped_column(
        _enum(IncidentStatus, "incident_status"),
        default=IncidentStatus.open,
        server_default=IncidentStatus.open.value,
    )
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(254))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(254))


class ReportRefused(ValueError):
    """A report that is not written; the message is for the driver."""


class IncidentChangeError(ValueError):
    """An operator's change the app refuses; the message is for the admin."""


def reference(incident_id: int) -> str:
    """What the driver and the operators call it: ``I-0042``."""
    return f"I-{incident_id:04d}"


def parse_reference(value: object) -> int | None:
    """The id of ``I-0042`` (or ``42``); None for anything else."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    text = str(value).strip().upper().removeprefix("I-")
    return int(text) if text.isascii() and text.isdecimal() and len(text) < 10 else None


@dataclass(frozen=True)
class ProblemReport:
    """What the driver is told: the reference, the charger, and whether this report was
    already received (a duplicate: nothing new was written)."""

    incident_id: int
    charger_id: str
    friendly_name: str
    duplicate: bool

    @property
    def reference(self) -> str:
        return reference(self.incident_id)


def parse_kind(value: object) -> IncidentKind:
    try:
        return IncidentKind(value) if isinstance(value, str) else IncidentKind("")
    except ValueError:
        raise ReportRefused(UNKNOWN_KIND) from None


def clean_text(kind: IncidentKind, value: object) -> str | None:
    """The driver's words, trimmed; required for Other, at most ``TEXT_MAX_LENGTH``."""
    if value is not None and not isinstance(value, str):
        raise ReportRefused(TEXT_REQUIRED)
    text = (value or "").strip()
    if len(text) > TEXT_MAX_LENGTH:
        raise ReportRefused(TEXT_TOO_LONG)
    if kind is IncidentKind.other and not text:
        raise ReportRefused(TEXT_REQUIRED)
    return text or None


def reportable_charger(session: Session, account_id: str, charger_id: object) -> str | None:
    """The friendly name of ``charger_id`` if the account may see it (so may report on it);
    None for an unknown or invisible charger, or an id no charger can have."""
    if not isinstance(charger_id, str) or not 0 < len(charger_id) <= ID_LENGTH:
        return None
    return session.scalar(
        select(Charger.friendly_name).where(
            Charger.id == charger_id, visible_charger_condition(account_id)
        )
    )


def report_problem(
    session: Session,
    *,
    account_id: str,
    user_id: int | None,
    charger_id: object,
    kind: object,
    text: object,
    now: datetime,
) -> ProblemReport:
    """Write the driver's report on ``charger_id`` (one the account may see), or return the one
    they sent on it for the same kind (for Other: the same words) within ``DUPLICATE_WINDOW``.
    ``ReportRefused`` for an unknown or invisible charger, a kind or text that is not valid, or
    too many reports."""
    parsed = parse_kind(kind)
    words = clean_text(parsed, text)
    name = reportable_charger(session, account_id, charger_id)
    if name is None or not isinstance(charger_id, str):
        raise ReportRefused(NO_SUCH_CHARGER)
    same = [
        Incident.account_id == account_id,
        Incident.charger_id == charger_id,
        Incident.kind == parsed,
        Incident.created_at > now - DUPLICATE_WINDOW,
    ]
    if parsed is IncidentKind.other:
        same.append(Incident.text == words)  # "Other" with other words is another problem
    earlier = session.scalar(
        select(Incident.id)
        .where(*same)
        .order_by(Incident.created_at.desc(), Incident.id.desc())
        .limit(1)
    )
    if earlier is not None:
        return ProblemReport(earlier, charger_id, name, duplicate=True)
    recent = session.scalar(
        select(func.count()).where(
            Incident.account_id == account_id,
            Incident.created_at > now - timedelta(hours=1),
        )
    )
    if (recent or 0) >= REPORTS_PER_HOUR:
        raise ReportRefused(TOO_MANY)
    incident = Incident(
        charger_id=charger_id,
        account_id=account_id,
        user_id=user_id,
        kind=parsed,
        text=words,
        created_at=now,
        status=IncidentStatus.open,
    )
    session.add(incident)
    session.flush()
    return ProblemReport(incident.id, charger_id, name, duplicate=False)


@dataclass(frozen=True)
class IncidentRow:
    incident_id: int
    charger_id: str
    account_id: str | None
    kind: IncidentKind
    text: str | None
    created_at: datetime
    status: IncidentStatus
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None

    @property
    def reference(self) -> str:
        return reference(self.incident_id)


_COLUMNS = (
    Incident.id,
    Incident.charger_id,
    Incident.account_id,
    Incident.kind,
    Incident.text,
    Incident.created_at,
    Incident.status,
    Incident.acknowledged_at,
    Incident.acknowledged_by,
    Incident.resolved_at,
    Incident.resolved_by,
)


def charger_incidents(session: Session, charger_id: str, limit: int = 50) -> list[IncidentRow]:
    """A charger's incidents: those still to handle first, then the resolved; newest first."""
    settled = case((Incident.status == IncidentStatus.resolved, 1), else_=0)
    statement = (
        select(*_COLUMNS)
        .where(Incident.charger_id == charger_id)
        .order_by(settled, Incident.created_at.desc(), Incident.id.desc())
        .limit(limit)
    )
    return [IncidentRow(*row) for row in session.execute(statement)]


def open_incident_count(session: Session) -> int:
    """Incidents not resolved yet (open or acknowledged), the whole fleet."""
    statement = select(func.count()).where(Incident.status != IncidentStatus.resolved)
    return session.scalar(statement) or 0


# Where an operator may move an incident from each status.
_NEXT = {
    IncidentStatus.open: (IncidentStatus.acknowledged, IncidentStatus.resolved),
    IncidentStatus.acknowledged: (IncidentStatus.resolved,),
    IncidentStatus.resolved: (),
}
_ACTIONS = {
    IncidentStatus.acknowledged: Action.incident_acknowledged,
    IncidentStatus.resolved: Action.incident_resolved,
}


def next_statuses(status: IncidentStatus) -> tuple[IncidentStatus, ...]:
    return _NEXT[status]


def set_incident_status(
    session: Session,
    incident_id: object,
    status: object,
    *,
    charger_id: str | None = None,
    actor: Actor,
    now: datetime,
) -> IncidentRow:
    """Acknowledge or resolve an incident (of ``charger_id`` when given); kept in the audit log.
    ``IncidentChangeError`` for an unknown incident or a move its status does not allow."""
    try:
        wanted = IncidentStatus(status) if isinstance(status, str) else None
    except ValueError:
        wanted = None
    if wanted is None or wanted is IncidentStatus.open:
        raise IncidentChangeError("An incident can be acknowledged or resolved.")
    ident = parse_reference(incident_id)
    incident = session.get(Incident, ident, with_for_update=True) if ident is not None else None
    if incident is None or (charger_id is not None and incident.charger_id != charger_id):
        raise IncidentChangeError("There is no such incident (a wrong link?).")
    if wanted not in _NEXT[incident.status]:
        raise IncidentChangeError(
            f"{reference(incident.id)} is {incident.status.value} already: it can’t be "
            f"{wanted.value} now."
        )
    before = {"status": incident.status.value}
    incident.status = wanted
    if wanted is IncidentStatus.acknowledged:
        incident.acknowledged_at, incident.acknowledged_by = now, actor.user
    else:
        incident.resolved_at, incident.resolved_by = now, actor.user
    record(session, actor, now, _ACTIONS[wanted], "incident", reference(incident.id),
           before=before, after={"status": wanted.value},
           detail=f"{incident.charger_id}: {KIND_LABELS[incident.kind]}")  # fmt: skip
    session.flush()
    row = session.execute(select(*_COLUMNS).where(Incident.id == incident.id)).one()
    return IncidentRow(*row)
