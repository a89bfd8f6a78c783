"""Charger grants: the customer accounts that may see a restricted charger (``ChargerAccess``).

One place writes and deletes grants for both admin pages that change them, the charger page
(``data.chargers.fleet``) and the accounts page (``data.accounts.people``). Each caller first checks
its own input (a customer account, a restricted charger) and words its own messages; these functions
only take ids that exist.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from data.core.models import ChargerAccess


def add_grant(session: Session, account_id: str, charger_id: str) -> bool:
    """Let the account see the charger. True if granted now, False if it already could."""
    # ON CONFLICT DO NOTHING: a grant that is already there (or made at the same moment by
    # another admin) is not an error, and the transaction stays usable on PostgreSQL.
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    result = session.execute(
        insert(ChargerAccess)
        .values(account_id=account_id, charger_id=charger_id)
        .on_conflict_do_nothing(index_elements=["account_id", "charger_id"])
        .returning(ChargerAccess.account_id)
    )
    return result.first() is not None


def remove_grant(session: Session, account_id: str, charger_id: str) -> bool:
    """Take the grant away. True if it was there, False if there was none (e.g. taken elsewhere)."""
    result = session.execute(
        delete(ChargerAccess).where(
            ChargerAccess.account_id == account_id, ChargerAccess.charger_id == charger_id
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
