"""The dashboard's refresh tick as the browser sends it (``bench run``'s ``poll``): one request,
pages/dashboard.py ``refresh_dashboard``, with what the screen shows of the Active session
banner, the status pills and Next reservation; the answer is what changed (a 204 when nothing
did). The shell's banner callback is asked on page views only (on ``/`` a tick is the
dashboard's own: assets/dashboard.js ``bannerTick``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from components.shell import BANNER_PROPS

if TYPE_CHECKING:
    from bench.run import Call, Driver

# Parts of the callbacks' output keys (bench/run.py ``output_key``): the shell's banner ends
# with the banner's last text (the tick's carries allow_duplicate hashes there); only the tick
# writes the pills' data.
BANNER_KEY_PARTS = ("banner-charger.children..",)
TICK_KEY_PARTS = ("charger-status-data.data",)
NOTHING_SHOWN = (None,) * len(BANNER_PROPS)  # a screen that shows nothing yet: all is sent


def banner_inputs(n: int) -> list[dict[str, Any]]:
    """The shell's banner store, as bannerTick writes it once per page shown."""
    return [{"id": "banner-tick", "property": "data", "value": n}]


def tick_inputs(n: int) -> list[dict[str, Any]]:
    return [{"id": "dashboard-tick", "property": "data", "value": n}]


def tick_state(banner: Any, shown: Any, watch: Any) -> list[dict[str, Any]]:
    """The tick's State: the banner's texts on screen, the pills' digest, Next reservation's
    watch (as the render wrote it)."""
    state = [
        {"id": i, "property": p, "value": v} for (i, p), v in zip(BANNER_PROPS, banner, strict=True)
    ]
    state.append({"id": "charger-status-shown", "property": "data", "value": shown})
    state.append({"id": "next-reservation-watch", "property": "data", "value": watch})
    return state


def remember(driver: Driver, body: Any) -> None:
    """Apply a tick's answer to what the driver's screen shows (the next tick's State)."""
    if not body:
        return
    answer = body["response"]
    for n, (i, p) in enumerate(BANNER_PROPS):
        if p in answer.get(i, {}):
            driver.banner[n] = answer[i][p]
    driver.status_shown = answer.get("charger-status-shown", {}).get("data", driver.status_shown)
    driver.watch = answer.get("next-reservation-watch", {}).get("data", driver.watch)


def poll(driver: Driver) -> list[Call]:
    """One tick of the refresh interval on ``/``: one request."""
    driver.n_intervals += 1
    state = tick_state(driver.banner, driver.status_shown, driver.watch)
    call = driver.callback("tick", tick_inputs(driver.n_intervals), state)
    remember(driver, call.body)
    return [call]


def changed_tick(driver: Driver) -> Call:
    """A tick from a screen that shows nothing yet of the banner nor a digest of the pills:
    every part is sent (the largest answer a tick gives; the driver's screen is left as it
    was)."""
    driver.n_intervals += 1
    state = tick_state(NOTHING_SHOWN, {"digest": "?", "ids": driver.pills}, driver.watch)
    return driver.callback("tick", tick_inputs(driver.n_intervals), state)
