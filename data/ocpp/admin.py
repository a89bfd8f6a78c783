"""What the operator sees and changes about chargers speaking OCPP (``/admin/ocpp``).

Per charger: when it was last heard from, the latest StatusNotification of each connector, its
customer-facing status, and whether it must log in with an HTTP Basic password. The password
itself is stored only as an argon2 hash (``data.accounts.passwords``) and never shown. Id tags (RFID
cards, app tokens) map to customer accounts for Authorize/StartTransaction. Reservations sent to
chargers list the charger's answers to ReserveNow/CancelReservation; refusals are flagged.
Sessions whose energy a charger reported implausibly (data/ocpp/energy.py) are listed until an
admin confirms the reported figure or corrects it.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import ColumnElement, case, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data.accounts.passwords import hash_password
from data.audit.entries import Action, Actor, record
from data.chargers.status import OFFLINE_AFTER_SECONDS, ChargerStatus, charger_status_expression
from data.core.models import (
    ID_LENGTH,
    Account,
    Charger,
    ChargingSession,
    ConnectorStatus,
    IdTag,
    OcppReservation,
    Reservation,
    Role,
    User,
)
from data.core.sql import KWH, kwh_decimal
from data.pricing.tariffs import price_session

CHARGER_LIMIT = 20  # rows on the page; the search narrows it down
TAG_LIMIT = 20
RESERVATION_LIMIT = 50
DISPUTE_LIMIT = 50
# sessions.energy_kwh is Numeric(12, 3).
MAX_SESSION_KWH = Decimal("999999999.999")
SEARCH_MAX_LENGTH = 200
ID_TAG_MAX_LENGTH = 20  # OCPP 1.6 IdToken is CiString20Type
PASSWORD_MIN_LENGTH = 16  # OCPP 1.6 security whitepaper, profile 1: 16 to 40 characters
PASSWORD_MAX_LENGTH = 40
_PASSWORD_CHARACTERS = frozenset(string.ascii_letters + string.digits + string.punctuation)
# Connector reports an operator must look at.
PROBLEM_STATUSES = frozenset({"Faulted", "Unavailable"})
# Answers to ReserveNow / CancelReservation that mean the charger is not holding (or releasing)
# the bay as asked, plus our own "no answer" and "error": shown highlighted.
PROBLEM_ANSWERS = frozenset(
    {"Rejected", "Occupied", "Faulted", "Unavailable", "no answer", "error", "no id tag"}
)


class OcppAdminError(ValueError):
    """Bad input for an OCPP edit; the message is meant for the operator, as is."""


@dataclass(frozen=True)
class ConnectorRow:
    connector_id: int  # 0: the whole charger
    status: str
    error_code: str
    info: str | None
    reported_at: datetime

    @property
    def problem(self) -> bool:
        return self.status in PROBLEM_STATUSES or self.error_code not in ("", "NoError")


@dataclass(frozen=True)
class OcppChargerRow:
    charger_id: str
    friendly_name: str
    last_seen_at: datetime | None
    status: ChargerStatus
    password_set: bool
    connectors: tuple[ConnectorRow, ...]


@dataclass(frozen=True)
class OcppChargerList:
    chargers: list[OcppChargerRow]
    total: int  # matching the search, of which at most CHARGER_LIMIT are listed


@dataclass(frozen=True)
class IdTagRow:
    id_tag: str
    account_id: str
    email: str
    label: str | None


@dataclass(frozen=True)
class IdTagList:
    tags: list[IdTagRow]
    total: int  # matching the search, of which at most TAG_LIMIT are listed


@dataclass(frozen=True)
class SentReservationRow:
    ocpp_reservation_id: int
    reservation_id: str
    charger_id: str
    charger_name: str
    account_id: str
    starts_at: datetime
    ends_at: datetime
    reservation_status: str
    answer: str  # state: sending, Accepted, Rejected, ..., cancel_sent, cancelled
    sent_at: datetime | None
    answered_at: datetime | None
    cancel_answer: str | None

    @property
    def problem(self) -> bool:
        return self.answer in PROBLEM_ANSWERS or self.cancel_answer in PROBLEM_ANSWERS


def _needle(text: object) -> str:
    return text.strip().lower()[:SEARCH_MAX_LENGTH] if isinstance(text, str) else ""


# --- chargers --------------------------------------------------------------------------------


def ocpp_chargers(
    session: Session,
    now: datetime,
    search: object = "",
    *,
    limit: int = CHARGER_LIMIT,  # at least 1
    offline_after_s: int = OFFLINE_AFTER_SECONDS,
) -> OcppChargerList:
    """Chargers whose id or name contains ``search`` (any case), with their OCPP facts: Out of
    order first, then Offline (what needs a technician), then by name.

    Two queries: the page of chargers (status by the customer rule), then their connectors by
    primary key (at most ``limit`` chargers)."""
    needle = _needle(search)
    matches = (
        or_(
            func.lower(Charger.id).contains(needle, autoescape=True),
            func.lower(Charger.friendly_name).contains(needle, autoescape=True),
        )
        if needle
        else None
    )
    listed = select(
        Charger.id,
        Charger.friendly_name,
        Charger.last_seen_at,
        Charger.ocpp_password_hash.is_not(None).label("password_set"),
        charger_status_expression(now, offline_after_s).label("status"),
    )
    if matches is not None:
        listed = listed.where(matches)
    page = listed.subquery("listed")
    first = case(
        (page.c.status == ChargerStatus.out_of_order.value, 0),
        (page.c.status == ChargerStatus.offline.value, 1),
        else_=2,
    )
    rows = session.execute(
        select(page, func.count().over().label("total"))
        .order_by(first, func.lower(page.c.friendly_name), page.c.id)
        .limit(max(limit, 0))
    ).all()
    if not rows:
        return OcppChargerList([], 0)
    ids = [r.id for r in rows]
    connectors: dict[str, list[ConnectorRow]] = {cid: [] for cid in ids}
    for c in session.scalars(
        select(ConnectorStatus)
        .where(ConnectorStatus.charger_id.in_(ids))
        .order_by(ConnectorStatus.charger_id, ConnectorStatus.connector_id)
    ):
        connectors[c.charger_id].append(
            ConnectorRow(c.connector_id, c.status, c.error_code, c.info, c.reported_at)
        )
    return OcppChargerList(
        [
            OcppChargerRow(
                r.id,
                r.friendly_name,
                r.last_seen_at,
                ChargerStatus(r.status),
                bool(r.password_set),
                tuple(connectors[r.id]),
            )
            for r in rows
        ],
        int(rows[0].total),
    )


def validate_ocpp_password(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise OcppAdminError("Type the password the charger will send (or clear it instead).")
    if not PASSWORD_MIN_LENGTH <= len(value) <= PASSWORD_MAX_LENGTH:
        raise OcppAdminError(
            f"Use {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters "
            f"(this one has {len(value)}): OCPP security profile 1 asks for that length."
        )
    if not set(value) <= _PASSWORD_CHARACTERS:
        raise OcppAdminError(
            "Use letters, digits and punctuation only (no spaces or accented letters): "
            "chargers type the password in plain ASCII."
        )
    return value


def _charger(session: Session, charger_id: object) -> Charger:
    if isinstance(charger_id, str) and 0 < len(charger_id.strip()) <= ID_LENGTH:
        charger = session.get(Charger, charger_id.strip())
        if charger is not None:
            return charger
    raise OcppAdminError("There is no charger with that id.")


def _password_state(charger: Charger) -> dict[str, str]:
    # What the audit log keeps of a charger's password: whether there is one, never the hash.
    return {"ocpp_password": "set" if charger.ocpp_password_hash else "not set"}


def set_ocpp_password(
    session: Session, charger_id: object, password: object, *, actor: Actor, now: datetime
) -> str:
    """Store the argon2 hash of the charger's HTTP Basic password; returns the charger's id.

    The central system then refuses that charger without it (existing connections keep going
    until they reconnect)."""
    value = validate_ocpp_password(password)
    charger = _charger(session, charger_id)
    before = _password_state(charger)
    replaced = charger.ocpp_password_hash is not None
    charger.ocpp_password_hash = hash_password(value)
    after = {"ocpp_password": "replaced" if replaced else "set"}
    record(
        session, actor, now, Action.charger_ocpp_password_set, "charger", charger.id,
        before=before, after=after,
    )  # fmt: skip
    return charger.id


def clear_ocpp_password(
    session: Session, charger_id: object, *, actor: Actor, now: datetime
) -> str:
    """The charger connects without Basic auth again; returns the charger's id."""
    charger = _charger(session, charger_id)
    before = _password_state(charger)
    charger.ocpp_password_hash = None
    record(
        session, actor, now, Action.charger_ocpp_password_cleared, "charger", charger.id,
        before=before, after=_password_state(charger),
    )  # fmt: skip
    return charger.id


