"""Alembic runs against the engine the app hands it (see data.core.db.upgrade)."""

from alembic import context

import data.chargers.favourites  # noqa: F401 - its table is on Base.metadata too
import data.chargers.incidents  # noqa: F401 - its table is on Base.metadata too
import data.notifications  # noqa: F401 - its table is on Base.metadata too
import data.uptime.alerts  # noqa: F401 - their tables are on Base.metadata too
import data.uptime.deliveries  # noqa: F401
import data.uptime.outages  # noqa: F401 - its table is on Base.metadata too
from data.core.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
