"""People who hold an admin account sign in to it: correct the defaults stored before the rule.

Imports used to store a customer account as the default of a person holding both kinds, so
they landed on the driver view. Sign-in now chooses by ``data.accounts.signin.landing_account_id``
anyway; this makes the stored default (shown as "Signs in here" in the admin portal) agree:
the person's first admin account by id, unless the stored default already is an admin account.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        UPDATE users SET default_account_id = (
            SELECT min(a.id) FROM accounts a WHERE a.user_id = users.id AND a.role = 'admin'
        )
        WHERE EXISTS (
            SELECT 1 FROM accounts a WHERE a.user_id = users.id AND a.role = 'admin'
        )
        AND NOT EXISTS (
            SELECT 1 FROM accounts a
            WHERE a.user_id = users.id AND a.role = 'admin' AND a.id = users.default_account_id
        )
        """
    )


def downgrade() -> None:
    pass  # which customer account was stored before is not kept; the rule holds either way
