"""``/api/v1/me/...``: a driver's own chargers, sessions and reservations, for a customer
account's token with the ``me`` scope (registered on ``web.api``'s blueprint, whose
``before_request`` has checked the token, its scope and that its account is a customer one).

* ``GET /me/chargers``: the chargers the account may see (the dashboard's rule), with their
  status now and what charging there costs the account (its plan's tariff, else the operator's).
* ``GET /me/sessions``: its sessions newest first, ``limit`` (at most 200) at a time, continued
  with ``cursor`` (``next_cursor`` of the previous page); ``from``/``to`` (local days in the
  operator's time zone) and ``charger_id`` filter as ``/sessions`` does.
* ``GET /me/reservations``: its reservations not ended yet, earliest first.
* ``POST /me/reservations``: book ``charger_id`` over ``[starts_at, ends_at)`` (201); 409 with the
  reason when it cannot be (a charger it may not see, a start in the past, an overlap).
* ``DELETE /me/reservations/<id>``: cancel one of its own (204); another's is 404.

Every answer is the account's from the token, never from a parameter. Errors are ``ApiError``,
answered as ``{"error": "..."}`` by ``web.api``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from components.receipts import receipt_href
from components.tariffs import charger_price_parts
from config import offline_after_s
from data.accounts.tokens import TokenIdentity
from data.audit.entries import Actor
from data.charging.booking import book_charger, cancel_own_booking
from data.charging.dashboard import (
    account_plan,
    operator_settings,
    visible_chargers,
)
from data.charging.history import SessionListRow
from data.charging.my_sessions import (
    API_LIMIT_DEFAULT,
    API_LIMIT_MAX,
    CursorError,
    HistoryFilter,
    account_reservations,
    sessions_after,
    used_charger,
)
from data.charging.reservations import (
    ReservationError,
    ReservationRow,
    get_reservation,
)
from data.core.models import ID_LENGTH
from data.pricing.cost import TariffPrices
from web.db import read_scope, session_scope

ME_CHARGERS_MAX = 1000  # a driver's list, not the fleet's admin table


class ApiError(Exception):
    """An answer other than success: ``web.api`` turns it into ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --- the bodies ----------------------------------------------------------------------------------


class PriceOut(BaseModel):
    """What charging on this charger costs the account now (VAT included)."""

    currency: str
    energy_per_kwh: Decimal = Field(description="Its DC price on a charger above 22 kW.")
    time_per_hour: Decimal | None
    time_free_minutes: int | None
    session_fee: Decimal | None
    text: str = Field(examples=["€0.39/kWh · €0.50 per session"])


class MeChargerOut(BaseModel):
    id: str
    name: str
    connector_type: str
    max_power_kw: Decimal
    status: str = Field(examples=["Online", "In use", "Reserved", "Out of order", "Offline"])
    price: PriceOut | None = Field(description="None: no tariff prices the account's charging.")


class MeChargersOut(BaseModel):
    chargers: list[MeChargerOut]
    visible: int = Field(description="How many chargers the account may see in all.")
    available: int = Field(description="How many of those are Online now.")


class MeSessionOut(BaseModel):
    id: str
    charger_id: str
    charger_name: str
    started_at: datetime
    ended_at: datetime | None = Field(description="None: in progress.")
    energy_kwh: Decimal
    finalized: bool
    energy_disputed: bool = Field(description="Counted nowhere until the operator settles it.")
    cost_total: Decimal | None = Field(description="The stored cost, once finalized and priced.")
    currency: str | None
    receipt_url: str | None

    @classmethod
    def of(cls, row: SessionListRow) -> MeSessionOut:
        has_receipt = row.finalized and row.ended_at is not None and row.cost is not None
        return cls(
            id=row.session_id,
            charger_id=row.charger_id,
            charger_name=row.charger_name,
            started_at=row.started_at,
            ended_at=row.ended_at,
            energy_kwh=row.energy_kwh,
            finalized=row.finalized,
            energy_disputed=row.energy_disputed,
            cost_total=None if row.cost is None else row.cost.total,
            currency=None if row.cost is None else row.cost.currency,
            receipt_url=receipt_href(row.session_id) if has_receipt else None,
        )


class MeSessionsOut(BaseModel):
    sessions: list[MeSessionOut]
    next_cursor: str | None = Field(description="Pass as ``cursor`` for the next page; None: last.")


