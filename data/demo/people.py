"""The demo's generated people (drivers, fleets, the sign-ins), their users, accounts and id tags,
and the chargers' rows from the catalogue."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from data.accounts.passwords import hash_password
from data.core.models import Account, Role, User, Visibility
from data.demo.showcase import (
    BY_ID,
    DEMO_PASSWORD,
    DEPOT_GRANTS,
    DRIVER_ACCOUNT_ID,
    DRIVER_EMAIL,
    DRIVER_ID_TAG,
    NEWCOMER_ACCOUNT_ID,
    NEWCOMER_EMAIL,
    OFFLINE_SINCE,
    OLGA_ACCOUNT_ID,
    OPERATOR_EMAIL,
    OPS_ACCOUNT_ID,
)

CUSTOMER_COUNT = 150

_FIRST_NAMES = (
    "Anna", "Ben", "Clara", "David", "Elif", "Felix", "Greta", "Hannah", "Ilias", "Jonas",
    "Katrin", "Lukas", "Mara", "Nils", "Olivia", "Paul", "Quentin", "Rosa", "Sven", "Tara",
    "Uwe", "Vera", "Wim", "Xenia", "Yusuf", "Zoe", "Emil", "Lea", "Moritz", "Sofia",
)  # fmt: skip
_LAST_NAMES = (
    "Albrecht", "Becker", "Costa", "Demir", "Engel", "Fischer", "Graf", "Hoffmann", "Jansen",
    "Keller", "Lang", "Meyer", "Novak", "Otto", "Peters", "Richter", "Schulz", "Tamm",
    "Vogel", "Weber", "Yilmaz", "Zimmermann", "Kowalski", "Lindqvist", "Moreau",
)  # fmt: skip


@dataclass(frozen=True)
class Person:
    """One generated account and the person who holds it (Olga holds two)."""

    email: str
    display_name: str
    account_id: str
    plan_id: str | None
    kind: str  # "driver" (bulk), "demo" (a sign-in), "admin"
    weight: float = 0.0  # share of public charging among drivers
    fleet: str | None = None
    label: str | None = None
    user_key: str = ""  # accounts of the same person share it (Olga)


def generate_people(rng: random.Random) -> list[Person]:
    """The bulk drivers (some of them fleets' company accounts) and the demo sign-ins' accounts."""
    people: list[Person] = []
    fleet_names = list(DEPOT_GRANTS)
    for i in range(1, CUSTOMER_COUNT + 1):
        name = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"
        email = f"driver{i:03d}@demo.polaris.example"
        # Accounts 10, 20, ..., 80 are fleets' company accounts, two per fleet.
        fleet = fleet_names[(i // 10) % len(fleet_names)] if i % 10 == 0 and i <= 80 else None
        if fleet:
            plan: str | None = "PLAN-FLEET-1000"
        else:
            plan = rng.choices(
                [None, "PLAN-BASIC-100", "PLAN-COMMUTER-250"], weights=[5, 3, 2], k=1
            )[0]
        # Heavy-tailed: a few regulars do much of the charging, most drivers charge now and then.
        weight = (6.0 if fleet else 1.0) * rng.lognormvariate(0.0, 0.7)
        people.append(
            Person(email, name, f"ACC-{i:04d}", plan, "driver", weight, fleet, fleet, email)
        )
    people += [
        Person(
            DRIVER_EMAIL, "Dana Driver", DRIVER_ACCOUNT_ID, "PLAN-COMMUTER-250", "demo",
            user_key=DRIVER_EMAIL,
        ),
        Person(
            NEWCOMER_EMAIL, "Nico Newcomer", NEWCOMER_ACCOUNT_ID, None, "demo",
            user_key=NEWCOMER_EMAIL,
        ),
        Person(
            OPERATOR_EMAIL, "Olga Operator", OPS_ACCOUNT_ID, None, "admin",
            label="Operations", user_key=OPERATOR_EMAIL,
        ),
        Person(
            OPERATOR_EMAIL, "Olga Operator", OLGA_ACCOUNT_ID, "PLAN-BASIC-100", "demo",
            label="Personal car", user_key=OPERATOR_EMAIL,
        ),
    ]  # fmt: skip
    return people


def insert_users_and_accounts(session: Session, people: list[Person]) -> None:
    """One user per person (``user_key``) and every account; the first account listed is the
    default."""
    # One argon2 hash shared by the three sign-ins: the password is public anyway, and each
    # hash costs ~50 ms. Bulk drivers get none, so nobody can sign in as them.
    demo_hash = hash_password(DEMO_PASSWORD)
    users: dict[str, dict[str, Any]] = {}
    for p in people:
        if p.user_key not in users:  # the first account listed is the person's default
            users[p.user_key] = {
                "email": p.email,
                "display_name": p.display_name,
                "password_hash": None if p.kind == "driver" else demo_hash,
                "default_account_id": p.account_id,
            }
    session.execute(insert(User), list(users.values()))
    found = session.execute(select(User.email, User.id).where(User.email.in_(list(users))))
    user_ids = {email: uid for email, uid in found}
    session.execute(
        insert(Account),
        [
            {
                "id": p.account_id,
                "user_id": user_ids[p.email],
                "role": Role.admin if p.kind == "admin" else Role.customer,
                "plan_id": p.plan_id,
                "label": p.label,
            }
            for p in people
        ],
    )


def id_tag_rows(rng: random.Random, people: list[Person]) -> list[dict[str, Any]]:
    """One RFID card (a 7-byte UID, as NFC cards have) per customer account."""
    seen: set[str] = set()
    rows = []
    for p in people:
        if p.kind == "admin":
            continue
        tag = f"04{rng.getrandbits(48):012X}"
        while tag in seen:
            tag = f"04{rng.getrandbits(48):012X}"
        seen.add(tag)
        rows.append({"id_tag": tag, "account_id": p.account_id})
    rows.append({"id_tag": DRIVER_ID_TAG, "account_id": DRIVER_ACCOUNT_ID})
    return rows


def charger_rows(rng: random.Random, now: datetime) -> list[dict[str, Any]]:
    """The catalogue's chargers, with a recent heartbeat unless they are in the offline showcase."""
    rows = []
    for cid, (name, connector, kw, restricted) in BY_ID.items():
        if cid in OFFLINE_SINCE:
            silent = OFFLINE_SINCE[cid]
            last_seen = None if silent is None else now - silent
        else:
            last_seen = now - timedelta(seconds=rng.randint(3, 90))  # a recent heartbeat
        rows.append(
            {
                "id": cid,
                "friendly_name": name,
                "connector_type": connector,
                "max_power_kw": Decimal(kw),
                "visibility": Visibility.restricted if restricted else Visibility.public,
                "last_seen_at": last_seen,
            }
        )
    return rows
