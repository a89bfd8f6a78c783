"""ReserveNow and CancelReservation are commands (issue 15): ``charger_commands`` gets
``ocpp_reservation_id``, the ``ocpp_reservations`` row a command was made for (NULL for every
other command, and for every command made before). When such a command ends, its answer (or
``no answer``) is written to that row in the same transaction.

A partial index over the few linked commands keeps ``ON DELETE SET NULL`` cheap.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LINKED = "ocpp_reservation_id IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("charger_commands") as batch:
        batch.add_column(sa.Column("ocpp_reservation_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_charger_commands_ocpp_reservation_id",
            "ocpp_reservations",
            ["ocpp_reservation_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_index(
        "ix_charger_commands_ocpp_reservation",
        "charger_commands",
        ["ocpp_reservation_id"],
        postgresql_where=sa.text(LINKED),
        sqlite_where=sa.text(LINKED),
    )


def downgrade() -> None:
    op.drop_index("ix_charger_commands_ocpp_reservation", table_name="charger_commands")
    with op.batch_alter_table("charger_commands") as batch:
        batch.drop_constraint("fk_charger_commands_ocpp_reservation_id", type_="foreignkey")
        batch.drop_column("ocpp_reservation_id")