class SessionsQuery(BaseModel):
    """``GET /me/sessions``'s query parameters."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: date | None = Field(default=None, alias="from")
    to: date | None = None
    charger_id: str | None = Field(default=None, min_length=1, max_length=ID_LENGTH)
    limit: int = Field(default=API_LIMIT_DEFAULT, ge=1, le=API_LIMIT_MAX)
    cursor: str | None = Field(default=None, max_length=400)


class ReservationRequest(BaseModel):
    """``POST /me/reservations``: which charger, from when until when (with a time zone)."""

    model_config = ConfigDict(extra="forbid")

    charger_id: str = Field(min_length=1, max_length=ID_LENGTH, examples=["PX-003"])
    starts_at: AwareDatetime = Field(examples=["2026-12-24T08:00:00Z"])
    ends_at: AwareDatetime = Field(examples=["2026-12-24T09:30:00Z"])


class MeReservationOut(BaseModel):
    id: str
    charger_id: str
    charger_name: str
    starts_at: datetime
    ends_at: datetime
    status: str = Field(examples=["confirmed"])

    @classmethod
    def of(cls, row: ReservationRow) -> MeReservationOut:
        return cls(
            id=row.reservation_id,
            charger_id=row.charger_id,
            charger_name=row.charger_name,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            status=row.status,
        )


class MeReservationsOut(BaseModel):
    reservations: list[MeReservationOut]


ME_INPUTS: tuple[type[BaseModel], ...] = (ReservationRequest,)
ME_OUTPUTS: tuple[type[BaseModel], ...] = (
    MeChargersOut,
    MeSessionsOut,
    MeReservationsOut,
    MeReservationOut,
)


# --- helpers -------------------------------------------------------------------------------------


def _identity() -> TokenIdentity:
    identity: TokenIdentity = g.polaris_api_identity  # set by the blueprint's before_request
    return identity


def _json(model: BaseModel, status: int = 200) -> Response:
    response = current_app.response_class(
        model.model_dump_json(), status=status, mimetype="application/json"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _messages(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    return "; ".join(parts)


def _price(tariff: TariffPrices | None, max_power_kw: Decimal) -> PriceOut | None:
    if tariff is None:
        return None
    return PriceOut(
        currency=tariff.currency,
        energy_per_kwh=tariff.energy_price(max_power_kw),
        time_per_hour=tariff.time_price_per_hour,
        time_free_minutes=tariff.time_free_minutes,
        session_fee=tariff.session_fee,
        text=" · ".join(charger_price_parts(tariff, max_power_kw)),
    )


def _sessions_query() -> SessionsQuery:
    args = request.args
    repeated = sorted(k for k in args if len(args.getlist(k)) > 1)
    if repeated:
        raise ApiError(400, f"{repeated[0]}: give it once.")
    try:
        query = SessionsQuery.model_validate(args.to_dict())
    except ValidationError as exc:
        raise ApiError(400, _messages(exc)) from None
    if query.from_ is not None and query.to is not None and query.from_ > query.to:
        raise ApiError(400, "from: it is after to.")
    return query


# --- the routes ----------------------------------------------------------------------------------


def register_me_routes(bp: Blueprint) -> None:
    @bp.get("/me/chargers")
    def me_chargers() -> Response:
        account_id = _identity().account_id
        now = datetime.now(UTC)
        with read_scope() as s:
            listed = visible_chargers(
                s, account_id, now, ME_CHARGERS_MAX, offline_after_s=offline_after_s()
            )
            tariff = account_plan(s, account_id, now).tariff
        chargers = [
            MeChargerOut(
                id=c.charger_id,
                name=c.friendly_name,
                connector_type=c.connector_type,
                max_power_kw=Decimal(str(c.max_power_kw)),
                status=c.status.value,
                price=_price(tariff, Decimal(str(c.max_power_kw))),
            )
            for c in listed.chargers
        ]
        return _json(MeChargersOut(chargers=chargers, visible=listed.visible,
                                   available=listed.available))  # fmt: skip

    @bp.get("/me/sessions")
    def me_sessions() -> Response:
        query = _sessions_query()
        account_id = _identity().account_id
        flt = HistoryFilter(query.from_, query.to, query.charger_id)
        with read_scope() as s:
            tz = operator_settings(s).tz
            # One probe, not the list of every charger used.
            if flt.charger_id is not None and used_charger(s, account_id, flt.charger_id) is None:
                return _json(MeSessionsOut(sessions=[], next_cursor=None))
            try:
                rows, following = sessions_after(s, account_id, flt, tz, query.limit, query.cursor)
            except CursorError as exc:
                raise ApiError(400, f"cursor: {exc}") from None
        return _json(MeSessionsOut(sessions=[MeSessionOut.of(r) for r in rows],
                                   next_cursor=following))  # fmt: skip

    @bp.get("/me/reservations")
    def me_reservations() -> Response:
        account_id = _identity().account_id
        with read_scope() as s:
            rows = account_reservations(s, account_id, datetime.now(UTC))
        return _json(MeReservationsOut(reservations=[MeReservationOut.of(r) for r in rows]))

    @bp.post("/me/reservations")
    def me_book() -> Response:
        if not request.is_json:
            raise ApiError(415, "Send JSON (Content-Type: application/json).")
        body = request.get_json(silent=True)
        if body is None:
            raise ApiError(400, "The request body is not valid JSON.")
        try:
            asked = ReservationRequest.model_validate(body)
        except ValidationError as exc:
            raise ApiError(422, _messages(exc)) from None
        identity = _identity()
        try:
            with session_scope() as s:
                # The driver's booking rules, as on the dashboard: past, too long, too far
                # ahead, over the limit, a charger it may not see, an overlap (with the next
                # free time, never another account's reservation).
                row = book_charger(
                    s,
                    identity.account_id,
                    asked.charger_id,
                    asked.starts_at,
                    asked.ends_at,
                    datetime.now(UTC),
                    actor=Actor(identity.email, identity.user_id, identity.account_id),
                )
        except ReservationError as exc:
            raise ApiError(409, str(exc)) from None
        return _json(MeReservationOut.of(row), status=201)

    @bp.delete("/me/reservations/<reservation_id>")
    def me_cancel(reservation_id: str) -> Response:
        identity = _identity()
        gone = f"There is no reservation “{reservation_id[:ID_LENGTH]}” of yours."
        if len(reservation_id) > ID_LENGTH:
            raise ApiError(404, gone)
        try:
            with session_scope() as s:
                row = get_reservation(s, reservation_id)
                if row is None or row.account_id != identity.account_id:
                    raise ApiError(404, gone)
                cancel_own_booking(
                    s,
                    identity.account_id,
                    reservation_id,
                    datetime.now(UTC),
                    actor=Actor(identity.email, identity.user_id, identity.account_id),
                )
        except ReservationError as exc:
            raise ApiError(409, str(exc)) from None
        response = current_app.response_class(status=204)
        response.headers["Cache-Control"] = "no-store"
        return response


# --- OpenAPI -------------------------------------------------------------------------------------


ERROR_WORDS = {
    400: "Invalid JSON or query parameters.",
    401: "No token, or not a valid one.",
    403: "The token lacks the me scope, or its account is not a customer one.",
    404: "Not found (or not this account's).",
    409: "Refused, with the reason: a charger the account may not see, a start in the past, "
    "too long or too far ahead, over the account's open bookings, the time overlaps another "
    "reservation (the message names the next free time), or the booking has started.",
    415: "The body is not JSON.",
    422: "The body is JSON but not a valid request (missing fields, times without a zone...).",
}


def me_paths(prefix: str, ref: str) -> dict[str, Any]:
    """The ``/me`` paths of the OpenAPI document; ``ref``: the schema reference template."""

    def body(model: str, description: str) -> dict[str, Any]:
        schema = {"$ref": ref.format(model=model)}
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    def errors(*statuses: int) -> dict[str, Any]:
        return {str(status): body("ErrorOut", ERROR_WORDS[status]) for status in statuses}

    def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "schema": schema,
                "description": description}  # fmt: skip

    day = {"type": "string", "format": "date"}
    reservation_id = {
        "name": "reservation_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    return {
        f"{prefix}/me/chargers": {
            "get": {
                "operationId": "myChargers",
                "summary": "The chargers the account may see, with status and price",
                "responses": {
                    "200": body("MeChargersOut", "The chargers, most useful first."),
                    **errors(401, 403),
                },
            }
        },
        f"{prefix}/me/sessions": {
            "get": {
                "operationId": "mySessions",
                "summary": "The account's sessions, newest first, a page at a time",
                "parameters": [
                    query("from", day, "First local day (operator's time zone), inclusive."),
                    query("to", day, "Last local day, inclusive."),
                    query("charger_id", {"type": "string"}, "Only sessions on this charger."),
                    query(
                        "limit",
                        {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": API_LIMIT_MAX,
                            "default": API_LIMIT_DEFAULT,
                        },
                        "Sessions per page.",
                    ),  # fmt: skip
                    query("cursor", {"type": "string"}, "next_cursor of the previous page."),
                ],
                "responses": {
                    "200": body("MeSessionsOut", "A page of sessions."),
                    **errors(400, 401, 403),
                },
            }
        },
        f"{prefix}/me/reservations": {
            "get": {
                "operationId": "myReservations",
                "summary": "The account's reservations not ended yet, earliest first",
                "responses": {
                    "200": body("MeReservationsOut", "The reservations."),
                    **errors(401, 403),
                },
            },
            "post": {
                "operationId": "bookCharger",
                "summary": "Reserve a charger the account may see",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": ref.format(model="ReservationRequest")}
                        }
                    },
                },
                "responses": {
                    "201": body("MeReservationOut", "Booked."),
                    **errors(400, 401, 403, 409, 415, 422),
                },
            },
        },
        f"{prefix}/me/reservations/{{reservation_id}}": {
            "delete": {
                "operationId": "cancelMyReservation",
                "summary": "Cancel one of the account's reservations",
                "parameters": [reservation_id],
                "responses": {
                    "204": {"description": "Cancelled."},
                    **errors(401, 403, 404, 409),
                },
            }
        },
    }
