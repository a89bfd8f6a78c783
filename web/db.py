"""The app's database inside a request: ``get_db()`` is the app's ``data.core.db.Database``,
``session_scope()`` a short transaction, ``read_scope()`` the request's one autocommit read
session (given back when the request ends, see ``install_read_scope``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, g, has_request_context
from sqlalchemy.orm import Session

from data.core.db import Database


def get_db() -> Database:
    return current_app.extensions["polaris_db"]


@contextmanager
def session_scope() -> Iterator[Session]:
    with get_db().session() as s:
        yield s


READS_KEY = "polaris_reads"


@contextmanager
def read_scope() -> Iterator[Session]:
    """A session for reads only, in autocommit. Within a request every ``read_scope`` shares one
    session and so one pooled connection (the sign-in check and the callback's queries alike),
    given back when the request ends; writes go through ``session_scope``."""
    if not has_request_context():
        with get_db().reads() as s:
            yield s
        return
    s = g.get(READS_KEY)
    if s is None:
        s = get_db().reads()
        setattr(g, READS_KEY, s)
    try:
        yield s
    except BaseException:
        # Never reuse a session whose statement failed (its connection may be gone).
        _close_reads()
        raise


def _close_reads(_error: BaseException | None = None) -> None:
    s = g.pop(READS_KEY, None)
    if s is not None:
        s.close()


def install_read_scope(server: Flask) -> None:
    """Give the request's read session (and its connection) back when the request ends."""
    server.teardown_request(_close_reads)
