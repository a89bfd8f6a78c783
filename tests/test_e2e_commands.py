"""Commands end to end with real processes on PostgreSQL (issue 15): a driver's browser and an
operator's API token, two OCPP server instances, simulated chargers split between them.

One throwaway PostgreSQL database holds a small site (an operator, a driver with an id tag, an
admin with a ``commands`` token, six chargers with OCPP passwords), and each of these is a
process of its own, in production mode: ``gunicorn app:server`` (one worker, four threads),
two ``flask ocpp-server`` instances A and B (a short command timeout and offline delay), and
three ``flask ocpp-simulate`` processes. A charger has one central system URL; with two instances
that is one address behind a load balancer. The simulator stands in for the balancer with a
list of URLs (the first that accepts, in order, again after a drop), "A then B" for the
chargers that start on A and "B then A" for B's. One more charger is run by nobody.

* A driver in headless Chromium presses Start charging, sees "Waiting for the charger…", then
  the Active session banner with its kWh climbing; presses Stop (confirmed): the banner goes
  and the session is finalized with its energy.
* An operator resets a charger through ``/api/v1`` and polls the command until accepted; the
  charger disconnects, reconnects and boots again.
* A command to the charger nobody runs ends ``offline``.
* Instance A is killed (SIGKILL) while a slowly answering charger's command is outstanding: B
  ends it as ``timeout``; the charger reconnects to B, which delivers the next command.

The tests run in this order and share the processes (the last one kills A). Every wait polls
with a deadline; a failure prints every process's log. ``POLARIS_SCREENSHOTS`` keeps the
driver's screenshot.
"""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

import data.ocpp.commands as ocpp_commands
from components.dashboard import START_NOTE_TYPE, START_TYPE
from components.shell import STOP_NOTE_ID, STOPPING_TEXT, WAITING_TEXT
from data.accounts.passwords import hash_password
from data.accounts.tokens import COMMANDS_SCOPE, create_token
from data.core.db import Database
from data.core.models import Charger, ChargerCommand, ChargingSession, CommandStatus, Role
from data.ocpp.commands import CommandRow
from tests.support.audit import CLI
from tests.support.browser import (
    banner_hidden,
    by_id,
    card_id,
    screenshot,
    sign_in_page,
    wait_text,
)
from tests.support.databases import migrated_postgres_database
from tests.support.factories import (
    make_account,
    make_charger,
    make_id_tag,
    make_operator,
    make_user,
)
from tests.support.processes import (
    Background,
    flask_command,
    free_port,
    gunicorn,
    logs_on_failure,
    server_env,
    wait_for,
)
from tests.support.web import PASSWORD

pytestmark = pytest.mark.postgres  # and the driver's test is a browser test (its fixture)

DRIVER, DRIVER_ACCOUNT, DRIVER_TAG = "driver@e2e.example", "acc-e2e-driver", "E2E-DRIVER"
ADMIN, ADMIN_ACCOUNT = "ops@e2e.example", "acc-e2e-ops"
OCPP_PASSWORD = "e2e-ocpp-password-0123"  # noqa: S105 - the chargers' test password
# Chargers: on A, the driver's (a fast DC charger: the banner's one decimal moves every second)
# and a neighbour; on A too, one that answers slowly; two on B; one nobody runs.
DRIVERS_CHARGER, NEIGHBOUR, SLOW = "E2E-A1", "E2E-A2", "E2E-A3"
RESET, QUIET, NOBODYS = "E2E-B1", "E2E-B2", "E2E-OFF"
COMMAND_TIMEOUT_S = 6.0  # ocpp-server --command-timeout
OFFLINE_AFTER_S = 3.0  # ocpp-server --offline-after
EXPIRE_EVERY_S = 2.0  # how often an instance expires commands (CentralSystem's default)
SLOW_ANSWER_S = 4.0  # the slow charger's --answer-delay: within the timeout, but not at once
DRIVER_ANSWER_S = 1.5  # the driver's charger answers after this: the card visibly waits
START_WITHIN_S = 60  # each step of starting the processes (generous: CI machines are shared)
WAIT_MS = 20_000


