"""Issue 4, items 3-6 and 8: cookies and session versions, secrets, passwords and rate limits,
security headers, production mode."""

from __future__ import annotations

import secrets
import shutil
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask import Flask

import auth.routes as auth_routes
import config
from auth.routes import SIGNED_IN_AT
from config import ConfigError, load_config
from data.accounts.passwords import hash_password, set_password
from data.core.models import Role, User
from tests.support.callbacks import BANNER_HIDDEN, banner_of, dashboard_tick
from tests.support.databases import skip_or_fail
from tests.support.web import (
    PASSWORD,
    AppFactory,
    add_person,
    csrf_token,
    dash_csrf,
    make_app,
    sign_in,
)


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "sec.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def people(app) -> None:
    add_person(app, "driver@example.com", ("acc-driver", Role.customer, None))
    add_person(
        app,
        "ops@example.com",
        ("acc-ops-car", Role.customer, "Personal car"),
        ("acc-ops-admin", Role.admin, "Operations"),
    )


@pytest.fixture
def app(app_factory: AppFactory, db_url: str) -> Flask:
    app = app_factory(db_url)
    people(app)
    return app


# --- secrets -------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "", "short-key", "changeme", "x" * 31])
def test_production_refuses_missing_short_or_known_keys(key, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError):
        load_config({"ENV": "production", "SECRET_KEY": key})


def test_production_accepts_a_long_random_key():
    key = uuid.uuid4().hex + uuid.uuid4().hex
    assert load_config({"ENV": "production", "SECRET_KEY": key})["SECRET_KEY"] == key