# --- id tags ---------------------------------------------------------------------------------


def id_tags(session: Session, search: object = "", limit: int = TAG_LIMIT) -> IdTagList:
    """Id tags whose tag, account id, email or label contains ``search``, by tag."""
    needle = _needle(search)
    query = (
        select(
            IdTag.id_tag,
            IdTag.account_id,
            User.email,
            Account.label,
            func.count().over().label("total"),
        )
        .join(Account, Account.id == IdTag.account_id)
        .join(User, User.id == Account.user_id)
    )
    if needle:
        query = query.where(
            or_(
                *(
                    func.lower(col).contains(needle, autoescape=True)
                    for col in (IdTag.id_tag, IdTag.account_id, User.email, Account.label)
                )
            )
        )
    rows = session.execute(query.order_by(IdTag.id_tag).limit(max(limit, 1))).all()
    return IdTagList(
        [IdTagRow(r.id_tag, r.account_id, r.email, r.label) for r in rows],
        int(rows[0].total) if rows else 0,
    )


def validate_id_tag(value: object) -> str:
    tag = value.strip() if isinstance(value, str) else ""
    if not tag:
        raise OcppAdminError("Type the id tag (the RFID card's number or the app token).")
    if len(tag) > ID_TAG_MAX_LENGTH:
        raise OcppAdminError(
            f"An OCPP id tag has at most {ID_TAG_MAX_LENGTH} characters; this one has {len(tag)}."
        )
    if not tag.isprintable() or not tag.isascii() or any(ch.isspace() for ch in tag):
        raise OcppAdminError("Use letters, digits and punctuation only, no spaces.")
    return tag