@dataclass
class Fleet:
    """The running processes and what the tests need to reach them."""

    db: Database
    web: str
    token: str
    a: Background
    b: Background
    instance: dict[str, str]  # "A"/"B" -> the instance id it records as a command's sender
    processes: list[Background]  # all of them, for their logs

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """``/api/v1`` with the admin's token: (status, JSON)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{self.web}/api/v1{path}", data=data, method=method
        )
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def ask(self, charger_id: str, action: str, **params: Any) -> int:
        status, answer = self.api(
            "POST", f"/chargers/{charger_id}/commands", {"action": action, "params": params}
        )
        assert status == 202, (status, answer)
        assert answer["status"] == "pending"
        return int(answer["id"])

    def outcome(self, command_id: int, within_s: float) -> dict[str, Any]:
        """Poll ``GET /api/v1/commands/<id>`` until the command is no longer open."""

        def finished() -> dict[str, Any] | None:
            status, answer = self.api("GET", f"/commands/{command_id}")
            assert status == 200, (status, answer)
            return None if answer["status"] in ("pending", "sent") else answer

        return wait_for(f"command {command_id} finished", finished, within_s, every_s=0.2)

    def row(self, command_id: int) -> CommandRow:
        with self.db.session() as s:
            row = ocpp_commands.command(s, command_id)
        assert row is not None
        return row

    def connections(self, server: Background, charger_id: str) -> int:
        """How often ``charger_id`` connected to ``server`` (its log says so each time)."""
        return len(
            re.findall(rf"charger {re.escape(charger_id)} connected$", server.output(), re.M)
        )


def seed(db: Database) -> str:
    """The site; returns the admin's API token (``commands`` scope)."""
    charger_password = hash_password(OCPP_PASSWORD)
    with db.session() as s:
        make_operator(s, timezone="Europe/Berlin")
        people = hash_password(PASSWORD)
        driver = make_user(s, email=DRIVER, display_name="Erin Driver", password_hash=people)
        make_account(s, account_id=DRIVER_ACCOUNT, user=driver)
        driver.default_account_id = DRIVER_ACCOUNT
        make_id_tag(s, DRIVER_ACCOUNT, id_tag=DRIVER_TAG)
        admin = make_user(s, email=ADMIN, display_name="Olga Ops", password_hash=people)
        make_account(s, account_id=ADMIN_ACCOUNT, user=admin, role=Role.admin)
        admin.default_account_id = ADMIN_ACCOUNT
        for charger_id in (DRIVERS_CHARGER, NEIGHBOUR, SLOW, RESET, QUIET, NOBODYS):
            fast = charger_id == DRIVERS_CHARGER
            charger = make_charger(
                s,
                charger_id=charger_id,
                friendly_name=f"Bay {charger_id}",
                max_power_kw="350" if fast else "22",
            )
            charger.ocpp_password_hash = charger_password
        token = create_token(
            s, ADMIN, datetime.now(UTC), name="e2e", scopes=(COMMANDS_SCOPE,), actor=CLI
        ).secret
    return token


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def ocpp_server(folder: Path, env: dict[str, str], name: str, port: int) -> Background:
    return Background(
        f"ocpp-server {name}",
        flask_command(
            "ocpp-server",
            "--port", str(port),
            "--heartbeat-interval", "10",
            "--command-timeout", str(COMMAND_TIMEOUT_S),
            "--offline-after", str(OFFLINE_AFTER_S),
        ),
        env,
        folder / f"ocpp-{name}.log",
    )  # fmt: skip


