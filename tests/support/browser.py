"""A live app on loopback and a headless Chromium page signed in to it."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("POLARIS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DEMO_PASSWORD = "demo-password"  # noqa: S105 - the documented demo login
SCREENSHOTS = Path(os.environ.get("POLARIS_SCREENSHOTS", "screenshots"))


@contextmanager
def live_server(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a thread; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def sign_in_page(
    page: Any, base_url: str, email: str, password: str, *, wait_for_idle: bool = True
) -> None:
    """Sign in through the form. ``wait_for_idle=False`` only waits to leave /login: a page
    that polls faster than every 500 ms never goes network-idle."""
    page.goto(f"{base_url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    if wait_for_idle:
        page.wait_for_load_state("networkidle")
    else:
        page.wait_for_url(lambda url: "/login" not in url)


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def card_id(charger_id: str, kind: str) -> str:
    """The DOM id Dash gives a charger card's pattern-matching component (``start-charging``,
    ``start-charging-note``)."""
    return json.dumps({"charger": charger_id, "type": kind}, separators=(",", ":"))


def by_id(ident: str) -> str:
    """A CSS selector for an element id that is not a CSS identifier (Dash's JSON ids)."""
    return "[id='" + ident + "']"


def wait_text(page: Any, ident: str, text: str, timeout_ms: float = 20_000) -> None:
    """Wait until the element ``ident`` shows exactly ``text`` (trimmed)."""
    page.wait_for_function(
        "([id, text]) => { const el = document.getElementById(id);"
        " return el !== null && el.innerText.trim() === text; }",
        arg=[ident, text],
        timeout=timeout_ms,
    )


GRID_ROWS = " .ag-center-cols-container .ag-row"


def wait_for_grid_rows(page: Any, grid: str, timeout_ms: float = 20_000) -> None:
    """Wait until the grid ``grid`` (a CSS selector) has drawn its first row with its data.
    An infinite grid first draws a placeholder row with empty cells until its first block
    arrives. In the DOM is enough: on a phone the row may be out of the viewport."""
    page.wait_for_function(
        "grid => { const row = document.querySelector(grid + ' .ag-center-cols-container"
        ' .ag-row[row-index="0"]\'); return row !== null'
        " && [...row.querySelectorAll('.ag-cell')].some(c => c.textContent.trim() !== ''); }",
        arg=grid,
        timeout=timeout_ms,
    )


def banner_hidden(page: Any, hidden: bool, timeout_ms: float = 20_000) -> None:
    """Wait until the Active session banner is hidden (or shown)."""
    page.wait_for_function(
        "(hidden) => document.getElementById('active-session-banner').hidden === hidden",
        arg=hidden,
        timeout=timeout_ms,
    )


def pick_dropdown(page: Any, dropdown_id: str, text: str) -> None:
    """Type into a searchable dropdown (``dcc.Dropdown``) and choose the option the server
    found: its options are what the server's callback found for the typed text."""
    page.click(f"#{dropdown_id}")
    # Fill the open menu's search box once it is drawn (typing before it has focus, on a busy
    # machine, goes nowhere): one input event, one search, not one per keystroke.
    search = page.locator(".dash-dropdown-search")
    search.wait_for(state="visible", timeout=10_000)
    search.fill(text)
    page.wait_for_function(
        "(t) => { const o = [...document.querySelectorAll('[role=option]')];"
        " return o.length > 0 && o.every((e) => e.innerText.includes(t)); }",
        arg=text,
        timeout=20_000,  # the search is a callback: on a loaded CI machine it can queue
    )
    page.locator("[role=option]", has_text=text).first.click()
    # The menu closes on a choice; the next dropdown's menu must be the only one open.
    search.wait_for(state="detached", timeout=10_000)


def show_all_chargers(page: Any, timeout_ms: float = 20_000) -> None:
    """On a phone the dashboard lists the favourites only: one tap on Show all chargers opens
    the full list (at desktop widths it is always open, and the button hidden)."""
    # The button is in the page's skeleton: it may be pressed before the cards are drawn.
    page.wait_for_selector("#charger-list-toggle", state="attached", timeout=timeout_ms)
    toggle = page.locator("#charger-list-toggle")
    if toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false":
        toggle.click()
        page.wait_for_selector(
            "#charger-list-toggle[aria-expanded='true']", state="attached", timeout=timeout_ms
        )