def _customer_account(session: Session, account: object) -> Account:
    """The customer account named by its id, or by the email of a person with exactly one."""
    text = account.strip() if isinstance(account, str) else ""
    if not text or len(text) > SEARCH_MAX_LENGTH:
        raise OcppAdminError("Name the customer account: its id, or its person's email.")
    found = session.get(Account, text) if len(text) <= ID_LENGTH else None
    if found is None and "@" in text:
        owned = list(
            session.scalars(
                select(Account)
                .join(User, User.id == Account.user_id)
                .where(func.lower(User.email) == text.lower(), Account.role == Role.customer)
                .order_by(Account.id)
            )
        )
        if len(owned) > 1:
            ids = ", ".join(a.id for a in owned)
            raise OcppAdminError(f"{text} holds several customer accounts ({ids}): name one.")
        found = owned[0] if owned else None
    if found is None:
        raise OcppAdminError(f"No account {text!r}: use an account id or a person's email.")
    if found.role != Role.customer:
        raise OcppAdminError(
            f"{found.id} is an admin account: id tags start sessions for customer accounts."
        )
    return found


def assign_id_tag(
    session: Session, id_tag: object, account: object, *, actor: Actor, now: datetime
) -> IdTagRow:
    """Give ``id_tag`` to a customer account. A tag already in use is refused (remove it first),
    so a card can never silently move to someone else's bill."""
    tag = validate_id_tag(id_tag)
    owner = _customer_account(session, account)
    existing = session.get(IdTag, tag)
    if existing is not None:
        raise OcppAdminError(
            f"Id tag {tag} already belongs to {existing.account_id}: remove it there first."
        )
    session.add(IdTag(id_tag=tag, account_id=owner.id))
    try:
        session.flush()
    except IntegrityError:
        # Another operator assigned it between our check and our insert (the caller rolls back).
        raise OcppAdminError(f"Id tag {tag} was just assigned by someone else.") from None
    after = {"account_id": owner.id}
    record(session, actor, now, Action.id_tag_assigned, "id_tag", tag, after=after)
    user = session.get(User, owner.user_id)
    return IdTagRow(tag, owner.id, user.email if user else "", owner.label)


