"""Receipts and statements over HTTP, on SQLite and PostgreSQL: the active account's own only
(404 for anybody else's, also for a person whose other account is an admin one; an admin
account may open any receipt), anonymous people sent to sign in, real PDFs with the total in
their text, the statement's CSV spreadsheet-safe, a bad month explained, and PDFs rate-limited."""

from __future__ import annotations

import csv
import http.server
import io
import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader

import web.receipts
from data.core.models import Role
from tests.support.callbacks import call
from tests.support.factories import make_charger, make_session
from tests.support.receipts import finished, priced_site
from tests.support.web import AppFactory, add_person, client_for, dash_csrf
from web.pdf import render_pdf

DANA, ZOE, OLGA = "dana@example.com", "zoe@example.com", "olga@example.com"
HOUR = timedelta(hours=1)
DST_START = datetime(2026, 10, 24, 23, 30, tzinfo=UTC)  # 3 h across the end of summer time
RECEIPT_CALLBACK = "receipt-body.children"
STATEMENT_CALLBACK = "statement-body.children"
# Dana's session: 20 kWh x 0.39 + 2 h x 1.20 + 0.50 = 10.70, VAT 1.71.
DANA_TOTAL, DANA_VAT = "€10.70", "€1.71"
# Zoe's, which nobody else may see: 49.6 kWh x 0.59 (DC) + 0.50 = 29.76.
ZOE_SECRETS = ("Zoe", "49.600", "29.76", "Motorway Hub")


@pytest.fixture
def app(app_factory: AppFactory, database_url: str) -> Flask:
    app = app_factory(database_url)
    add_person(app, DANA, ("a-dana", Role.customer, None))
    add_person(app, ZOE, ("a-zoe", Role.customer, None))
    # Olga holds a customer account and an admin one (signing in lands on the admin one).
    add_person(app, OLGA, ("a-olga", Role.customer, None), ("a-olga-admin", Role.admin, "Ops"))
    with app.extensions["polaris_db"].session() as s:
        priced_site(s)
        finished(s, "s-dana", "a-dana", "AC", DST_START, 3 * HOUR, "20")
        finished(s, "s-zoe", "a-zoe", "DC", DST_START + 24 * HOUR, HOUR, "49.6")
        make_session(s, "a-dana", "AC", session_id="s-dana-live", started_at=DST_START + HOUR)
    return app


def _as_admin(app: Flask) -> FlaskClient:
    """Olga as her admin account: where signing in lands anyone who holds one."""
    client = client_for(app, OLGA)
    assert client.get("/").headers["Location"] == "/admin"
    return client


