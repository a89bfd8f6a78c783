"""Helpers for HTTP tests: build an app on a given database, sign in, call Dash callbacks."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from data.accounts.passwords import hash_password
from data.core.models import Account, Role, User
from data.demo.loader import load_demo

# Random (production refuses regular keys and words like "secret"); for tests only.
TEST_SECRET = "-TVVnzFIPaUJ61koEpL3xhKHkOroxO9iHK3wqL4VZvz1DPtH"
PASSWORD = "correct horse battery staple"


def make_app(database_url: str, **overrides: Any) -> Flask:
    config = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "DEMO": False,
        "TESTING": True,
        "RATELIMIT_STORAGE_URI": "memory://",
        # Every request reads the database as the test just left it (tests/test_snapshots.py
        # covers the workers' snapshots).
        "SNAPSHOT_S": 0,
    }
    config.update(overrides)
    return create_app(config)


class AppFactory:
    """Builds apps for tests with ``make_app`` and, on ``close``, disposes their engines (the
    ``app_factory`` and ``module_app_factory`` fixtures close it when the test or module ends).

    ``factory(database_url=None, *, copy_of=None, demo=False, **config)``: without a URL the app
    works on a fresh copy of the SQLite file ``copy_of`` (by default the migrated, empty
    template); ``demo`` loads the demo data; ``config`` overrides the test configuration.
    """

    def __init__(self, directory: Callable[[], Path], template: Path) -> None:
        self._directory = directory
        self._template = template
        self._apps: list[Flask] = []

    def __call__(
        self,
        database_url: str | None = None,
        *,
        copy_of: Path | None = None,
        demo: bool = False,
        **config: Any,
    ) -> Flask:
        if database_url is None:
            path = self._directory() / "polaris.db"
            shutil.copy(copy_of or self._template, path)
            database_url = f"sqlite:///{path}"
        app = make_app(database_url, **config)
        self._apps.append(app)
        if demo:
            with app.extensions["polaris_db"].session() as s:
                load_demo(s, datetime.now(UTC))
        return app

    def close(self) -> None:
        for app in self._apps:
            app.extensions["polaris_db"].engine.dispose()


def add_person(app: Flask, email: str, *accounts: tuple[str, Role, str | None]) -> int:
    """A user with the test password and the given (account_id, role, label) accounts."""
    db = app.extensions["polaris_db"]
    with db.session() as s:
        user = User(email=email, display_name=email.split("@")[0].title(), password_hash=None)
        user.password_hash = hash_password(PASSWORD)
        s.add(user)
        s.flush()
        for account_id, role, label in accounts:
            s.add(Account(id=account_id, user_id=user.id, role=role, label=label))
        user.default_account_id = accounts[0][0] if accounts else None
        return user.id


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD, next_url: str = ""):
    token = csrf_token(client)
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"email": email, "password": password, "csrf_token": token})


def client_for(app: Flask, email: str | None) -> FlaskClient:
    """A test client signed in as ``email`` (the demo password), or anonymous for None."""
    client = app.test_client()
    if email is not None:
        assert sign_in(client, email).status_code == 302
    return client


def dash_csrf(client: FlaskClient) -> str:
    """The token Dash's renderer echoes from the ``_csrf_token`` cookie."""
    cookie = client.get_cookie("_csrf_token")
    if cookie is None:
        client.get("/switch")
        cookie = client.get_cookie("_csrf_token")
    assert cookie is not None, "no _csrf_token cookie after loading a page"
    return cookie.value


def call_callback(
    client: FlaskClient,
    output: str,
    inputs: list[dict[str, Any]],
    state: list[dict[str, Any]] | None = None,
    outputs: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
):
    """POST to /_dash-update-component the way the renderer does."""
    body = {
        "output": output,
        "outputs": outputs if outputs is not None else _outputs_from(output),
        "inputs": inputs,
        "state": state or [],
        "changedPropIds": [f"{i['id']}.{i['property']}" for i in inputs[:1]],
    }
    all_headers = {"X-CSRFToken": dash_csrf(client)} if client.get_cookie("session") else {}
    all_headers.update(headers or {})
    return client.post(
        "/_dash-update-component",
        data=json.dumps(body),
        content_type="application/json",
        headers=all_headers,
    )


def _outputs_from(output: str) -> Any:
    parts = output.strip(".").split("...")
    specs = []
    for part in parts:
        ident, _, prop = part.rpartition(".")
        specs.append({"id": ident, "property": prop})
    return specs if len(specs) > 1 else specs[0]


def found_secrets(text: str, secrets: tuple[str, ...]) -> list[str]:
    """The secrets found in ``text``. A number counts only as a whole number: "11.1" inside an
    asset's cache-busting mtime (``?m=1764611111.12``) is not Alice's session."""
    return [s for s in secrets if secret_pattern(s).search(text)]


def secret_pattern(secret: str) -> re.Pattern[str]:
    if re.fullmatch(r"[\d.,]+", secret):
        # Trailing zeros keep the value ("11.10" is still 11.1); any other digit makes another.
        tail = r"(?!\d*[1-9])" if "." in secret else r"(?!\d)"
        return re.compile(rf"(?<![\d.]){re.escape(secret)}{tail}")
    return re.compile(re.escape(secret))


def rows_of(body: str) -> list[dict[str, str]]:
    """The rows of a CSV answer (an export), by column name."""
    return list(csv.DictReader(io.StringIO(body, newline="")))
