"""What the /admin/accounts callbacks share: the chosen person and account, clicks, plans."""

from __future__ import annotations

import secrets
from typing import Any

from dash import ctx

from components.plans import NO_PLAN_VALUE
from data.accounts.people import REFRESH_FILTER
from pages._admin import bump, pressed


def selection(data: object) -> tuple[int | None, str | None]:
    """``(user_id, account_id)`` from the browser's store, type-checked; existence is checked
    by the query that uses them."""
    if not isinstance(data, dict):
        return None, None
    user_id, account_id = data.get("user_id"), data.get("account_id")
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        return None, None
    return user_id, account_id if isinstance(account_id, str) and account_id else None


def select(user_id: int, account_id: str | None, previous: object = None) -> dict[str, Any]:
    """A new store value; ``rev`` changes so the panel re-reads even for the same keys, and
    ``fresh`` says whether another person or account was chosen (then the forms are reset;
    otherwise what the operator is typing or choosing stays)."""
    before = previous if isinstance(previous, dict) else {}
    same = before.get("user_id") == user_id and before.get("account_id") == account_id
    return {
        "user_id": user_id,
        "account_id": account_id,
        "rev": bump(before.get("rev")),
        "fresh": not same,
    }


def refresh_grid(model: object) -> dict[str, Any]:
    """The grid's filter model with a new refresh token: the grid fetches its rows again (the
    same model again would be ignored). The token filters nothing on the server."""
    new = dict(model) if isinstance(model, dict) else {}
    token = secrets.token_hex(4)
    new[REFRESH_FILTER] = {"filterType": "text", "type": "contains", "filter": token}
    return new


def plan_choice(value: object) -> str | None:
    """A plan select's value: a plan id to look up, or None for "No plan"."""
    return value if isinstance(value, str) and value not in ("", NO_PLAN_VALUE) else None


def pattern_click() -> str | None:
    """The key of the pattern-matched button that was really clicked (a re-render that adds
    buttons with ``n_clicks=0`` also fires the callback)."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not pressed():
        return None
    key = trigger.get("account", trigger.get("charger"))
    return key if isinstance(key, str) else None


def field_messages(errors: dict[str, str], fields: dict[str, str]) -> list[Any]:
    """For each field, in order: its message, or nothing when it is fine."""
    return [errors.get(field, "") for field in fields]
