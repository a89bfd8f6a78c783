"""Request bodies over MAX_CONTENT_LENGTH are refused before anything reads them (413), with
the app's friendly message: an open page shows it in its alert, a form gets the error page."""

from __future__ import annotations

import json
from pathlib import Path

from data.core.models import Role
from tests.support.web import add_person, dash_csrf, make_app, sign_in

LIMIT = 64 * 1024  # small, so the test sends little


def _app(tmp_path: Path):
    app = make_app(f"sqlite:///{tmp_path / 'limits.db'}", MAX_CONTENT_LENGTH=LIMIT)
    add_person(app, "olga@example.com", ("ops", Role.admin, "Operations"))
    return app


def test_the_default_limit_admits_an_import_upload_and_no_more() -> None:
    from config import load_config
    from data.exchange.import_uploads import UPLOAD_LIMIT

    limit = load_config({"SECRET_KEY": "x" * 40})["MAX_CONTENT_LENGTH"]
    # 16 MB of files arrive base64-encoded (4/3) inside the callback's JSON.
    assert UPLOAD_LIMIT * 4 / 3 < limit < 32 * 1024 * 1024


def test_an_oversized_callback_body_gets_the_alert_not_a_traceback(tmp_path: Path) -> None:
    client = _app(tmp_path).test_client()
    sign_in(client, "olga@example.com")
    body = {"output": "x.children", "outputs": {}, "inputs": [{"value": "a" * (2 * LIMIT)}]}
    response = client.post(
        "/_dash-update-component",
        data=json.dumps(body),
        content_type="application/json",
        headers={"X-CSRFToken": dash_csrf(client)},
    )
    assert response.status_code == 200  # the renderer applies only a 200
    alert = response.get_json()["sideUpdate"]["page-alert"]
    assert alert["is_open"] is True
    assert "nothing was saved" in alert["children"]


def test_an_oversized_form_gets_the_error_page(tmp_path: Path) -> None:
    client = _app(tmp_path).test_client()
    response = client.post("/login", data={"email": "a" * (2 * LIMIT), "password": "x"})
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "Too large" in page and "Traceback" not in page
