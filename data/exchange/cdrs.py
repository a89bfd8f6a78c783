"""``/export/cdrs.json``: the finalized sessions as OCPI 2.2.1 CDRs (Charge Detail Records), a JSON
array streamed one object at a time from a server-side cursor (``cdr_chunks``).

Which sessions: those of ``sessions.csv`` for the same query string
(``exports.sessions_conditions``) that are finalized, not disputed (``sessions.csv`` writes a
disputed one ``finalized=false``) and priced. A session that no tariff prices has no cost
(``shared/spec/data-exchange.md``), so it has no CDR: OCPI requires ``total_cost`` and we never
write a made-up 0. Once a tariff prices it, its CDR appears.

Every amount is the stored cost of the session (``data.pricing``), never recomputed: ``total_cost``
incl. VAT is ``cost_total`` and excl. VAT ``cost_total - vat_amount``; ``total_energy_cost``,
``total_time_cost`` and ``total_fixed_cost`` (the session fee) are ``cost_energy``, ``cost_time``
and ``cost_fee`` incl. VAT, and the stored VAT split over them in proportion (the remainder of the
rounding on the largest part), so the three parts excl. VAT add up to ``total_cost.excl_vat``.
Money is written as a JSON number with the currency's minor-unit digits (EUR ``6.40``, JPY
``640``), from the Decimal, never through a float.

What OCPI asks that Polaris has or chooses (README "CSV exports for analysts"):

- ``country_code``/``party_id``: of the operator (``CdrParty``: settings
  ``POLARIS_OCPI_COUNTRY_CODE``, else the country of the operator's time zone, else ``ZZ``,
  unknown; ``POLARIS_OCPI_PARTY_ID``, default ``PLX``). Polaris is its drivers' eMSP too, so
  tokens carry the same party.
- ``cdr_token``: the OCPP id tag that started the session (``RFID``) when the session came from
  the OCPP feed, else the account (``APP_USER``); ``contract_id`` is the account id;
  ``auth_method`` is ``WHITELIST`` (Polaris checks its own id tags, no eMSP is asked).
- ``cdr_location``: one location and one EVSE per charger (ids from the charger id), ``name`` the
  charger's name. Polaris keeps no street address or coordinates: ``address`` and ``city`` are
  empty and ``coordinates`` are ``0.000000``; ``country`` is the alpha-3 code of ``country_code``.
  ``evse_id`` follows eMI3 (``DE*PLX*E`` and the charger id in capitals, other characters as
  ``*``). ``connector_id`` is the OCPP connector (``1`` without the feed). The connector type
  maps as ``CONNECTOR_STANDARDS`` (NACS: ``TESLA_S``, the Tesla connector that SAE J3400
  standardised; OCPI 2.2.1 has no NACS); the format is ``CABLE``, but ``SOCKET`` for Type 2; the
  power type is ``DC`` above 22 kW (the cost rule's DC threshold), else ``AC_3_PHASE`` for Type 2
  and CCS above 7.4 kW, else ``AC_1_PHASE``.
- ``tariffs``: the tariff version that priced the session as an OCPI Tariff (prices excl. VAT to
  4 decimals, ``vat`` the version's rate; ``ENERGY``, ``FLAT`` the session fee, and the time price
  as ``TIME`` and ``PARKING_TIME`` from the end of the free minutes, ``min_duration``; ``step_size``
  1: Polaris bills exact Wh and seconds). On a charger above 22 kW whose tariff has a DC energy
  price, the tariff is the DC one, its id the tariff id with ``~DC``.
- ``charging_periods``: one period, the whole session, with ``ENERGY`` (kWh) and ``TIME`` (hours);
  Polaris does not measure idle time (its time price counts the whole session), so
  ``total_parking_time`` is 0.
- ids longer than OCPI allows (or not printable ASCII) become ``~`` and 35 hex digits of their
  SHA-256 (``ocpi_id``). ``last_updated``: when the session ended, or when an admin last
  resolved its energy. DateTimes in UTC, to the millisecond (OCPI's 25 characters).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib.resources import files
from typing import Any
from zoneinfo import ZoneInfo

from babel.core import get_global
from sqlalchemy import select
from sqlalchemy.orm import Session

from data.core.db import Database
from data.core.models import Charger, ChargingSession, ConnectorType, OcppTransaction
from data.core.sql import AnySelect, Bytewise
from data.exchange.export_stream import (
    CHUNK_BYTES,
    CURSOR_BATCH_ROWS,
    EXPORT_STATEMENT_TIMEOUT_MS,
    bound_export_statement,
)
from data.exchange.exports import ExportFilter, sessions_conditions
from data.exchange.format import format_timestamp
from data.pricing.cost import DC_ABOVE_KW, TariffPrices, elapsed_seconds, minor_unit
from data.pricing.tariffs import Versions

DEFAULT_PARTY_ID = "PLX"  # "Polaris eXpress"; an operator sets its registered ISO 15118 id
UNKNOWN_COUNTRY = "ZZ"  # ISO 3166 user-assigned; CLDR's "unknown region"
UNKNOWN_COUNTRY_ALPHA3 = "ZZZ"
CI_ID_LENGTH = 36  # CiString(36): CDR (non-credit), location, EVSE, connector, tariff ids, tokens
EVSE_ID_LENGTH = 48
NAME_LENGTH = 255
TARIFF_TEXT_LENGTH = 512
UNKNOWN_COORDINATE = "0.000000"
AUTH_METHOD = "WHITELIST"
HASHED_ID_PREFIX = "~"  # an id too long for OCPI, hashed (``ocpi_id``)
DC_TARIFF_SUFFIX = "~DC"  # "~" is in no Polaris tariff id, so no real tariff can clash
SINGLE_PHASE_UP_TO_KW = Decimal("7.4")  # 32 A on one phase of 230 V
PRICE_PLACES = Decimal("0.0001")  # OCPI numbers: 4 decimals unless said otherwise
HOURS_PLACES = Decimal("0.0001")
_SECONDS_PER_HOUR = Decimal(3600)

CONNECTOR_STANDARDS: dict[ConnectorType, str] = {
    ConnectorType.ccs: "IEC_62196_T2_COMBO",
    ConnectorType.type2: "IEC_62196_T2",
    ConnectorType.chademo: "CHADEMO",
    ConnectorType.j1772: "IEC_62196_T1",
    # OCPI 2.2.1 has no NACS: it is the Tesla "Model-S" connector, standardised as SAE J3400.
    ConnectorType.nacs: "TESLA_S",
}
_THREE_PHASE_CONNECTORS = frozenset({ConnectorType.type2, ConnectorType.ccs})
_PRINTABLE_ASCII = re.compile(r"[ -~]*")
_EMI3_OUTLET = re.compile(r"[^A-Z0-9]")
_EMI3_OUTLET_LENGTH = 30
_COUNTRY = re.compile(r"[A-Za-z]{2}")
_PARTY = re.compile(r"[A-Za-z0-9]{3}")


# --- who owns the CDRs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CdrParty:
    """The CPO that owns the CDRs (and, Polaris being its drivers' eMSP too, their tokens)."""

    country_code: str  # ISO 3166-1 alpha-2, capitals
    party_id: str  # ISO 15118 operator id, 3 capitals or digits


def ocpi_country_code(text: str) -> str:
    """An ISO 3166-1 alpha-2 code as OCPI writes it (``de`` -> ``DE``); ValueError otherwise."""
    code = text.strip()
    if not _COUNTRY.fullmatch(code):
        raise ValueError(f"a country code is two letters (ISO 3166-1 alpha-2), not {text[:20]!r}")
    return code.upper()


def ocpi_party_id(text: str) -> str:
    """An ISO 15118 party id: three letters or digits (``plx`` -> ``PLX``); ValueError otherwise."""
    party = text.strip()
    if not _PARTY.fullmatch(party):
        raise ValueError(f"a party id is three letters or digits, not {text[:20]!r}")
    return party.upper()


@cache
def _zone_countries() -> dict[str, str]:
    # tzdata's zone.tab: one country per zone ("DE  +5230+01322  Europe/Berlin").
    table = files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    countries = {}
    for line in table.splitlines():
        if line and not line.startswith("#"):
            code, _coordinates, zone, *_comment = line.split("\t")
            countries[zone] = code
    return countries


def country_of_time_zone(tz: ZoneInfo | str) -> str | None:
    """The country whose zone ``tz`` is (``Europe/Berlin`` -> ``DE``); None for ``UTC`` and
    zones of no single country."""
    return _zone_countries().get(tz if isinstance(tz, str) else tz.key)


def cdr_party(country_code: str | None, party_id: str, tz: ZoneInfo) -> CdrParty:
    """The operator's party: ``country_code`` when set, else the country of its time zone, else
    ``ZZ`` (unknown)."""
    country = country_code or country_of_time_zone(tz) or UNKNOWN_COUNTRY
    return CdrParty(ocpi_country_code(country), ocpi_party_id(party_id))


# Codes CLDR still lists as aliases of a current one: never the answer.
_RETIRED_ALPHA3 = frozenset({"BUR", "DDR", "FXX", "TMP", "YMD", "ZAR"})


@cache
def _alpha3_codes() -> dict[str, str]:
    aliases: Mapping[str, list[str]] = get_global("territory_aliases")
    return {
        targets[0]: alias
        for alias, targets in aliases.items()
        if len(alias) == 3 and alias.isalpha() and len(targets) == 1
        and alias not in _RETIRED_ALPHA3
    }  # fmt: skip


def alpha3(country_code: str) -> str:
    """ISO 3166-1 alpha-3 of an alpha-2 code (``DE`` -> ``DEU``), from Babel's CLDR data;
    ``ZZZ`` for a code it does not know."""
    return _alpha3_codes().get(country_code.upper(), UNKNOWN_COUNTRY_ALPHA3)


# --- OCPI's types --------------------------------------------------------------------------------


def ocpi_id(text: str, length: int = CI_ID_LENGTH) -> str:
    """``text`` as an OCPI CiString(``length``) id: itself when it is printable ASCII and short
    enough, else ``~`` and hex digits of its SHA-256 (the same text, the same id; ``~`` starts
    no id a Polaris form accepts)."""
    if len(text) <= length and _PRINTABLE_ASCII.fullmatch(text):
        return text
    return HASHED_ID_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()[: length - 1]


def ocpi_string(text: str, length: int) -> str:
    """An OCPI string: control characters (line breaks, tabs, ...) as spaces, at most
    ``length`` characters."""
    clean = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)
    return clean[:length]


