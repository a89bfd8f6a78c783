"""The workers' snapshots (data/chargers/snapshots.py): reused while young, rebuilt in the
background while a little old, rebuilt on the spot when old; one per database; failures never
stick."""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from config import ConfigError, load_config
from data.chargers.snapshots import DERIVED_MAX, FleetSnapshot, WorkerSnapshots
from tests.support.web import TEST_SECRET

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class Builds:
    """A builder that counts its calls, returns ``(n, key)`` and may be told to fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False
        self.done = threading.Event()

    def __call__(self, _session: Session, _now: datetime, key: Hashable) -> tuple[int, Hashable]:
        self.calls += 1
        try:
            if self.fail:
                raise RuntimeError("database went away")
            return self.calls, key
        finally:
            self.done.set()


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    with Session(engine) as s:
        yield s
    engine.dispose()


def _background(builds: Builds, snapshots: WorkerSnapshots[Any]) -> None:
    """Wait for the background build and its hand-over."""
    assert builds.done.wait(5), "no background build started"
    for _ in range(500):
        if not snapshots._refreshing:
            return
        threading.Event().wait(0.01)
    raise AssertionError("the background build never finished")


def test_a_young_snapshot_is_reused_without_building(session: Session) -> None:
    builds = Builds()
    snapshots = WorkerSnapshots(builds)
    first = snapshots.get(session, NOW, max_age_s=2)
    again = snapshots.get(session, NOW + timedelta(seconds=1.9), max_age_s=2)
    assert first == again == (1, None)
    assert builds.calls == 1


def test_a_snapshot_past_its_age_is_served_while_the_next_one_builds(session: Session) -> None:
    builds = Builds()
    snapshots = WorkerSnapshots(builds)
    snapshots.get(session, NOW, max_age_s=2)
    builds.done.clear()
    stale = snapshots.get(session, NOW + timedelta(seconds=3), max_age_s=2)
    assert stale == (1, None)  # the request did not wait
    _background(builds, snapshots)
    assert builds.calls == 2
    # The background build is the one kept (it is stamped with the real clock: take ours to it).
    later = datetime.now(UTC) + timedelta(seconds=0.5)
    assert snapshots.get(session, later, max_age_s=2) == (2, None)
    assert builds.calls == 2


def test_an_old_snapshot_is_rebuilt_by_the_request_itself(session: Session) -> None:
    builds = Builds()
    snapshots = WorkerSnapshots(builds)
    snapshots.get(session, NOW, max_age_s=2)
    assert snapshots.get(session, NOW + timedelta(seconds=4), max_age_s=2) == (2, None)
    assert builds.calls == 2
    assert not snapshots._refreshing


def test_max_age_zero_always_reads_the_database(session: Session) -> None:
    builds = Builds()
    snapshots = WorkerSnapshots(builds)
    assert [snapshots.get(session, NOW, max_age_s=0)[0] for _ in range(3)] == [1, 2, 3]
    assert not snapshots._refreshing


def test_snapshots_are_kept_per_database_and_per_key(session: Session) -> None:
    builds = Builds()
    snapshots = WorkerSnapshots(builds)
    other_engine = create_engine("sqlite://")
    with Session(other_engine) as other:
        assert snapshots.get(session, NOW, max_age_s=2, key=3600) == (1, 3600)
        assert snapshots.get(session, NOW, max_age_s=2, key=60) == (2, 60)
        assert snapshots.get(other, NOW, max_age_s=2, key=3600) == (3, 3600)
        assert snapshots.get(session, NOW, max_age_s=2, key=3600) == (1, 3600)
    other_engine.dispose()


def test_a_failed_background_build_leaves_the_next_request_to_build(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    builds = Builds()
    snapshots = WorkerSnapshots(builds)
    snapshots.get(session, NOW, max_age_s=2)
    builds.fail = True
    builds.done.clear()
    assert snapshots.get(session, NOW + timedelta(seconds=3), max_age_s=2) == (1, None)
    _background(builds, snapshots)
    assert "background snapshot refresh failed" in caplog.text
    builds.fail = False
    # Still the old one, and another background build is tried (none is stuck "running").
    builds.done.clear()
    assert snapshots.get(session, NOW + timedelta(seconds=3), max_age_s=2) == (1, None)
    _background(builds, snapshots)
    assert builds.calls == 3


@pytest.mark.parametrize("value", ["-1", "61", "soon", ""])
def test_a_bad_snapshot_setting_stops_the_start_plainly(value: str) -> None:
    with pytest.raises(ConfigError, match="POLARIS_SNAPSHOT_S"):
        load_config({"SECRET_KEY": TEST_SECRET, "SNAPSHOT_S": value})


def test_the_snapshot_setting_defaults_to_two_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLARIS_SNAPSHOT_S", raising=False)
    assert load_config({"SECRET_KEY": TEST_SECRET})["SNAPSHOT_S"] == 2.0
    assert load_config({"SECRET_KEY": TEST_SECRET, "SNAPSHOT_S": "0.5"})["SNAPSHOT_S"] == 0.5


def _fleet() -> FleetSnapshot:
    return FleetSnapshot(datetime.now(UTC), (), {}, {}, {}, 0, 0)


def test_what_is_derived_from_a_snapshot_is_built_once_and_dies_with_it() -> None:
    builds: list[str] = []

    def build(name: str) -> Any:
        builds.append(name)
        return (name, len(builds))

    fleet = _fleet()
    first = fleet.derive(("pills", "a"), lambda: build("a"))
    assert fleet.derive(("pills", "a"), lambda: build("a")) is first
    assert fleet.derive(("pills", "b"), lambda: build("b")) == ("b", 2)
    assert builds == ["a", "b"]
    assert _fleet().derive(("pills", "a"), lambda: build("a")) == ("a", 3)  # a new snapshot
    for n in range(DERIVED_MAX + 10):  # bounded: odd keys cannot grow it without end
        fleet.derive(n, lambda: build("n"))
    assert len(fleet.derived) == DERIVED_MAX


# --- The dashboard over HTTP: the fleet-wide part comes from the worker's snapshot ----------------


def test_the_dashboard_reads_the_fleet_once_per_snapshot(database_url: str) -> None:
    from bench.run import Driver, counting_statements
    from data.chargers.snapshots import FLEET, SETTINGS
    from data.core.models import Role
    from tests.support.factories import make_charger, make_operator
    from tests.support.web import PASSWORD, add_person, make_app

    app = make_app(database_url, SNAPSHOT_S=60)
    add_person(app, "dana@example.com", ("acc-dana", Role.customer, None))
    now = datetime.now(UTC)
    with app.extensions["polaris_db"].session() as s:
        make_operator(s, timezone="Europe/Berlin")
        bay = make_charger(s, friendly_name="Bay 1", last_seen_at=now).id
        for n in range(2, 6):
            make_charger(s, friendly_name=f"Bay {n}", last_seen_at=now)
    driver = Driver(app, "dana@example.com", PASSWORD)
    driver.load()
    with counting_statements(app) as fresh:
        FLEET.clear()
        SETTINGS.clear()
        driver.load()
    with counting_statements(app) as cached:
        driver.load()
    # Statuses, catalogue and operator: read once a snapshot, not once a request.
    assert len(cached) == len(fresh) - 3
    assert not any("FROM chargers" in statement for statement, _params in cached)
    assert driver.pills[0] == bay

    # Bay 1 falls silent: within the snapshot's age the poll still says Online, and the first
    # poll after a new snapshot says Offline.
    with app.extensions["polaris_db"].session() as s:
        s.execute(
            text("UPDATE chargers SET last_seen_at = :t WHERE id = :id"),
            {"t": now - timedelta(days=1), "id": bay},
        )
    (unchanged,) = driver.poll()  # one request a tick
    assert unchanged.status == 204  # nothing changed as far as the snapshot knows
    FLEET.clear()
    (statuses,) = driver.poll()
    pills = statuses.body["response"]["charger-status-data"]["data"]["pills"]
    assert pills[bay][0] == "Offline"
    app.extensions["polaris_db"].engine.dispose()
