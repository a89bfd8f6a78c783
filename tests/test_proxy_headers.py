"""``POLARIS_PROXY_COUNT``: behind HAProxy (deploy/haproxy.cfg, ``option forwardfor``) the
person's address is the last X-Forwarded-For entry, so sign-in limits per address stay per
person; without it the header is ignored (a client could forge it)."""

from __future__ import annotations

import pytest
from flask import Flask

from config import ConfigError, load_config
from tests.support.web import AppFactory, add_person, csrf_token

EMAIL = "pat@example.com"


def wrong_password(app: Flask, forwarded_for: str) -> int:
    client = app.test_client()
    token = csrf_token(client)
    data = {"email": EMAIL, "password": "not-it", "csrf_token": token}
    return client.post("/login", data=data, headers={"X-Forwarded-For": forwarded_for}).status_code


def test_behind_one_proxy_each_address_has_its_own_sign_in_limit(app_factory: AppFactory) -> None:
    app = app_factory(PROXY_COUNT=1)
    add_person(app, EMAIL)
    # The client's own entry (first) is not trusted; HAProxy's (last) is.
    statuses = [wrong_password(app, f"10.9.9.{n}, 203.0.113.7") for n in range(6)]
    assert statuses == [401] * 5 + [429]
    assert wrong_password(app, "203.0.113.8") == 401  # another person: not locked out


def test_without_a_proxy_the_header_is_ignored(app_factory: AppFactory) -> None:
    app = app_factory()  # PROXY_COUNT 0
    add_person(app, EMAIL)
    statuses = [wrong_password(app, f"203.0.113.{n}") for n in range(6)]
    assert statuses == [401] * 5 + [429]  # one address (the test client's) for all six


@pytest.mark.parametrize("value", ["-1", "x", "6", True])
def test_a_malformed_proxy_count_stops_the_start(value: object) -> None:
    with pytest.raises(ConfigError, match="POLARIS_PROXY_COUNT"):
        load_config({"SECRET_KEY": "k", "PROXY_COUNT": value})
