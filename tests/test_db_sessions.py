"""data/core/db.py: idle PostgreSQL connections are pinged before reuse (and a dead one replaced),
busy ones are not; web/db.py's ``read_scope`` shares one autocommit session per request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

import data.core.db as db_module
from data.core.db import Database
from tests.support.databases import postgres_admin
from web.db import install_read_scope, read_scope


@pytest.fixture
def pg(postgres_database_url: str) -> Iterator[Database]:
    database = Database(postgres_database_url, pool_size=1, max_overflow=0)
    yield database
    database.engine.dispose()


def _pings(database: Database, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    seen: list[Any] = []
    real = database.engine.dialect.do_ping

    def counting(dbapi_connection: Any) -> bool:
        seen.append(dbapi_connection)
        return real(dbapi_connection)

    monkeypatch.setattr(database.engine.dialect, "do_ping", counting)
    return seen


def _backend_pid(database: Database) -> int:
    with database.engine.connect() as c:
        return int(c.execute(text("SELECT pg_backend_pid()")).scalar_one())


@pytest.mark.postgres
def test_reads_run_without_begin_and_commit(pg: Database) -> None:
    with pg.reads() as s:
        s.execute(text("SELECT 1"))
        assert s.connection().connection.dbapi_connection.autocommit is True
    with pg.session() as s:
        s.execute(text("SELECT 1"))
        assert s.connection().connection.dbapi_connection.autocommit is False


@pytest.mark.postgres
def test_a_connection_used_a_moment_ago_is_not_pinged(
    pg: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = _pings(pg, monkeypatch)
    monkeypatch.setattr(db_module, "PING_IDLE_AFTER_S", 3600.0)
    first = _backend_pid(pg)
    assert [_backend_pid(pg) for _ in range(5)] == [first] * 5
    assert pings == []


@pytest.mark.postgres
def test_an_idle_connection_killed_by_the_server_is_replaced_before_use(
    pg: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = _pings(pg, monkeypatch)
    first = _backend_pid(pg)
    admin = postgres_admin()
    with admin.connect() as c:
        c.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    admin.dispose()
    monkeypatch.setattr(db_module, "PING_IDLE_AFTER_S", 0.0)  # every pooled one counts as idle
    replaced = _backend_pid(pg)  # no error reaches the caller
    assert replaced != first
    assert len(pings) >= 1


def test_read_scope_is_one_autocommit_session_per_request(tmp_path: Any) -> None:
    server = Flask(__name__)
    database = Database(f"sqlite:///{tmp_path / 'reads.db'}")
    server.extensions["polaris_db"] = database
    install_read_scope(server)
    with server.test_request_context():
        with read_scope() as a:
            a.execute(text("SELECT 1"))
        with read_scope() as b:
            assert b is a  # the sign-in check and the callback share it
            # pysqlite's autocommit: no implicit BEGIN before statements.
            assert b.connection().connection.dbapi_connection.isolation_level is None
        with pytest.raises(RuntimeError), read_scope():
            raise RuntimeError("a failed statement")
        with read_scope() as c:
            assert c is not a  # never reused after a failure
    with server.app_context(), read_scope() as outside:
        assert outside is not a  # outside a request: a session of its own
    database.engine.dispose()


def test_core_rows_sees_what_the_session_has_not_flushed_yet(db: Database) -> None:
    """``core_rows`` skips the ORM's per-statement bookkeeping but not its autoflush."""
    from data.accounts.signin import _PERSON  # a prebuilt statement of the kind core_rows runs
    from data.core.db import core_rows
    from data.core.models import Plan

    with db.session() as s:
        s.add(Plan(id="plan-pending", name="Pending", allowance_kwh=1, currency="EUR"))
        statement = text("SELECT name FROM plans WHERE id = :id")
        assert core_rows(s, statement, {"id": "plan-pending"}).scalar_one() == "Pending"
        assert core_rows(s, _PERSON, {"user_id": -1}).all() == []
