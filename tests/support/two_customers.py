"""Two customers with recognisable data: A (Alice) and B (Zebulon), and an operator (Olga).

B's data is recognisable: unique kWh figures, restricted chargers granted only to B, B's
reservation on a named charger, B's charging session in progress, B's plan and name. The IDOR,
fuzz and route tests forge B's ids into A's requests and look for B's secrets in the answers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask

from data.core.models import Account, Role, Visibility
from tests.support.factories import (
    grant_access,
    make_charger,
    make_operator,
    make_plan,
    make_reservation,
    make_session,
)
from tests.support.web import AppFactory, add_person, found_secrets

NOW = datetime.now(UTC)

ALICE_EMAIL = "alice@example.com"
ZEB_EMAIL = "zebulon@example.com"
ADMIN_EMAIL = "olga@example.com"

# What A may see of A's own data (and what the anonymous and layout tests look for).
A_SECRETS = ("11.1", "22.2", "Alice Depot", "Alice Commuter", ALICE_EMAIL, "acc-alice")

# B's data that A's requests never name: none of it may appear in any answer to A.
B_SECRETS = (
    "58.3",  # B's session in progress
    "49.6",  # B's finished session
    "Zeb Private Bay",  # a restricted charger granted only to B
    "Zeb Reserved Bay",  # the charger of B's reservation (restricted, B only)
    "Fleet Platinum",  # B's plan
    "4,321",  # B's allowance
    "Zebulon",  # B's display name
    ZEB_EMAIL,
)
# B's ids, which A forges into requests (they may be echoed back as A's own input, no more).
B_IDS = ("acc-zeb", "s-zeb-live", "s-zeb-1", "r-zeb-1", "c-zeb-private", "c-zeb-reserved")
B_CHARGERS = ("c-zeb-private", "c-zeb-reserved")

# Concrete values for pattern-matching ids (``{"charger": ALL}``): A's, public and B's.
PATTERN_IDS = ("c-street", "c-alice-depot", *B_IDS)


def leaks(text: str, secrets: tuple[str, ...] = B_SECRETS) -> list[str]:
    """The secrets (B's by default) found in ``text``."""
    return found_secrets(text, secrets)


def seed_two_customers(app: Flask) -> None:
    """A (Alice) and B (Zebulon), each with chargers, sessions, a reservation and a plan; and an
    operator (Olga) with an admin account."""
    add_person(app, ALICE_EMAIL, ("acc-alice", Role.customer, None))
    add_person(app, ZEB_EMAIL, ("acc-zeb", Role.customer, None))
    add_person(app, ADMIN_EMAIL, ("acc-olga-admin", Role.admin, "Operations"))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s)
        alice_plan = make_plan(s, plan_id="plan-alice", name="Alice Commuter", allowance_kwh="150")
        zeb_plan = make_plan(s, plan_id="plan-zeb", name="Fleet Platinum", allowance_kwh="4321")
        s.get(Account, "acc-alice").plan_id = alice_plan.id  # type: ignore[union-attr]
        s.get(Account, "acc-zeb").plan_id = zeb_plan.id  # type: ignore[union-attr]
        street = make_charger(
            s, charger_id="c-street", friendly_name="Street Charger", last_seen_at=NOW
        )
        restricted = {"visibility": Visibility.restricted, "last_seen_at": NOW}
        alice_depot = make_charger(
            s, charger_id="c-alice-depot", friendly_name="Alice Depot", **restricted
        )
        zeb_private = make_charger(
            s, charger_id="c-zeb-private", friendly_name="Zeb Private Bay", **restricted
        )
        zeb_reserved = make_charger(
            s, charger_id="c-zeb-reserved", friendly_name="Zeb Reserved Bay", **restricted
        )
        grant_access(s, "acc-alice", alice_depot)
        grant_access(s, "acc-zeb", zeb_private)
        grant_access(s, "acc-zeb", zeb_reserved)
        make_session(
            s,
            "acc-alice",
            street,
            session_id="s-alice-1",
            started_at=NOW - timedelta(hours=3),
            ended_at=NOW - timedelta(hours=2),
            energy_kwh="11.1",
        )
        make_session(
            s,
            "acc-alice",
            alice_depot,
            session_id="s-alice-live",
            started_at=NOW - timedelta(minutes=20),
            energy_kwh="22.2",
        )
        make_reservation(
            s,
            "acc-alice",
            street,
            reservation_id="r-alice-1",
            starts_at=NOW + timedelta(days=1),
            ends_at=NOW + timedelta(days=1, hours=1),
        )
        make_session(
            s,
            "acc-zeb",
            zeb_private,
            session_id="s-zeb-1",
            started_at=NOW - timedelta(hours=5),
            ended_at=NOW - timedelta(hours=4),
            energy_kwh="49.6",
        )
        make_session(
            s,
            "acc-zeb",
            zeb_private,
            session_id="s-zeb-live",
            started_at=NOW - timedelta(minutes=10),
            energy_kwh="58.3",
        )
        make_reservation(
            s,
            "acc-zeb",
            zeb_reserved,
            reservation_id="r-zeb-1",
            starts_at=NOW + timedelta(hours=2),
            ends_at=NOW + timedelta(hours=3),
        )


def build_app(
    app_factory: AppFactory,
    setup: Callable[[Flask], None] | None = None,
    **overrides: Any,
) -> Flask:
    """A seeded app on a fresh SQLite copy whose callback map holds every page callback;
    ``setup`` runs first (Flask takes new routes only until the first request)."""
    app = app_factory(**overrides)
    if setup is not None:
        setup(app)
    # Dash copies the page callbacks into the app on its first request (create_app runs that
    # setup itself; a request makes sure of it whatever create_app does).
    app.test_client().get("/healthz")
    seed_two_customers(app)
    return app
