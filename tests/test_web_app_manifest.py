"""The dashboard can be added to a phone's home screen (issue 18): every page's head names the
web app manifest, the theme colour and the touch icon, and sets dark or light mode before the
first paint; the manifest is valid JSON, public (browsers fetch it without cookies), and its
icons are the PNGs of the sizes it says."""

from __future__ import annotations

import io
import json

from flask import Flask
from PIL import Image

from data.core.models import Role
from tests.support.web import AppFactory, add_person, client_for


def test_the_manifest_is_served_to_anyone_and_its_icons_are_reachable(
    app_factory: AppFactory,
) -> None:
    app: Flask = app_factory()
    anonymous = client_for(app, None)
    response = anonymous.get("/assets/manifest.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    manifest = json.loads(response.get_data(as_text=True))
    assert manifest["name"] == "Polaris Express"
    assert manifest["short_name"]
    assert (manifest["start_url"], manifest["display"]) == ("/", "standalone")
    assert manifest["theme_color"].startswith("#") and manifest["background_color"].startswith("#")
    sizes = set()
    for icon in manifest["icons"]:
        got = anonymous.get(icon["src"])
        assert got.status_code == 200, icon["src"]
        assert got.mimetype == icon["type"] == "image/png"
        width, height = Image.open(io.BytesIO(got.data)).size
        assert icon["sizes"] == f"{width}x{height}"
        sizes.add(width)
    assert {192, 512} <= sizes


def test_every_page_head_names_the_manifest_and_sets_the_theme_first(
    app_factory: AppFactory,
) -> None:
    app: Flask = app_factory()
    add_person(app, "alice@example.com", ("acc-alice", Role.customer, None))
    anonymous = client_for(app, None)
    alice = client_for(app, "alice@example.com")
    for client, path in ((anonymous, "/login"), (alice, "/")):  # Flask's page and Dash's
        response = client.get(path)
        assert response.status_code == 200, path
        page = response.get_data(as_text=True)
        head = page[: page.index("</head>")]
        assert '<link rel="manifest" href="/assets/manifest.json">' in head, path
        assert '<meta name="theme-color"' in head, path
        assert 'rel="apple-touch-icon"' in head, path
        # The theme script comes before any style sheet: no flash of the other mode.
        assert head.index('src="/assets/theme.js"') < head.index("stylesheet"), path
    theme = anonymous.get("/assets/theme.js")
    assert theme.status_code == 200 and b"data-bs-theme" in theme.data
