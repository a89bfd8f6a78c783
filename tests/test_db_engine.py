"""How the app connects to PostgreSQL: bounded statements, no JIT and no parallel workers for
its small queries."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from data.core.db import Database


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_app_connections_run_without_jit_and_with_a_statement_timeout(db: Database):
    with db.engine.connect() as connection:
        assert connection.execute(text("SHOW jit")).scalar() == "off"
        assert connection.execute(text("SHOW max_parallel_workers_per_gather")).scalar() == "0"
        assert connection.execute(text("SHOW statement_timeout")).scalar() != "0"
