"""What an operator may type into the accounts, plans and settings forms: the validators, and the
``InvalidInput`` error (a ``ValueError``) whose messages, keyed by form field, they act on."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, TypeVar
from zoneinfo import available_timezones

from data.core.models import ID_LENGTH
from data.core.sql import KWH

T = TypeVar("T")

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 1024  # argon2 takes any length; a cap keeps one request from costing much
EMAIL_MAX_LENGTH = 254
NAME_MAX_LENGTH = 200
SEARCH_MAX_LENGTH = 200
MAX_ALLOWANCE = Decimal("999999999.999")  # Numeric(12, 3)

# Active ISO 4217 currency codes (the list as amended up to 2025: HRK, SLL, ZWL, CUC, ANG and
# BGN are withdrawn). Fund codes, precious metals and test codes are left out on purpose: a plan
# or an operator bills in money.
ISO_4217_CODES: tuple[str, ...] = (
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BHD",
    "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF",
    "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN",
    "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD",
    "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES",
    "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL",
    "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN",
    "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP",
    "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK",
    "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT",
    "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VED", "VES",
    "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
)  # fmt: skip
_ISO_4217 = frozenset(ISO_4217_CODES)
# In zoneinfo's list but not places: the host's own link and tzdata's "no zone here" marker.
_NOT_TIME_ZONES = frozenset({"localtime", "Factory"})

_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s.]+")
# Ids appear in the exchange format and in URLs: letters, digits and a few separators.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")


# --- errors -------------------------------------------------------------------------------------


class InvalidInput(ValueError):
    """The operator's input cannot be saved. ``errors`` maps form fields to messages."""

    def __init__(self, errors: Mapping[str, str] | str, field: str = "form") -> None:
        self.errors: dict[str, str] = {field: errors} if isinstance(errors, str) else dict(errors)
        super().__init__(" ".join(self.errors.values()))

    @property
    def message(self) -> str:
        return str(self)


class NotFound(InvalidInput):
    """A person, account or plan the browser named does not exist (any more)."""


class Refused(InvalidInput):
    """Valid input that a rule refuses (the last admin account, an account with history)."""


class FieldChecks:
    """Runs several field checks and raises once with every message, so a form shows them all."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def run(self, field: str, check: Callable[..., T], *args: Any) -> T | None:
        try:
            return check(*args)
        except InvalidInput as exc:
            self.errors[field] = exc.message
            return None

    def fail(self, field: str, message: str) -> None:
        self.errors.setdefault(field, message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise InvalidInput(self.errors)


# --- validators (each returns the clean value or raises InvalidInput) ---------------------------


def text_value(raw: object) -> str:
    """The text of a form value, stripped; anything but text is empty."""
    return raw.strip() if isinstance(raw, str) else ""


def validate_email(raw: object) -> str:
    email = text_value(raw)
    if not email:
        raise InvalidInput("Enter an email address.")
    if len(email) > EMAIL_MAX_LENGTH or not _EMAIL.fullmatch(email):
        raise InvalidInput(f"“{email[:80]}” is not an email address (like name@example.com).")
    return email


def validate_optional_email(raw: object) -> str | None:
    return validate_email(raw) if text_value(raw) else None


def validate_name(raw: object, what: str = "a name") -> str:
    name = text_value(raw)
    if not name:
        raise InvalidInput(f"Enter {what}.")
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidInput(f"Keep it under {NAME_MAX_LENGTH} characters.")
    return name


def validate_label(raw: object) -> str | None:
    label = text_value(raw)
    if len(label) > NAME_MAX_LENGTH:
        raise InvalidInput(f"Keep the label under {NAME_MAX_LENGTH} characters.")
    return label or None


def validate_password(raw: object) -> str:
    password = raw if isinstance(raw, str) else ""
    if len(password) < PASSWORD_MIN_LENGTH:
        have = f" (this one has {len(password)})" if password else ""
        raise InvalidInput(f"A password needs at least {PASSWORD_MIN_LENGTH} characters{have}.")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise InvalidInput(f"Keep the password under {PASSWORD_MAX_LENGTH} characters.")
    if password.strip() != password:
        raise InvalidInput("A password cannot start or end with a space.")
    return password


def validate_id(raw: object, what: str = "id") -> str:
    value = text_value(raw)
    if not value:
        raise InvalidInput(f"Enter an {what}.")
    if len(value) > ID_LENGTH or not _ID.fullmatch(value):
        raise InvalidInput(
            f"An {what} is up to {ID_LENGTH} letters, digits, dots, dashes, colons or "
            "underscores, starting with a letter or digit."
        )
    return value


def id_from_name(prefix: str, name: str, taken: Callable[[str], bool]) -> str:
    """An id for a row the operator named without giving one: ``PLAN-COMMUTER`` from
    "Commuter" (``-2``, ``-3``, ... while ``taken``)."""
    slug = re.sub(r"[^A-Z0-9]+", "-", name.upper()).strip("-")[: ID_LENGTH - 10] or prefix
    base = f"{prefix}-{slug}"
    candidate, n = base, 1
    while taken(candidate):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def validate_currency(raw: object) -> str:
    code = text_value(raw).upper()
    if not code:
        raise InvalidInput("Choose a currency (an ISO 4217 code such as EUR).")
    if code not in _ISO_4217:
        shown = text_value(raw)[:20]
        raise InvalidInput(
            f"“{shown}” is not an ISO 4217 currency code. Use three letters such as EUR, "
            "USD or GBP."
        )
    return code


@lru_cache(maxsize=1)
def timezone_names() -> tuple[str, ...]:
    """Every IANA time zone the server knows (zoneinfo), sorted: the choices and the rule."""
    return tuple(sorted(available_timezones() - _NOT_TIME_ZONES))


def validate_timezone(raw: object) -> str:
    name = text_value(raw)
    if name in timezone_names():
        return name
    if not name:
        raise InvalidInput("Choose a time zone, such as Europe/Berlin.")
    shown = name[:64]
    close = difflib.get_close_matches(name, timezone_names(), n=1, cutoff=0.8)
    hint = f" Did you mean {close[0]}?" if close else " Pick one such as Europe/Berlin."
    raise InvalidInput(f"“{shown}” is not an IANA time zone.{hint}")


def validate_allowance(raw: object) -> Decimal:
    """kWh per billing period: a number ≥ 0 with at most 3 decimals."""
    if isinstance(raw, bool) or raw is None or (isinstance(raw, str) and not raw.strip()):
        raise InvalidInput("Enter the allowance in kWh (0 for none).")
    try:
        # Through str so that 7.1 means 7.1, not the nearest binary float.
        value = Decimal(raw.strip() if isinstance(raw, str) else str(raw))
    except (InvalidOperation, ValueError):
        raise InvalidInput("The allowance must be a number of kWh, like 250.") from None
    if not value.is_finite():
        raise InvalidInput("The allowance must be a number of kWh, like 250.")
    if value < 0:
        raise InvalidInput("The allowance cannot be negative; use 0 for no allowance.")
    if value > MAX_ALLOWANCE:
        raise InvalidInput("That allowance is too large.")
    if value != value.quantize(KWH):
        raise InvalidInput("Use at most 3 decimals for the allowance.")
    return value.quantize(KWH)
