"""The drivers' notification e-mails (``data.notifications``): plain text and a simple HTML
part from the facts queued with each, money with ``format_money``, times in the operator's time
zone. ``public_url`` is the app's base (``POLARIS_PUBLIC_URL``); without it the text says where
to look and links nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from components.format import format_duration, format_moment, format_money, format_time
from components.receipts import UNDER_REVIEW_TEXT, billed_kwh, receipt_href

DASHBOARD_HREF = "/"
ACCOUNT_HREF = "/account"


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class _Link:
    label: str  # what the reader finds there ("your receipt")
    href: str  # the path in the app


def _window(starts_at: datetime, ends_at: datetime, tz: ZoneInfo) -> str:
    start, end = starts_at.astimezone(tz), ends_at.astimezone(tz)
    end_text = format_time(end, tz) if end.date() == start.date() else format_moment(end, tz)
    return f"{format_moment(start, tz)} – {end_text}"


def _session_lines(facts: dict[str, Any], tz: ZoneInfo) -> tuple[list[str], list[tuple[str, str]]]:
    started = datetime.fromisoformat(facts["started_at"])
    ended = datetime.fromisoformat(facts["ended_at"])
    charger = f"{facts['charger_name']} ({facts['charger_id']})"
    if facts.get("energy_under_review"):
        cost = "none yet"
        note = [UNDER_REVIEW_TEXT]
    elif facts.get("cost_total") is None:
        cost, note = "no tariff priced this session", []
    else:
        cost, note = format_money(Decimal(facts["cost_total"]), facts["currency"]), []
    rows = [
        ("Charger", charger),
        ("Energy", billed_kwh(Decimal(facts["energy_kwh"]))),
        ("Duration", format_duration(ended - started)),
        ("Started", format_moment(started, tz)),
        ("Ended", format_moment(ended, tz)),
        ("Cost", cost),
    ]
    return [f"Your charging session at {charger} has finished.", *note], rows


_RESERVATION_TEXT = {
    "confirmed": "{charger} is now holding your reservation {window} for you.",
    "refused": (
        "{charger} could not hold your reservation {window}: the charger answered "
        "“{reason}”. Someone else may be charging there; choose another charger or time, or "
        "contact us."
    ),
    "no_show": (
        "Your reservation {window} at {charger} was released because no charging started in "
        "time. The charger is free for others again."
    ),
    "cancelled_by_operator": "{operator} cancelled your reservation {window} at {charger}.",
}


def render_notification(kind: str, facts: dict[str, Any], public_url: str, subject: str) -> Email:
    """The e-mail of one queued notification (``kind`` a ``NotificationKind`` value)."""
    tz = ZoneInfo(facts["timezone"])
    operator = facts["operator"]
    rows: list[tuple[str, str]] = []
    if kind == "session_finished":
        paragraphs, rows = _session_lines(facts, tz)
        link = _Link("your receipt", receipt_href(facts["session_id"]))
    else:
        window = _window(
            datetime.fromisoformat(facts["starts_at"]), datetime.fromisoformat(facts["ends_at"]), tz
        )
        charger = f"{facts['charger_name']} ({facts['charger_id']})"
        paragraphs = [
            _RESERVATION_TEXT[facts["event"]].format(
                charger=charger, window=window, reason=facts.get("reason") or "Rejected",
                operator=operator,
            )
        ]  # fmt: skip
        link = _Link("your reservations on your dashboard", DASHBOARD_HREF)
    greeting = f"Hello {facts['display_name']},"
    why = "You get these e-mails because you turned them on; turn them off "
    if public_url:
        see = f"See {link.label}: {public_url}{link.href}"
        why += f"at {public_url}{ACCOUNT_HREF}."
    else:
        see = f"Sign in to {operator} to see {link.label}."
        why += f"under Account when signed in to {operator}."
    footer = operator + (f" · {facts['support_email']}" if facts.get("support_email") else "")
    text = "\n\n".join(
        [
            greeting,
            *paragraphs,
            *(["\n".join(f"{label}: {value}" for label, value in rows)] if rows else []),
            see,
            f"{why}\n{footer}",
        ]
    )
    return Email(
        subject, text + "\n", _html(greeting, paragraphs, rows, link, public_url, why, footer)
    )


def _html(
    greeting: str,
    paragraphs: list[str],
    rows: list[tuple[str, str]],
    link: _Link,
    public_url: str,
    why: str,
    footer: str,
) -> str:
    parts = [f"<p>{escape(greeting)}</p>", *(f"<p>{escape(p)}</p>" for p in paragraphs)]
    if rows:
        cells = "".join(
            f'<tr><th scope="row" style="text-align:left;padding-right:1em">{escape(label)}</th>'
            f"<td>{escape(value)}</td></tr>"
            for label, value in rows
        )
        parts.append(f"<table>{cells}</table>")
    if public_url:
        href = escape(public_url + link.href, quote=True)
        parts.append(f'<p><a href="{href}">See {escape(link.label)}</a></p>')
    else:
        parts.append(f"<p>Sign in to see {escape(link.label)}.</p>")
    parts.append(f'<p style="color:#555;font-size:small">{escape(why)}<br>{escape(footer)}</p>')
    return '<!doctype html><html lang="en"><body>' + "".join(parts) + "</body></html>"