def _olga_as_customer(app: Flask) -> FlaskClient:
    client = client_for(app, OLGA)
    response = client.post(
        "/account/switch", data={"account_id": "a-olga", "csrf_token": dash_csrf(client)}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/"
    return client


def _render(client: FlaskClient, output: str, store: str, value: object) -> str:
    response = call(client, output, [{"id": store, "property": "data", "value": value}])
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return json.dumps(response.get_json(), ensure_ascii=False)  # "€", not "\\u20ac"


def _receipt(client: FlaskClient, value: object) -> str:
    return _render(client, RECEIPT_CALLBACK, "receipt-session", value)


def _statement(client: FlaskClient, value: object) -> str:
    return _render(client, STATEMENT_CALLBACK, "statement-month", value)


def _pdf_text(response: Any) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/pdf"
    data = response.get_data()
    assert data.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_anonymous_people_are_sent_to_sign_in(client: FlaskClient):
    for path in ("/receipts/s-dana", "/receipts/s-dana.pdf", "/statements", "/statements/2026-10",
                 "/statements/2026-10.pdf"):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/login?next=" + path
    # A CSV is a download a script may ask for: a status, not the sign-in page.
    assert client.get("/statements/2026-10.csv").status_code == 401


def test_the_own_receipt_as_a_page_and_a_pdf(app: Flask):
    dana = client_for(app, DANA)
    assert dana.get("/receipts/s-dana").status_code == 200
    shown = _receipt(dana, "s-dana")
    for expected in (DANA_TOTAL, DANA_VAT, "Market Square", "CEST", "CET", "Download PDF"):
        assert expected in shown, expected
    response = dana.get("/receipts/s-dana.pdf")
    text = _pdf_text(response)
    assert 'filename="receipt-s-dana.pdf"' in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "private, no-store"
    for expected in ("Receipt", "s-dana", DANA_TOTAL, DANA_VAT, "Polaris Test Energy",
                     "Standard", "Sun 25 Oct 2026, 01:30 CEST"):  # fmt: skip
        assert expected in text, expected
    assert "Download PDF" not in text  # the document alone, not the page's buttons


def test_anybody_elses_receipt_is_not_found(app: Flask):
    dana, olga = client_for(app, DANA), _olga_as_customer(app)
    for client in (dana, olga):  # Olga as her customer account: her admin one does not count
        for sid in ("s-zoe", "no-such-session", "s-dana-live", "x" * 500):
            for path in (f"/receipts/{sid}", f"/receipts/{sid}.pdf"):
                response = client.get(path)
                assert response.status_code == 404, path
                assert not [s for s in ZOE_SECRETS if s in response.get_data(as_text=True)]
            shown = _receipt(client, sid)
            assert "No receipt here" in shown
            assert not [s for s in ZOE_SECRETS if s in shown]
    assert client_for(app, ZOE).get("/receipts/s-zoe.pdf").status_code == 200


def test_an_admin_account_may_open_any_receipt(app: Flask):
    admin = _as_admin(app)
    assert admin.get("/receipts/s-zoe").status_code == 200
    shown = _receipt(admin, "s-zoe")
    assert "29.76" in shown and "/statements/" not in shown  # an admin account has none
    assert "€29.76" in _pdf_text(admin.get("/receipts/s-zoe.pdf"))
    assert admin.get("/receipts/s-dana-live").status_code == 404  # still no receipt yet


def test_the_statement_page_pdf_and_csv(app: Flask):
    with app.extensions["polaris_db"].session() as s:
        make_charger(s, charger_id="FORMULA", friendly_name="=HYPERLINK(1)", max_power_kw="11")
        finished(s, "s-dana-2", "a-dana", "FORMULA", datetime(2026, 10, 5, 8, tzinfo=UTC), HOUR,
                 "10")  # fmt: skip
    dana = client_for(app, DANA)
    now_month = datetime.now(UTC).astimezone(ZoneInfo("Europe/Berlin")).strftime("%Y-%m")
    assert dana.get("/statements").headers["Location"] == f"/statements/{now_month}"
    assert dana.get("/statements/2026-10").status_code == 200
    shown = _statement(dana, "2026-10")
    assert "s-dana" in shown and "s-dana-2" in shown and "s-zoe" not in shown
    # 10.70 + (10 x 0.39 + 0.50 = 4.40) = 15.10; the session in progress is not on it.
    assert "€15.10" in shown and "s-dana-live" not in shown
    assert "/statements/2026-10.pdf" in shown and "/statements/2026-10.csv" in shown

    text = _pdf_text(dana.get("/statements/2026-10.pdf"))
    assert "Statement" in text and "October 2026" in text and "€15.10" in text
    assert "s-dana-2" in text

    response = dana.get("/statements/2026-10.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="statement-2026-10-a-dana.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True), newline="")))
    assert [r["session_id"] for r in rows] == ["s-dana-2", "s-dana"]
    assert rows[0]["charger_name"] == "'=HYPERLINK(1)"  # a spreadsheet shows it as text
    assert rows[1]["day"] == "2026-10-25" and rows[1]["started_at"] == "2026-10-24T23:30:00Z"
    assert (rows[1]["cost_total"], rows[1]["vat_amount"], rows[1]["currency"]) == (
        "10.70",
        "1.71",
        "EUR",
    )
    assert sum(Decimal(r["cost_total"]) for r in rows) == Decimal("15.10")


def test_a_bad_month_says_what_is_wrong(app: Flask):
    dana = client_for(app, DANA)
    assert dana.get("/statements/2026-13").status_code == 404
    assert "There is no month 13 in 2026-13" in _statement(dana, "2026-13")
    for suffix in (".csv", ".pdf"):
        response = dana.get(f"/statements/2026-13{suffix}")
        assert response.status_code == 404
        assert "months run from 01 to 12" in response.get_data(as_text=True)
    assert "is not a month" in _statement(dana, {"month": "2026-10"})  # a forged store value


def test_statements_are_for_customer_accounts(app: Flask):
    admin = _as_admin(app)
    for path in ("/statements", "/statements/2026-10", "/statements/2026-10.csv",
                 "/statements/2026-10.pdf"):  # fmt: skip
        assert admin.get(path).status_code == 403, path
    assert "Statements are for customer accounts" in _statement(admin, "2026-10")


def test_pdfs_are_rate_limited_per_account(app: Flask, monkeypatch: pytest.MonkeyPatch):
    dana, zoe = client_for(app, DANA), client_for(app, ZOE)
    statuses = [dana.get("/receipts/no-such-session.pdf").status_code for _ in range(9)]
    assert statuses == [404] * 9  # counted too: the limit is on asking
    assert dana.get("/statements/2026-10.pdf").status_code == 200  # the tenth
    refused = dana.get("/receipts/s-dana.pdf")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "try again in a minute" in refused.get_data(as_text=True)
    assert zoe.get("/receipts/s-zoe.pdf").status_code == 200  # another account's own budget


def test_a_long_month_prints_by_day(app: Flask, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(web.receipts, "PDF_MAX_LINES", 0)
    text = _pdf_text(client_for(app, DANA).get("/statements/2026-10.pdf"))
    assert "Sessions by day" in text and "summed per day" in text and DANA_TOTAL in text


def test_rendering_a_pdf_fetches_nothing():
    """The PDFs are made from HTML built here; even a document naming a URL or a file (none of
    ours does) makes the renderer open neither."""
    hits: list[str] = []

    class Counting(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the handler's name
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        document = (
            f'<html><head><link rel="stylesheet" href="{url}/style.css"></head><body>'
            f'<img src="{url}/logo.png"><img src="file:///etc/hostname">'
            f'<p style="background: url({url}/bg.png)">x</p></body></html>'
        )
        assert render_pdf(document).startswith(b"%PDF-")
    finally:
        server.shutdown()
        thread.join(timeout=5)
    assert hits == []