def ocpi_datetime(value: datetime) -> str:
    """``2026-10-25T00:30:00Z``, to the millisecond (OCPI's DateTime is at most 25 characters)."""
    return format_timestamp(value.replace(microsecond=value.microsecond // 1000 * 1000))


def evse_id(party: CdrParty, charger_id: str) -> str:
    """An eMI3 EVSE ID (``DE*PLX*EC*STREET``): country, party, ``E`` and the charger id in
    capitals with other characters as ``*`` (a hash when longer than eMI3's 30)."""
    outlet = _EMI3_OUTLET.sub("*", charger_id.upper())
    if not outlet or len(outlet) > _EMI3_OUTLET_LENGTH:
        digest = hashlib.sha256(charger_id.encode("utf-8")).hexdigest().upper()
        outlet = digest[:_EMI3_OUTLET_LENGTH]
    return f"{party.country_code}*{party.party_id}*E{outlet}"


def is_dc(max_power_kw: Decimal | None) -> bool:
    """Above 22 kW: DC, as the cost rule's DC energy price (``data.pricing.cost``)."""
    return max_power_kw is not None and Decimal(str(max_power_kw)) > DC_ABOVE_KW


def power_type(connector: ConnectorType, max_power_kw: Decimal | None) -> str:
    if is_dc(max_power_kw):
        return "DC"
    power = Decimal(str(max_power_kw or 0))
    if connector in _THREE_PHASE_CONNECTORS and power > SINGLE_PHASE_UP_TO_KW:
        return "AC_3_PHASE"
    return "AC_1_PHASE"


def connector_format(connector: ConnectorType) -> str:
    # Type 2 points usually have a socket; the others come with their cable.
    return "SOCKET" if connector == ConnectorType.type2 else "CABLE"


def money(amount: Decimal, currency: str) -> Decimal:
    """``amount`` with the currency's minor-unit digits (``6.4`` EUR -> ``6.40``; JPY ``640``).
    Stored costs are in minor units already: this only fixes how many digits are written."""
    return Decimal(amount).quantize(minor_unit(currency))


def _number(value: Decimal, places: Decimal | None = None) -> Decimal:
    """A number as OCPI writes it: rounded to ``places`` when given, no trailing zeros."""
    if places is not None:
        value = value.quantize(places, rounding=ROUND_HALF_UP)
    normal = value.normalize()
    return normal if normal != 0 else Decimal(0)


def _excl_vat(price: Decimal, vat_percent: Decimal | None) -> Decimal:
    if vat_percent is None:
        return _number(price, PRICE_PLACES)
    return _number(price / (1 + vat_percent / 100), PRICE_PLACES)


# --- the tariff ------------------------------------------------------------------------------


def tariff_id_for(version: TariffPrices, max_power_kw: Decimal | None) -> str:
    """The OCPI tariff id: the tariff's, with ``~DC`` where its DC energy price applies."""
    if version.dc_energy_price_per_kwh is not None and is_dc(max_power_kw):
        return ocpi_id(version.tariff_id + DC_TARIFF_SUFFIX)
    return ocpi_id(version.tariff_id)


def _component(kind: str, price: Decimal, vat: Decimal | None) -> dict[str, Any]:
    component: dict[str, Any] = {"type": kind, "price": _excl_vat(price, vat)}
    if vat is not None:
        component["vat"] = _number(vat)
    component["step_size"] = 1
    return component


def ocpi_tariff(
    version: TariffPrices,
    max_power_kw: Decimal | None,
    party: CdrParty,
    end: datetime | None,
) -> dict[str, Any]:
    """The tariff version as an OCPI Tariff, as it prices a charger of ``max_power_kw``; ``end``
    is when the tariff's next version starts (None: none yet)."""
    vat = version.vat_percent
    always: list[dict[str, Any]] = []
    dc_price = version.dc_energy_price_per_kwh is not None and is_dc(max_power_kw)
    if version.energy_price_per_kwh is not None or dc_price:
        always.append(_component("ENERGY", version.energy_price(max_power_kw), vat))
    if version.session_fee is not None:
        always.append(_component("FLAT", version.session_fee, vat))
    elements: list[dict[str, Any]] = []
    time_price = version.time_price_per_hour
    free_seconds = (version.time_free_minutes or 0) * 60
    timed = [
        _component(kind, time_price, vat)
        for kind in ("TIME", "PARKING_TIME")  # the time price holds charging or not
        if time_price is not None
    ]
    if free_seconds == 0:
        always += timed
    if always:
        elements.append({"price_components": always})
    if timed and free_seconds:
        elements.append({"price_components": timed, "restrictions": {"min_duration": free_seconds}})
    if not elements:  # OCPI's "free of charge": a FLAT price of 0
        elements.append({"price_components": [_component("FLAT", Decimal(0), vat)]})
    tariff: dict[str, Any] = {
        "country_code": party.country_code,
        "party_id": party.party_id,
        "id": tariff_id_for(version, max_power_kw),
        "currency": version.currency,
        "tariff_alt_text": [
            {"language": "en", "text": ocpi_string(version.name, TARIFF_TEXT_LENGTH)}
        ],
        "elements": elements,
        "start_date_time": ocpi_datetime(version.valid_from),
    }
    if end is not None:
        tariff["end_date_time"] = ocpi_datetime(end)
    tariff["last_updated"] = ocpi_datetime(version.valid_from)  # versions never change
    return tariff


def _next_version_start(versions: Versions, version: TariffPrices) -> datetime | None:
    later = [v.valid_from for v in versions.by_tariff.get(version.tariff_id, ())]
    return min((at for at in later if at > version.valid_from), default=None)


# --- the CDRs ----------------------------------------------------------------------------------


def _billed() -> list[Any]:
    s = ChargingSession
    return [
        s.finalized.is_(True),
        s.ended_at.is_not(None),
        s.energy_disputed_at.is_(None),
        s.cost_total.is_not(None),
    ]


def cdr_statement(session: Session, flt: ExportFilter, tz: ZoneInfo) -> AnySelect:
    """The sessions of the CDRs, with their charger and OCPP transaction, in the order of
    ``sessions.csv`` (session id, byte order)."""
    s, tx = ChargingSession, OcppTransaction
    return (
        select(
            s.id,
            s.account_id,
            s.charger_id,
            s.started_at,
            s.ended_at,
            s.energy_kwh,
            s.energy_resolved_at,
            s.tariff_id,
            s.tariff_valid_from,
            s.currency,
            s.cost_energy,
            s.cost_time,
            s.cost_fee,
            s.cost_total,
            s.vat_amount,
            Charger.friendly_name,
            Charger.connector_type,
            Charger.max_power_kw,
            tx.connector_id,
            tx.id_tag,
        )
        .join(Charger, Charger.id == s.charger_id)
        .outerjoin(tx, tx.session_id == s.id)
        .where(*sessions_conditions(session, flt, tz), *_billed())
        .order_by(Bytewise(s.id))
    )


def split_vat(parts: list[Decimal], vat: Decimal, currency: str) -> list[Decimal]:
    """The VAT in each of ``parts`` (amounts incl. VAT): ``vat`` in proportion, in minor units,
    the rounding's remainder on the largest part, so they add up to ``vat`` exactly."""
    total = sum(parts, Decimal(0))
    if total == 0:
        shares = [Decimal(0) for _ in parts]
    else:
        unit = minor_unit(currency)
        shares = [(vat * part / total).quantize(unit, rounding=ROUND_HALF_UP) for part in parts]
    largest = max(range(len(parts)), key=lambda i: parts[i])
    shares[largest] += vat - sum(shares, Decimal(0))
    return shares


def _price(incl: Decimal, vat: Decimal, currency: str) -> dict[str, Decimal]:
    return {"excl_vat": money(incl - vat, currency), "incl_vat": money(incl, currency)}


class CdrBuilder:
    """Turns the rows of ``cdr_statement`` into CDRs. The tariff versions are a short list,
    loaded once; each tariff's JSON is built once per export."""

    def __init__(self, versions: Versions, party: CdrParty) -> None:
        self.versions = versions
        self.party = party
        # (tariff, version, DC) -> the OCPI Tariff and its JSON
        self._tariffs: dict[tuple[str, datetime, bool], tuple[dict[str, Any], str] | None] = {}

    def _tariff(self, row: Any) -> tuple[dict[str, Any], str] | None:
        key = (row.tariff_id, row.tariff_valid_from, is_dc(row.max_power_kw))
        if key not in self._tariffs:
            version = self.versions.get(row.tariff_id, row.tariff_valid_from)
            if version is None:
                self._tariffs[key] = None
            else:
                end = _next_version_start(self.versions, version)
                tariff = ocpi_tariff(version, row.max_power_kw, self.party, end)
                self._tariffs[key] = (tariff, json_text(tariff))
        return self._tariffs[key]

    def cdr_json(self, row: Any) -> str:
        """``cdr(row)`` as JSON, its tariff written once per export and reused."""
        cdr = self.cdr(row)
        tariff = self._tariff(row)
        if tariff is None:
            return json_text(cdr)
        cdr["tariffs"] = [_TARIFF_SLOT]
        return json_text(cdr).replace(json.dumps(_TARIFF_SLOT, ensure_ascii=False), tariff[1], 1)

    def cdr(self, row: Any) -> dict[str, Any]:
        """One CDR (a dict whose numbers are Decimals: write it with ``json_text``)."""
        party = self.party
        currency = row.currency
        energy_kwh = _number(Decimal(str(row.energy_kwh)))
        hours = _number(
            elapsed_seconds(row.started_at, row.ended_at) / _SECONDS_PER_HOUR, HOURS_PLACES
        )
        start = ocpi_datetime(row.started_at)
        parts = [Decimal(str(v)) for v in (row.cost_energy, row.cost_time, row.cost_fee)]
        total, vat = Decimal(str(row.cost_total)), Decimal(str(row.vat_amount))
        vat_energy, vat_time, vat_fee = split_vat(parts, vat, currency)
        connector = ConnectorType(row.connector_type)
        location_id = ocpi_id(row.charger_id)
        found = self._tariff(row)
        tariff = None if found is None else found[0]
        period: dict[str, Any] = {
            "start_date_time": start,
            "dimensions": [
                {"type": "ENERGY", "volume": energy_kwh},
                {"type": "TIME", "volume": hours},
            ],
        }
        if tariff is not None:
            period["tariff_id"] = tariff["id"]
        token_uid, token_type = (row.id_tag, "RFID") if row.id_tag else (row.account_id, "APP_USER")
        updated = max(row.ended_at, row.energy_resolved_at or row.ended_at)
        return {
            "country_code": party.country_code,
            "party_id": party.party_id,
            "id": ocpi_id(row.id),
            "start_date_time": start,
            "end_date_time": ocpi_datetime(row.ended_at),
            "cdr_token": {
                "country_code": party.country_code,
                "party_id": party.party_id,
                "uid": ocpi_id(token_uid),
                "type": token_type,
                "contract_id": ocpi_id(row.account_id),
            },
            "auth_method": AUTH_METHOD,
            "cdr_location": {
                "id": location_id,
                "name": ocpi_string(row.friendly_name, NAME_LENGTH),
                "address": "",
                "city": "",
                "country": alpha3(party.country_code),
                "coordinates": {"latitude": UNKNOWN_COORDINATE, "longitude": UNKNOWN_COORDINATE},
                "evse_uid": location_id,
                "evse_id": evse_id(party, row.charger_id),
                "connector_id": str(row.connector_id) if row.connector_id is not None else "1",
                "connector_standard": CONNECTOR_STANDARDS[connector],
                "connector_format": connector_format(connector),
                "connector_power_type": power_type(connector, row.max_power_kw),
            },
            "currency": currency,
            "tariffs": [] if tariff is None else [tariff],
            "charging_periods": [period],
            "total_cost": _price(total, vat, currency),
            "total_fixed_cost": _price(parts[2], vat_fee, currency),
            "total_energy": energy_kwh,
            "total_energy_cost": _price(parts[0], vat_energy, currency),
            "total_time": hours,
            "total_time_cost": _price(parts[1], vat_time, currency),
            "total_parking_time": Decimal(0),
            "last_updated": ocpi_datetime(updated),
        }


# --- JSON, exactly --------------------------------------------------------------------------------


# A Decimal goes through the json module (its C encoder) as its digits between two marks, then
# loses the marks and the quotes: no float on the way. No text of a CDR holds a mark (private-use
# characters): ids are printable ASCII, names and texts pass ``ocpi_string``.
_OPEN, _CLOSE = "\ue000", "\ue001"
_TARIFF_SLOT = "\ue002"  # where a CDR's tariff, written once, goes


def _marked(value: object) -> str:
    if isinstance(value, Decimal) and value.is_finite():
        return _OPEN + format(value, "f") + _CLOSE
    raise TypeError(f"no JSON for {value!r}")


def json_text(value: Any) -> str:
    """Compact JSON of ``value`` (dicts, lists, text, ints, Decimals), a Decimal written as its
    digits (``6.40`` stays ``6.40``, never a float's ``6.4000000001``)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_marked)
    return text.replace('"' + _OPEN, "").replace(_CLOSE + '"', "")


def json_array_chunks(objects: Iterable[str]) -> Iterator[bytes]:
    """A JSON array of ``objects`` (each already JSON), one per line, in pieces of about
    ``CHUNK_BYTES``; the first piece once the first objects are there."""
    buffer = bytearray(b"[")
    separator = b"\n"
    for text in objects:
        buffer += separator + text.encode("utf-8")
        separator = b",\n"
        if len(buffer) >= CHUNK_BYTES:
            yield bytes(buffer)
            buffer.clear()
    buffer += b"\n]\n"
    yield bytes(buffer)


def cdr_chunks(
    db: Database,
    flt: ExportFilter,
    tz: ZoneInfo,
    party: CdrParty,
    *,
    timeout_ms: int = EXPORT_STATEMENT_TIMEOUT_MS,
) -> Iterator[bytes]:
    """``/export/cdrs.json`` in pieces: the CDRs of ``flt`` read from a server-side cursor
    (``yield_per``: psycopg's named cursor on PostgreSQL), written one at a time. The database
    session lives exactly as long as the iteration: closing the generator early ends it."""
    with db.sessions() as session, session.begin():
        if db.dialect == "postgresql":
            bound_export_statement(session, timeout_ms)
        builder = CdrBuilder(Versions.load(session), party)
        stmt = cdr_statement(session, flt, tz).execution_options(yield_per=CURSOR_BATCH_ROWS)
        rows = session.execute(stmt)
        yield from json_array_chunks(builder.cdr_json(row) for row in rows)