def remove_id_tag(session: Session, id_tag: object, *, actor: Actor, now: datetime) -> bool:
    """True if the tag existed and is gone; chargers then answer Invalid for it."""
    if not isinstance(id_tag, str) or not id_tag or len(id_tag) > ID_LENGTH:
        return False
    # One DELETE: two operators removing the same tag both end with it gone, one told so.
    owner = session.scalar(delete(IdTag).where(IdTag.id_tag == id_tag).returning(IdTag.account_id))
    if owner is None:
        return False
    before = {"account_id": owner}
    record(session, actor, now, Action.id_tag_removed, "id_tag", id_tag, before=before)
    return True


# --- reservations sent to chargers -----------------------------------------------------------


def sent_reservations(
    session: Session, limit: int = RESERVATION_LIMIT, *, problems_only: bool = False
) -> list[SentReservationRow]:
    """Reservations sent with ReserveNow, the most recently sent first (not yet sent last)."""
    query = (
        select(
            OcppReservation.id,
            OcppReservation.reservation_id,
            OcppReservation.charger_id,
            Charger.friendly_name,
            Reservation.account_id,
            Reservation.starts_at,
            Reservation.ends_at,
            Reservation.status,
            OcppReservation.state,
            OcppReservation.sent_at,
            OcppReservation.answered_at,
            OcppReservation.cancel_answer,
        )
        .join(Reservation, Reservation.id == OcppReservation.reservation_id)
        .join(Charger, Charger.id == OcppReservation.charger_id)
    )
    if problems_only:
        query = query.where(
            or_(
                OcppReservation.state.in_(PROBLEM_ANSWERS),
                OcppReservation.cancel_answer.in_(PROBLEM_ANSWERS),
            )
        )
    rows = session.execute(
        query.order_by(
            OcppReservation.sent_at.desc().nulls_last(), OcppReservation.id.desc()
        ).limit(max(limit, 0))
    ).all()
    return [
        SentReservationRow(
            r.id,
            r.reservation_id,
            r.charger_id,
            r.friendly_name,
            r.account_id,
            r.starts_at,
            r.ends_at,
            getattr(r.status, "value", str(r.status)),
            r.state,
            r.sent_at,
            r.answered_at,
            r.cancel_answer,
        )
        for r in rows
    ]


# --- sessions with disputed energy -----------------------------------------------------------


@dataclass(frozen=True)
class DisputedSessionRow:
    session_id: str
    account_id: str
    charger_id: str
    charger_name: str
    started_at: datetime
    ended_at: datetime | None
    energy_kwh: Decimal  # the last plausible figure (counted nowhere while disputed)
    reported_kwh: Decimal | None  # what the charger reported
    disputed_at: datetime


@dataclass(frozen=True)
class DisputedSessions:
    sessions: list[DisputedSessionRow]
    total: int  # of which at most the limit are listed