def simulator(
    folder: Path, env: dict[str, str], name: str, urls: list[str], chargers: list[str], *extra: str
) -> Background:
    # Heartbeats every 30 s (the default): within a test, the charger talks when it has to.
    args = ["ocpp-simulate", "--no-session", "--stay", "600", "--password", OCPP_PASSWORD]
    for url in urls:
        args += ["--url", url]
    for charger_id in chargers:
        args += ["--charger-id", charger_id]
    return Background(
        f"simulator {name}", flask_command(*args, *extra), env, folder / f"sim-{name}.log"
    )


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Every process started, and every simulated charger connected to its instance."""
    folder = tmp_path_factory.mktemp("e2e")
    with migrated_postgres_database("polaris_e2e") as url:
        db = Database(url)
        token = seed(db)
        env = server_env(DATABASE_URL=url, POLARIS_INSTANCE=str(folder))
        ports = {"A": free_port(), "B": free_port()}
        ws = {name: f"ws://127.0.0.1:{port}/ocpp" for name, port in ports.items()}
        processes: list[Background] = []
        started = time.monotonic()
        try:
            with logs_on_failure(processes):
                servers = {name: ocpp_server(folder, env, name, ports[name]) for name in ports}
                processes += servers.values()
                instance = {name: _serving(servers[name], ports[name]) for name in servers}
                wait_for("both servers LISTENing", lambda: _listening(db) == 2, 10)
                # The simulators need the servers; the web app starts beside them.
                processes += [
                    simulator(folder, env, "A", [ws["A"], ws["B"]], [DRIVERS_CHARGER, NEIGHBOUR],
                              "--answer-delay", str(DRIVER_ANSWER_S),
                              "--interval", "1", "--power-kw", "300"),  # a reading a second
                    simulator(folder, env, "slow", [ws["A"], ws["B"]], [SLOW],
                              "--answer-delay", str(SLOW_ANSWER_S)),
                    simulator(folder, env, "B", [ws["B"], ws["A"]], [RESET, QUIET]),
                ]  # fmt: skip
                web_env = {"POLARIS_REFRESH_INTERVAL_MS": "1000"}
                with gunicorn(folder, url, threads=4, within_s=START_WITHIN_S, **web_env) as web:
                    processes.append(web.process)
                    fleet = Fleet(
                        db, web.url, token, servers["A"], servers["B"], instance, processes
                    )
                    _wait_connected(fleet)
                    took = time.monotonic() - started
                    print(f"\n[timing] every process started, the chargers connected: {took:.1f} s")
                    yield fleet
        finally:
            for process in reversed(processes):  # the servers last: no reconnecting at the end
                process.stop()
            db.engine.dispose()


def _serving(server: Background, port: int) -> str:
    """Wait until ``server`` listens on ``port``; its instance id (from its first lines)."""

    def instance() -> str | None:
        server.assert_alive()
        found = re.search(r"^Instance (\S+): the sender", server.output(), re.M)
        return found.group(1) if found else None

    found = wait_for(f"{server.name} started", instance, START_WITHIN_S)
    wait_for(f"{server.name} listening", lambda: listening(port), 10)
    return found


def _listening(db: Database) -> int:
    """How many connections LISTEN for commands (one per server instance)."""
    with db.session() as s:
        return int(
            s.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
                )
            )
        )


def _wait_connected(fleet: Fleet) -> None:
    expected = {DRIVERS_CHARGER: fleet.a, NEIGHBOUR: fleet.a, SLOW: fleet.a}
    expected.update({RESET: fleet.b, QUIET: fleet.b})

    def all_connected() -> bool:
        for process in fleet.processes:
            process.assert_alive()
        return all(fleet.connections(server, cid) == 1 for cid, server in expected.items())

    wait_for("every simulated charger connected to its instance", all_connected, START_WITHIN_S)

    def all_booted() -> bool:
        with fleet.db.session() as s:
            seen = s.scalar(select(func.count()).where(Charger.last_seen_at.is_not(None)))
        return seen == len(expected)

    wait_for("every simulated charger booted", all_booted, 10)


# --- the driver --------------------------------------------------------------------------------


def banner_kwh(page: Any, above: float) -> float:
    """Wait until the banner shows more than ``above`` kWh; that figure."""
    handle = page.wait_for_function(
        "(above) => { const t = document.getElementById('banner-kwh').innerText;"
        " const kwh = parseFloat(t.replace(/,/g, ''));"
        " return t.endsWith('kWh') && kwh > above ? kwh : null; }",
        arg=above,
        timeout=WAIT_MS,
    )
    return float(handle.json_value())


def test_a_driver_starts_and_stops_charging_in_the_browser(fleet: Fleet, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # Stop charging's confirmation
    try:
        with logs_on_failure(fleet.processes):
            sign_in_page(page, fleet.web, DRIVER, PASSWORD, wait_for_idle=False)
            start = page.locator(by_id(card_id(DRIVERS_CHARGER, START_TYPE)))
            start.wait_for(state="visible", timeout=WAIT_MS)
            banner_hidden(page, True)
            # The charger nobody runs is Offline: no Start on its card.
            assert not page.locator(by_id(card_id(NOBODYS, START_TYPE))).is_visible()

            start.click()
            wait_text(page, card_id(DRIVERS_CHARGER, START_NOTE_TYPE), WAITING_TEXT)
            banner_hidden(page, False)
            first = banner_kwh(page, 0.0)
            second = banner_kwh(page, first)  # a later reading, larger
            assert 0 < first < second
            card = page.locator(".charger-card", has=start)
            card.locator(".status-in-use").wait_for(timeout=WAIT_MS)
            assert not start.is_visible()  # In use now: no Start on this card
            screenshot(page, "e2e-driver-active-session")

            page.locator("#stop-charging").click()
            wait_text(page, STOP_NOTE_ID, STOPPING_TEXT)
            banner_hidden(page, True)

            def finalized() -> ChargingSession | None:
                with fleet.db.session() as s:
                    session = s.scalars(
                        select(ChargingSession).where(ChargingSession.account_id == DRIVER_ACCOUNT)
                    ).one()
                    s.expunge(session)
                return session if session.finalized else None

            session = wait_for("the driver's session finalized", finalized, 10)
            assert session.charger_id == DRIVERS_CHARGER
            assert session.ended_at is not None
            # At least what the banner showed (rounded to 0.1 kWh), and it charged on since.
            assert Decimal(session.energy_kwh) > Decimal(str(second)) - Decimal("0.05")
            assert session.energy_disputed_at is None
            with fleet.db.session() as s:
                asked = s.execute(
                    select(ChargerCommand.action, ChargerCommand.status, ChargerCommand.sent_by)
                    .where(ChargerCommand.account_id == DRIVER_ACCOUNT)
                    .order_by(ChargerCommand.id)
                ).all()
            assert [tuple(r) for r in asked] == [
                ("RemoteStartTransaction", CommandStatus.accepted, fleet.instance["A"]),
                ("RemoteStopTransaction", CommandStatus.accepted, fleet.instance["A"]),
            ]
    finally:
        context.close()


# --- the operator ------------------------------------------------------------------------------


def test_an_operator_resets_a_charger_through_the_api(fleet: Fleet) -> None:
    with logs_on_failure(fleet.processes):
        with fleet.db.session() as s:
            seen_before = s.scalar(select(Charger.last_seen_at).where(Charger.id == RESET))
        assert seen_before is not None
        command_id = fleet.ask(RESET, "Reset", type="Soft")
        answer = fleet.outcome(command_id, within_s=10)
        assert (answer["status"], answer["response"]) == ("accepted", {"status": "Accepted"})
        assert fleet.row(command_id).sent_by == fleet.instance["B"]
        # The charger reboots: it disconnects, connects again (to B, first in its list) and
        # sends a BootNotification, which moves its last seen time.
        wait_for("the charger reconnected", lambda: fleet.connections(fleet.b, RESET) == 2, 10)

        def seen_again() -> bool:
            with fleet.db.session() as s:
                seen = s.scalar(select(Charger.last_seen_at).where(Charger.id == RESET))
            return seen is not None and seen > datetime.fromisoformat(answer["answered_at"])

        wait_for("a BootNotification after the reset", seen_again, 10)
        assert fleet.connections(fleet.a, RESET) == 0


def test_a_command_to_a_charger_nobody_holds_ends_offline(fleet: Fleet) -> None:
    with logs_on_failure(fleet.processes):
        command_id = fleet.ask(NOBODYS, "Reset", type="Hard")
        answer = fleet.outcome(command_id, within_s=OFFLINE_AFTER_S + EXPIRE_EVERY_S + 5)
        assert (answer["status"], answer["response"]) == ("offline", None)
        row = fleet.row(command_id)
        assert row.sent_at is None and row.sent_by is None
        assert row.answered_at is not None
        assert row.answered_at - row.requested_at >= timedelta(seconds=OFFLINE_AFTER_S)


# --- an instance dies --------------------------------------------------------------------------


def test_a_killed_instance_leaves_no_command_open_and_its_chargers_move_on(fleet: Fleet) -> None:
    with logs_on_failure(fleet.processes):
        command_id = fleet.ask(SLOW, "ClearCache")

        def sent() -> CommandRow | None:
            row = fleet.row(command_id)
            return row if row.status == CommandStatus.sent else None

        outstanding = wait_for("the slow charger's command sent", sent, 10, every_s=0.05)
        assert outstanding.sent_by == fleet.instance["A"]
        fleet.a.kill()  # before the charger's answer (SLOW_ANSWER_S after it was sent)
        killed = datetime.now(UTC)
        assert outstanding.sent_at is not None
        assert killed - outstanding.sent_at < timedelta(seconds=SLOW_ANSWER_S)

        answer = fleet.outcome(command_id, within_s=COMMAND_TIMEOUT_S + EXPIRE_EVERY_S + 5)
        assert (answer["status"], answer["response"]) == ("timeout", None)
        ended = fleet.row(command_id)
        assert ended.answered_at is not None
        waited = ended.answered_at - outstanding.sent_at
        print(f"\n[timing] the dead instance's command ended as timeout after {waited}")
        assert timedelta(seconds=COMMAND_TIMEOUT_S) <= waited
        assert waited <= timedelta(seconds=COMMAND_TIMEOUT_S + EXPIRE_EVERY_S + 2)
        wait_for(  # B ended it (A is dead), and says so
            "B's log of the expiry",
            lambda: "commands ended by expiry: 0 offline, 1 timeout" in fleet.b.output(),
            5,
        )

        # A's chargers connect to B, the next URL in their list, and boot there.
        def moved() -> bool:
            return all(
                fleet.connections(fleet.b, cid) == 1 for cid in (DRIVERS_CHARGER, NEIGHBOUR, SLOW)
            )

        wait_for("A's chargers connected to B", moved, 15)
        again = fleet.ask(SLOW, "ClearCache")
        answer = fleet.outcome(again, within_s=SLOW_ANSWER_S + 10)
        assert (answer["status"], answer["response"]) == ("accepted", {"status": "Accepted"})
        assert fleet.row(again).sent_by == fleet.instance["B"]

        with fleet.db.session() as s:
            still_open = s.scalar(
                select(func.count()).where(ChargerCommand.status.in_(ocpp_commands.OPEN))
            )
        assert still_open == 0
        fleet.b.assert_alive()