@pytest.mark.parametrize(
    "key",
    [
        "a" * 48,
        "abc" * 16,
        "0123456789" * 4,
        "password" * 6,
        "0123456789abcdefghijklmnopqrstuvwxyz",  # a run, not random
        "a" * 30 + "9f3k2LmQ8xZr",  # a long run with a little noise
        "my-polaris-production-key-2026-do-not-share",  # a known word inside
        "changeme-" + "x1y2z3" * 5,
    ],
)
def test_production_refuses_keys_with_too_little_entropy(key, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    assert len(key) >= config.MIN_KEY_LENGTH  # long enough: only their regularity is wrong
    with pytest.raises(ConfigError) as refused:
        load_config({"ENV": "production", "SECRET_KEY": key})
    message = str(refused.value)
    assert "too weak" in message
    assert 'python -c "import secrets; print(secrets.token_urlsafe(48))"' in message


def test_production_accepts_every_generated_key():
    keys = [secrets.token_urlsafe(n) for n in (32, 48, 64) for _ in range(1000)]
    keys += [secrets.token_hex(32) for _ in range(2000)]
    refused = [k for k in keys if config.weak_key_reason(k) is not None]
    assert refused == []
    assert min(config.key_strength_bits(k) for k in keys) >= config.MIN_KEY_BITS


def test_a_missing_key_says_how_to_make_one(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="token_urlsafe"):
        load_config({"ENV": "production", "SECRET_KEY": None})


def test_development_generates_a_key_once_and_keeps_it(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setattr(config, "INSTANCE", tmp_path / "instance")
    first = load_config({})["SECRET_KEY"]
    second = load_config({})["SECRET_KEY"]
    assert first == second and len(first) >= 32
    key_file = tmp_path / "instance" / "secret_key"
    assert key_file.read_text().strip() == first
    assert key_file.stat().st_mode & 0o077 == 0  # readable by the owner only


def test_no_secret_default_in_code():
    source = Path(config.__file__).read_text()
    assert 'SECRET_KEY", "' not in source and "SECRET_KEY', '" not in source


# --- cookies and session versions ---------------------------------------------------------


def test_cookies_are_secure_over_https(db_url):
    app = make_app(db_url, HTTPS=True)
    people(app)
    client = app.test_client()
    response = sign_in(client, "driver@example.com")
    session_cookie = next(
        h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")
    )
    assert "Secure" in session_cookie and "HttpOnly" in session_cookie
    page = client.get("/")
    assert "max-age=31536000" in page.headers["Strict-Transport-Security"]
    csrf_cookie = next(
        h for h in page.headers.getlist("Set-Cookie") if h.startswith("_csrf_token=")
    )
    assert "Secure" in csrf_cookie


def test_no_hsts_over_plain_http(app):
    assert "Strict-Transport-Security" not in app.test_client().get("/login").headers


def test_a_cookie_from_before_an_account_switch_is_refused(app):
    client = app.test_client()
    sign_in(client, "ops@example.com")  # starts in the admin account
    before = client.get_cookie("session").value
    token = dash_csrf(client)
    response = client.post(
        "/account/switch", data={"account_id": "acc-ops-car", "csrf_token": token}
    )
    assert response.headers["Location"] == "/"
    replay = app.test_client()
    replay.set_cookie("session", before)
    assert replay.get("/").status_code == 302
    assert replay.get("/").headers["Location"].startswith("/login")


def test_a_cookie_from_before_a_password_change_is_refused(app):
    client = app.test_client()
    sign_in(client, "driver@example.com")
    assert client.get("/").status_code == 200
    with app.extensions["polaris_db"].session() as s:
        user = s.query(User).filter_by(email="driver@example.com").one()
        set_password(user, "a brand new password 123")
    assert client.get("/").status_code == 302  # signed out everywhere


def test_switching_to_admin_after_15_minutes_asks_for_the_password(app):
    client = app.test_client()
    sign_in(client, "ops@example.com")  # starts in the admin account (issue 13)
    token = dash_csrf(client)
    to_car = client.post("/account/switch", data={"account_id": "acc-ops-car", "csrf_token": token})
    assert to_car.headers["Location"] == "/"  # becoming a customer asks for nothing
    with client.session_transaction() as session:
        session[SIGNED_IN_AT] = time.time() - 16 * 60
    token = dash_csrf(client)
    response = client.post(
        "/account/switch", data={"account_id": "acc-ops-admin", "csrf_token": token}
    )
    assert response.headers["Location"] == "/account/confirm?account_id=acc-ops-admin"
    assert client.get("/admin").status_code == 403  # not switched yet
    form = {"account_id": "acc-ops-admin", "csrf_token": token}
    wrong = client.post("/account/confirm", data=form | {"password": "wrong"})
    assert wrong.status_code == 401
    right = client.post("/account/confirm", data=form | {"password": PASSWORD})
    assert right.headers["Location"] == "/admin"
    assert client.get("/admin").status_code == 200


def test_switching_to_admin_soon_after_sign_in_needs_no_password(app):
    client = app.test_client()
    sign_in(client, "ops@example.com")
    token = dash_csrf(client)
    client.post("/account/switch", data={"account_id": "acc-ops-car", "csrf_token": token})
    assert client.get("/admin").status_code == 403
    response = client.post(
        "/account/switch", data={"account_id": "acc-ops-admin", "csrf_token": dash_csrf(client)}
    )
    assert response.headers["Location"] == "/admin"


# --- passwords and rate limits --------------------------------------------------------------


def test_old_hash_parameters_are_rehashed_on_sign_in(app):
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with app.extensions["polaris_db"].session() as s:
        s.query(User).filter_by(email="driver@example.com").one().password_hash = weak
    assert sign_in(app.test_client(), "driver@example.com").status_code == 302
    with app.extensions["polaris_db"].session() as s:
        stored = s.query(User).filter_by(email="driver@example.com").one().password_hash
    assert stored != weak and stored.startswith("$argon2id$")
    assert stored.split("$")[3] == hash_password("x").split("$")[3]  # current parameters


def test_sixth_wrong_password_within_a_minute_gets_429(app):
    client = app.test_client()
    for _ in range(5):
        assert sign_in(client, "driver@example.com", "wrong").status_code == 401
    blocked = sign_in(client, "driver@example.com", PASSWORD)
    assert blocked.status_code == 429
    assert "try again in" in blocked.get_data(as_text=True)
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    # another person is not locked out by someone hammering this email
    assert sign_in(app.test_client(), "ops@example.com").status_code == 302


def test_rate_limit_is_shared_by_every_worker(db_url):
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError as exc:
        skip_or_fail(f"Redis not reachable on 127.0.0.1:6379: {exc}")
    shared = {
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379",
        "RATELIMIT_KEY_PREFIX": f"polaris-test-{uuid.uuid4().hex}",
    }
    worker_a, worker_b = make_app(db_url, **shared), make_app(db_url, **shared)
    people(worker_a)
    for worker in (worker_a, worker_b, worker_a, worker_b, worker_a):
        assert sign_in(worker.test_client(), "driver@example.com", "wrong").status_code == 401
    assert sign_in(worker_b.test_client(), "driver@example.com", "wrong").status_code == 429


# --- headers and production mode ------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/"])
def test_security_headers(app, path):
    client = app.test_client()
    sign_in(client, "driver@example.com")
    headers = client.get(path).headers
    csp = headers["Content-Security-Policy"]
    assert "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self' 'sha256-" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_production_mode_has_no_debug_no_mcp_and_no_tracebacks(db_url):
    key = secrets.token_urlsafe(48)  # a uuid's hex twice over is a repeat: refused
    app = make_app(db_url, ENV="production", SECRET_KEY=key, TESTING=False)
    people(app)
    assert app.debug is False
    assert not any("mcp" in rule.rule for rule in app.url_map.iter_rules())
    dash_app = app.extensions["polaris_dash"]
    assert dash_app._enable_mcp is False  # noqa: SLF001 - the setting has no public reader

    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    client = app.test_client()
    sign_in(client, "driver@example.com")
    response = client.get("/boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Traceback" not in body and "secret internals" not in body
    assert "Something went wrong" in body


NO_BOOKING = {"watch": False, "digest": "|"}


def test_the_csrf_cookie_comes_with_pages_not_with_callback_answers(app):
    client = app.test_client()
    sign_in(client, "driver@example.com")
    page = client.get("/")
    assert any(h.startswith("_csrf_token=") for h in page.headers.getlist("Set-Cookie"))
    # The dashboard's tick: the first answer gives the pills' digest; sent back, nothing has changed
    # and the answer is a 204, as text/html (it once came with a new token and cookie).
    first = dashboard_tick(client, app, banner=BANNER_HIDDEN, shown=None, watch=NO_BOOKING)
    answer = first.get_json()["response"]
    banner, digest = banner_of(answer, BANNER_HIDDEN), answer["charger-status-shown"]["data"]
    again = dashboard_tick(client, app, banner=banner, shown=digest, watch=NO_BOOKING)
    assert again.status_code == 204
    for answer in (first, again):
        assert not any(h.startswith("_csrf_token=") for h in answer.headers.getlist("Set-Cookie"))


# --- rate limits: counted before the check, per (address, email) and per email ---------------


class CountingChecks:
    """Wraps ``verify_password``: how many argon2 checks really ran, and for which password.
    Each check is made to last a little longer, so parallel attempts truly overlap."""

    def __init__(self, real) -> None:
        self.real = real
        self.passwords: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, password_hash, password):
        with self.lock:
            self.passwords.append(password)
        time.sleep(0.05)
        return self.real(password_hash, password)

    @property
    def wrong(self) -> int:
        return sum(p != PASSWORD for p in self.passwords)


@pytest.fixture
def checks(monkeypatch) -> CountingChecks:
    counting = CountingChecks(auth_routes.verify_password)
    monkeypatch.setattr(auth_routes, "verify_password", counting)
    return counting


def parallel_sign_ins(workers, passwords: list[str], email: str = "driver@example.com"):
    """Every password posted at the same moment, each from its own client (and CSRF token),
    spread over ``workers`` (apps sharing one rate-limit store, like gunicorn's workers)."""
    clients = [workers[i % len(workers)].test_client() for i in range(len(passwords))]
    tokens = [csrf_token(c) for c in clients]
    barrier = threading.Barrier(len(passwords))

    def attempt(i: int) -> int:
        barrier.wait()
        data = {"email": email, "password": passwords[i], "csrf_token": tokens[i]}
        return clients[i].post("/login", data=data).status_code

    with ThreadPoolExecutor(max_workers=len(passwords)) as pool:
        return Counter(pool.map(attempt, range(len(passwords))))


def redis_workers(db_url: str, n: int = 2):
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError as exc:
        skip_or_fail(f"Redis not reachable on 127.0.0.1:6379: {exc}")
    shared = {
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379",
        "RATELIMIT_KEY_PREFIX": f"polaris-test-{uuid.uuid4().hex}",
    }
    workers = [make_app(db_url, **shared) for _ in range(n)]
    people(workers[0])
    return workers


def test_parallel_wrong_passwords_check_at_most_the_limit(app, checks):
    statuses = parallel_sign_ins([app], ["wrong"] * 20)
    assert len(checks.passwords) == 5  # was 20: every one reached argon2
    assert statuses == {401: 5, 429: 15}


def test_parallel_guesses_with_the_right_password_among_them(app, checks):
    statuses = parallel_sign_ins([app], ["wrong"] * 19 + [PASSWORD])
    # Counted before checking: at most 5 guesses checked. The right password is refunded once
    # checked (it is no guess), which may let one more guess through: never more than that.
    assert checks.wrong <= 5 and len(checks.passwords) <= 6
    assert statuses[401] == checks.wrong and statuses[429] >= 14
    assert statuses[302] == (PASSWORD in checks.passwords)


def test_parallel_guesses_across_workers_sharing_redis(db_url, checks):
    workers = redis_workers(db_url, 4)
    statuses = parallel_sign_ins(workers, ["wrong"] * 20)
    assert len(checks.passwords) == 5  # was 8 with 4 gunicorn workers, 20 here
    assert statuses == {401: 5, 429: 15}


def test_parallel_right_and_wrong_across_workers_sharing_redis(db_url, checks):
    workers = redis_workers(db_url, 2)
    statuses = parallel_sign_ins(workers, ["wrong"] * 19 + [PASSWORD])
    assert checks.wrong <= 5 and len(checks.passwords) <= 6
    assert statuses[401] == checks.wrong and statuses[429] >= 14


def from_address(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_an_attacker_elsewhere_does_not_lock_the_owner_out(app, checks):
    attacker = from_address(app, "10.0.0.1")
    for _ in range(5):
        assert sign_in(attacker, "driver@example.com", "wrong").status_code == 401
    for _ in range(8):  # the right password is refunded: signing in often uses up nothing
        assert sign_in(from_address(app, "10.0.0.2"), "driver@example.com").status_code == 302
    blocked = sign_in(attacker, "driver@example.com", PASSWORD)
    assert blocked.status_code == 429
    wait = int(blocked.headers["Retry-After"])
    assert 1 <= wait <= 60
    body = blocked.get_data(as_text=True)
    assert f"try again in {wait} second" in body
    assert len(checks.passwords) == 13  # the 429 checked nothing


def test_the_per_email_cap_holds_across_many_addresses(app, checks):
    for n in range(20):  # 4 wrong from each of 5 addresses: under each address's limit
        client = from_address(app, f"10.0.0.{n // 4 + 1}")
        assert sign_in(client, "driver@example.com", "wrong").status_code == 401
    blocked = sign_in(from_address(app, "10.0.1.1"), "driver@example.com", PASSWORD)
    assert blocked.status_code == 429
    wait = int(blocked.headers["Retry-After"])
    assert 1 <= wait <= 3600
    assert "try again in" in blocked.get_data(as_text=True)
    assert len(checks.passwords) == 20
    # another person is not affected
    assert sign_in(from_address(app, "10.0.1.1"), "ops@example.com").status_code == 302


def test_parallel_password_confirmations_check_at_most_the_limit(app, checks):
    """/account/confirm (becoming admin again after 15 minutes) counts before checking too."""
    client = app.test_client()
    sign_in(client, "ops@example.com")
    token = dash_csrf(client)
    client.post("/account/switch", data={"account_id": "acc-ops-car", "csrf_token": token})
    with client.session_transaction() as session:
        session[SIGNED_IN_AT] = time.time() - 16 * 60
    cookie = client.get_cookie("session").value
    checks.passwords.clear()
    barrier = threading.Barrier(12)

    def attempt(_: int) -> int:
        mine = app.test_client()
        mine.set_cookie("session", cookie)
        mine.set_cookie("_csrf_token", client.get_cookie("_csrf_token").value)
        barrier.wait()
        form = {"account_id": "acc-ops-admin", "csrf_token": token, "password": "wrong"}
        return mine.post("/account/confirm", data=form).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = Counter(pool.map(attempt, range(12)))
    assert len(checks.passwords) == 5  # was 12
    assert statuses == {401: 5, 429: 7}