def disputed_sessions(
    session: Session, charger_id: str | None = None, limit: int = DISPUTE_LIMIT
) -> DisputedSessions:
    """Sessions whose energy is disputed (of one charger, or all), the latest flagged first."""
    where: list[ColumnElement[bool]] = [ChargingSession.energy_disputed_at.is_not(None)]
    if charger_id is not None:
        where.append(ChargingSession.charger_id == charger_id)
    total = session.scalar(select(func.count()).select_from(ChargingSession).where(*where)) or 0
    rows = session.execute(
        select(
            ChargingSession.id,
            ChargingSession.account_id,
            ChargingSession.charger_id,
            Charger.friendly_name,
            ChargingSession.started_at,
            ChargingSession.ended_at,
            ChargingSession.energy_kwh,
            ChargingSession.energy_disputed_kwh,
            ChargingSession.energy_disputed_at,
        )
        .join(Charger, Charger.id == ChargingSession.charger_id)
        .where(*where)
        .order_by(ChargingSession.energy_disputed_at.desc(), ChargingSession.id)
        .limit(max(limit, 0))
    ).all()
    return DisputedSessions(
        [
            DisputedSessionRow(
                r.id,
                r.account_id,
                r.charger_id,
                r.friendly_name,
                r.started_at,
                r.ended_at,
                kwh_decimal(r.energy_kwh),
                None if r.energy_disputed_kwh is None else kwh_decimal(r.energy_disputed_kwh),
                r.energy_disputed_at,
            )  # fmt: skip
            for r in rows
        ],
        int(total),
    )


def parse_energy_kwh(value: object) -> Decimal:
    """An energy figure an operator typed, in kWh with at most 3 decimals."""
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, bool) or not isinstance(text, str | int | float | Decimal) or text == "":
        raise OcppAdminError("Enter the session's energy in kWh, e.g. 12.5.")
    try:
        kwh = Decimal(str(text).replace(",", "."))
    except InvalidOperation:
        raise OcppAdminError(f"{text!r} is not a number of kWh.") from None
    if not kwh.is_finite() or kwh < 0:
        raise OcppAdminError("The energy must be a number of kWh, 0 or more.")
    if kwh > MAX_SESSION_KWH:
        raise OcppAdminError(f"At most {MAX_SESSION_KWH} kWh can be stored for a session.")
    if kwh != kwh.quantize(KWH):
        raise OcppAdminError("At most 3 decimals (Wh) please.")
    return kwh.quantize(KWH)


def resolve_energy_dispute(
    session: Session, session_id: object, actor: Actor, value: object, now: datetime
) -> Decimal:
    """An admin (``actor``, from an admin account) ends a session's energy dispute: ``value``
    None confirms what the charger reported, a figure corrects it. The session then counts
    again, with that energy (the rollup triggers put it back). Returns the energy now counted."""
    admin = actor.account_id
    account = session.get(Account, admin) if isinstance(admin, str) else None
    if account is None or account.role != Role.admin:
        raise PermissionError("Only an admin account may resolve an energy dispute.")
    row = (
        session.get(ChargingSession, session_id, with_for_update=True)
        if isinstance(session_id, str) and 0 < len(session_id) <= ID_LENGTH
        else None
    )
    if row is None or row.energy_disputed_at is None:
        raise OcppAdminError(
            f"Session {session_id!s:.{ID_LENGTH}} has no disputed energy (resolved already?)."
        )
    if value is None:
        reported = row.energy_disputed_kwh
        if reported is None:
            raise OcppAdminError("No figure was reported for this session: enter one instead.")
        if Decimal(reported) > MAX_SESSION_KWH:
            raise OcppAdminError(
                f"The reported {reported} kWh cannot be a session's energy: enter the real one."
            )
        energy = Decimal(reported).quantize(Decimal("0.001"))
    else:
        energy = parse_energy_kwh(value)
    before = {"energy_kwh": row.energy_kwh, "energy_disputed": True, "cost_total": row.cost_total}
    reported = row.energy_disputed_kwh
    row.energy_kwh = energy
    row.energy_disputed_at = None
    row.energy_resolved_at = now
    row.energy_resolved_by = account.id
    session.flush()
    # A finalized session's cost follows its energy (by the version that priced it, if any).
    price_session(session, row.id)
    action = Action.session_energy_confirmed if value is None else Action.session_energy_corrected
    after = {"energy_kwh": energy, "energy_disputed": False, "cost_total": row.cost_total}
    detail = None if reported is None else f"The charger reported {kwh_decimal(reported)} kWh."
    record(
        session, actor, now, action, "session", row.id, before=before, after=after, detail=detail
    )
    return energy
