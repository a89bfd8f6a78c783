"""Sign-in, the request guard and the account picker, over HTTP with the Flask test client."""

from __future__ import annotations

import pytest
from flask import Flask

from data.core.models import Role
from tests.support.web import PASSWORD, AppFactory, add_person, call_callback, sign_in


@pytest.fixture
def app(app_factory: AppFactory) -> Flask:
    app = app_factory()
    add_person(app, "driver@example.com", ("acc-driver", Role.customer, "My car"))
    add_person(
        app,
        "ops@example.com",
        ("acc-ops-admin", Role.admin, "Operations"),
        ("acc-ops-car", Role.customer, "Personal car"),
    )
    add_person(app, "other@example.com", ("acc-other", Role.customer, None))
    return app


def test_anonymous_page_request_redirects_to_login_with_next(client):
    response = client.get("/?period=year")
    assert response.status_code == 302
    assert response.headers["Location"].startswith(
        "/login?next=/%3Fperiod%3Dyear"
    ) or response.headers["Location"].startswith("/login?next=/?period")


@pytest.mark.parametrize("path", ["/_dash-layout", "/_dash-dependencies"])
def test_anonymous_dash_api_gets_401_and_no_data(client, path):
    response = client.get(path)
    assert response.status_code == 401
    body = response.get_data(as_text=True)
    assert "banner" not in body and "acc-" not in body


def test_anonymous_callback_post_gets_401(client):
    response = call_callback(
        client,
        "switch-accounts.children",
        [{"id": "url", "property": "pathname", "value": "/"}],
    )
    assert response.status_code == 401
    assert "Dana" not in response.get_data(as_text=True)


def test_login_page_has_email_and_password_fields(client):
    page = client.get("/login").get_data(as_text=True)
    assert 'type="email"' in page
    assert 'type="password"' in page
    assert 'name="csrf_token"' in page


def test_wrong_password_says_so_without_naming_the_field_and_opens_no_session(client):
    response = sign_in(client, "driver@example.com", "wrong password")
    assert response.status_code == 401
    text = response.get_data(as_text=True)
    assert "do not match" in text
    assert client.get("/").status_code == 302  # still anonymous


def test_unknown_email_gets_the_same_message(client):
    response = sign_in(client, "nobody@example.com", PASSWORD)
    assert response.status_code == 401
    assert "do not match" in response.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(client):
    response = client.post("/login", data={"email": "driver@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_customer_lands_on_dashboard(client):
    response = sign_in(client, "driver@example.com")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/").status_code == 200


def test_email_is_case_insensitive(client):
    assert sign_in(client, "Driver@Example.COM").headers["Location"] == "/"


def test_admin_default_account_is_sent_to_admin(client):
    response = sign_in(client, "ops@example.com")
    assert response.headers["Location"] == "/admin"
    root = client.get("/")
    assert root.status_code == 302 and root.headers["Location"] == "/admin"
    assert client.get("/admin").status_code == 200


def test_customer_requesting_admin_gets_403(client):
    sign_in(client, "driver@example.com")
    response = client.get("/admin")
    assert response.status_code == 403


@pytest.mark.parametrize(
    "evil",
    ["https://elsewhere.example", "//evil.example", "/\\evil.example", "javascript:alert(1)"],
)
def test_next_never_leaves_the_site(client, evil):
    response = sign_in(client, "driver@example.com", next_url=evil)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_next_inside_the_site_is_followed(client):
    response = sign_in(client, "driver@example.com", next_url="/switch")
    assert response.headers["Location"] == "/switch"


def test_switch_to_own_account(client):
    sign_in(client, "ops@example.com")
    token = _page_token(client)
    response = client.post(
        "/account/switch", data={"account_id": "acc-ops-car", "csrf_token": token}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/").status_code == 200  # a customer now: no redirect to /admin
    assert client.get("/admin").status_code == 403


def test_switch_to_another_persons_account_is_refused(client):
    sign_in(client, "ops@example.com")
    response = client.post(
        "/account/switch", data={"account_id": "acc-driver", "csrf_token": _page_token(client)}
    )
    assert response.status_code == 403
    assert client.get("/").headers["Location"] == "/admin"  # still the admin account


def test_switch_lists_only_own_accounts(client):
    sign_in(client, "ops@example.com")
    response = call_callback(
        client,
        "switch-accounts.children",
        [{"id": "url", "property": "pathname", "value": "/switch"}],
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "acc-ops-car" in body and "acc-ops-admin" in body
    assert "acc-driver" not in body and "acc-other" not in body


def test_logout_ends_the_session_and_old_cookie_is_refused(client, app):
    sign_in(client, "driver@example.com")
    captured = client.get_cookie("session").value
    response = client.post("/logout", data={"csrf_token": _page_token(client)})
    assert response.status_code == 302
    assert client.get("/").status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", captured)
    assert replay.get("/").status_code == 302  # the captured cookie no longer signs anyone in


def test_password_is_stored_as_argon2_hash(app):
    from sqlalchemy import select

    from data.core.models import User

    with app.extensions["polaris_db"].session() as s:
        stored = s.scalar(select(User.password_hash).where(User.email == "driver@example.com"))
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_session_cookie_is_httponly_and_samesite(client):
    response = sign_in(client, "driver@example.com")
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_healthz_is_public(client):
    assert client.get("/healthz").status_code == 200


def _page_token(client) -> str:
    """A form token for the signed-in session (the account menu renders one)."""
    from tests.support.web import dash_csrf

    return dash_csrf(client)
